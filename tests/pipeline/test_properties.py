"""Property-based tests (hypothesis) of the text stages: slot extraction (dates at the calendar's ends),
escalation, the call-level slot merge, and the classify / assist stages on a real tiny build.

The inputs are what callers say plus what a broken client sends: huge and impossible numbers and dates
(三千年前, 99999999年, 2月30日, 0000-00-00, 9999-12-31 23:59), lone surrogates, control characters, long runs;
call times anywhere from year 1 to 9999. Nothing may raise, and every value must be valid JSON.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hotline.pipeline.escalation import EscalationDetector
from hotline.pipeline.slots import SlotExtractor
from hotline.pipeline.slots.dates import resolve_time

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_TIMES = st.sampled_from([
    "三千年前", "九千九百九十九年前", "99999999年", "9999年12月31号", "0000年1月1号", "2月30日", "2月29号", "0000-00-00",
    "9999-12-31 23:59", "99999天前", "9999周前", "9999个月前", "一万年前", "最近9999个月", "前9999天", "上上个月31号",
    "明天夜里两点", "大后天晚上十二点", "昨天晚上八点", "下下周日", "去年十二月底", "明年一月初", "国庆节", "春节之后",
    "31号", "三十二月四十五号", "25点61分", "24:00", "刚才", "一个半小时前", "半年前", "几天前", "从上周三开始",
])
_SPEECH = st.sampled_from([
    "我家宽带", "就开始断网了", "光猫亮红灯", "话费扣了三十八块", "号码是幺三八一二三四五六七八", "我要投诉到工信部",
    "师傅上门", "在家", "不行", "对", "不对,最后两位是78", "我在日本东京", "短信上说", "宽带账号是hz123456", "，", "。",
])
_FRAGMENT = st.one_of(
    _TIMES, _TIMES, _SPEECH, _SPEECH,
    st.text(max_size=20),
    st.integers(0xD800, 0xDFFF).map(chr),
    st.integers(0, 0x9F).map(chr),
    st.integers(0, 10**25).map(str),
    st.tuples(st.sampled_from("九零年月号前天1"), st.integers(50, 1500)).map(lambda t: t[0] * t[1]),
)
SPEECH = st.lists(_FRAGMENT, min_size=1, max_size=8).map("".join)
"""Caller speech with time expressions, mixed with huge numbers, surrogates, controls and long runs."""

_OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
CALL_TIMES = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59), timezones=_OFFSETS),
    st.sampled_from([datetime(1, 1, 1, tzinfo=timezone.utc), datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc),
                     datetime(9999, 12, 31, 23, 59, 59)]),  # the limits, aware and naive
)


@pytest.fixture(scope="module")
def ext() -> SlotExtractor:
    e = SlotExtractor()
    e.warm_up()
    return e


@pytest.fixture(scope="module")
def esc() -> EscalationDetector:
    d = EscalationDetector()
    d.warm_up()
    return d


def _check_resolved(slot: dict | None, *, month: bool = False) -> None:
    """A resolved time, where there is one, is ISO 8601 that Python reads back (a billing month: ``YYYY-MM``)."""
    if slot and slot.get("resolved"):
        r = slot["resolved"]
        if month:
            datetime.strptime(r, "%Y-%m")
        else:
            (datetime.fromisoformat(r) if "T" in r else date.fromisoformat(r))


@PROPS
@given(SPEECH, CALL_TIMES)
@example("我家宽带三千年前就开始断网了", datetime(2026, 11, 20, 10, tzinfo=timezone.utc))
@example("昨天晚上八点开始断网", datetime(1, 1, 1, tzinfo=timezone.utc))
@example("明天夜里两点师傅上门", datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc))
@example("国庆节以后就没信号,明年一月初再说", datetime(9999, 12, 31, tzinfo=timezone.utc))
@example("去年十二月底话费扣了三十八块", datetime(2000, 1, 15, tzinfo=timezone.utc))  # a billing month, YYYY-MM
def test_slot_extraction_never_raises_and_is_json(ext: SlotExtractor, text: str, ref: datetime | None) -> None:
    slots = ext.extract(text, reference_time=ref)
    _strict_json(dict(slots))
    for name in ("fault_time", "order_time", "appointment_time", "billing_month"):
        _check_resolved(slots[name], month=name == "billing_month")


@pytest.mark.parametrize("said", ["三千年前", "九千九百年前", "9999年前", "2500年前", "六千年前"])
def test_times_past_the_calendar_are_said_but_not_resolved(said: str) -> None:
    ref = datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
    n_parts, value = resolve_time(said, 0, len(said), ref)
    assert n_parts == 1 and value is None


@pytest.mark.parametrize(("said", "ref"), [
    ("昨天", datetime(1, 1, 1)), ("前年", datetime(2, 6, 1)), ("上个月", datetime(1, 1, 15)),
    ("明天夜里两点", datetime(9999, 12, 31, 12)), ("大后天", datetime(9999, 12, 30)), ("下个月", datetime(9999, 12, 1)),
    ("国庆节", datetime(9999, 12, 31)),
])
def test_relative_times_at_the_calendar_ends_are_unresolved_not_errors(said: str, ref: datetime) -> None:
    assert resolve_time(said, 0, len(said), ref, future=True)[1] is None
    resolve_time(said, 0, len(said), ref)  # looking back as well as ahead


def test_times_inside_the_calendar_still_resolve() -> None:
    ref = datetime(2026, 11, 20, 10)
    assert resolve_time("三年前", 0, 3, ref) == (1, "2023-11-20")
    assert resolve_time("昨天", 0, 2, datetime(1, 1, 2)) == (1, "0001-01-01")


@PROPS
@given(st.lists(st.tuples(st.sampled_from(["customer", "agent"]), SPEECH), min_size=1, max_size=5), CALL_TIMES)
def test_call_level_merge_never_raises(ext: SlotExtractor, turns: list[tuple[str, str]], ref: datetime | None) -> None:
    _strict_json(ext.extract_call(turns, reference_time=ref))


@PROPS
@given(SPEECH)
@example("我要去工信部投诉\ud800!!!!!!" * 50)
def test_escalation_flags_are_well_formed(esc: EscalationDetector, text: str) -> None:
    flags = esc.run([text])["flags"][0]
    assert flags["level"] in ("none", "watch", "high")
    assert flags["escalate"] == (flags["level"] == "high")
    _strict_json(flags)


# -- the model stages, on the tiny build (slow: it trains one) -------------------------------------
MODEL_PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@MODEL_PROPS
@given(st.lists(SPEECH, min_size=1, max_size=3))
@example(["\ud800宽带断网"])
@example(["我家宽带三千年前就开始断网了", "99999999年宽带断了"])
def test_classify_and_assist_never_raise_and_serialise(tiny_pipeline, texts: list[str]) -> None:
    preds = tiny_pipeline.classify(texts, top_k=3)
    assert len(preds) == len(texts)
    for p in preds:
        assert 0.0 <= p.confidence <= 1.0
        _strict_json(p.model_dump(mode="json"))
    for r in tiny_pipeline.run(texts)["results"]:
        _strict_json(r.model_dump(mode="json"))


def _strict_json(value: object) -> None:
    """What the API writes: no NaN or Infinity, and UTF-8 (no lone surrogate)."""
    json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
