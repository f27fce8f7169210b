"""Time expressions in an utterance, found once and shared by the fault, order and appointment time fields.

A mention is the expression as said, with a leading 从/自从 and a trailing 开始/以来/之后 … kept
(``从国庆节之后``), and a range tail (``明天上午九点到十一点``); its core (the date, period and clock) is what
:func:`~hotline.pipeline.slots.dates.resolve_time` reads.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._lexicon import alternation, words
from hotline.pipeline.slots.dates import (
    CLOCK,
    CLOCK_ALONE,
    NUMERAL_CHARS,
    PERIOD,
    date_grammar,
    resolve_time,
)

__all__ = ["TimeMention", "times", "find_times", "is_after", "is_before", "after_today", "order_cued",
           "appointment_cued", "restore_cued", "rejected"]

_STRONG_SUFFIXES = frozenset({"开始", "以来", "起", "之后", "以后"})
_START_ONLY_SUFFIXES = frozenset({"开始", "以来", "起"})  # mark a start without changing the time (之后 does)


@dataclass
class TimeMention:
    """One time expression: offsets on the normalised text and its readings.

    Attributes:
        start: Offset of the expression as said (从 included).
        end: Offset one past it (开始, the range tail included).
        core: ``(start, end)`` of the date/period/clock itself.
        value: The expression as said.
        n_parts: How many of date, period and clock were said (a more specific one wins).
        since: Said as a start (从…, …开始, …以来, …之后).
        future_marked: Said with a word only the future has (明天, 下周).
        past: The ISO reading looking back (a fault or an order), or None.
        onset: The expression without the words that only mark it as a start (从前天晚上开始 → 前天晚上;
            之后, 左右 and a range tail stay).
    """

    start: int
    end: int
    core: tuple[int, int]
    value: str
    n_parts: int
    since: bool
    future_marked: bool
    past: str | None
    onset: str = ""
    _future: dict[bool, str | None] = field(default_factory=dict, repr=False)

    def future(self, u: Utterance) -> str | None:
        """The ISO reading looking ahead (an appointment), or None."""
        if True not in self._future:
            parsed = resolve_time(u.norm, self.core[0], self.core[1], u.ref, future=True)
            self._future[True] = parsed[1] if parsed else None
        return self._future[True]


def _strip_names(pattern: str) -> str:
    """The same regex without named groups, so it can appear more than once in a larger pattern."""
    return re.sub(r"\(\?P<\w+>", "(?:", pattern)


@functools.cache
def _time_re() -> tuple[re.Pattern[str], re.Pattern[str]]:
    date_s, period_s, clock_s = _strip_names(date_grammar()), _strip_names(PERIOD), _strip_names(CLOCK)
    holiday_firsts = "".join(sorted({name[0] for entry in words("time", "holidays").values()
                                     if isinstance(entry, dict) for name in entry["names"]}))
    # Every character a time expression can start with, not inside a number (13812345678, 一三八…): lets
    # `re` skip other positions fast.
    digit = rf"[\d{NUMERAL_CHARS}幺]"
    firsts = f"从自打就刚方大前昨今明后上下这本周星礼几半去最近过凌清早中傍晚夜深白一{NUMERAL_CHARS}"
    first = rf"(?!(?<={digit}){digit})(?=[{firsts}\d{re.escape(holiday_firsts)}])"
    since = r"(?P<since>从|自从|自打|打从|自)?"
    suffix = r"(?P<suffix>开始|以来|起|之后|以后|左右|前后|之间|期间|那会儿?|的时候|时候)?"  # 时候: after 的 (昨天的时候)
    range_tail = rf"(?P<range>(?:到|至|~|-|—)(?:{period_s})?(?:{clock_s}))?"
    pattern = re.compile(
        rf"{first}{since}(?:(?:{date_s})的?\s?(?:{period_s})?\s?(?:{clock_s})?"
        rf"|(?:{period_s})\s?(?:{clock_s})?|(?:{CLOCK_ALONE})){range_tail}{suffix}"
    )
    future_words = re.compile(alternation(words("time", "future_markers")))
    return pattern, future_words


def times(u: Utterance) -> list[TimeMention]:
    """:func:`find_times` of ``u``, computed once per utterance."""
    found = u.cache.get("times")
    if found is None:
        found = u.cache["times"] = find_times(u)
    return found


def find_times(u: Utterance) -> list[TimeMention]:
    """Every time expression in ``u`` that reads as one, in order; those inside a masked number are skipped."""
    pattern, future_words = _time_re()
    out: list[TimeMention] = []
    norm = u.norm
    for m in pattern.finditer(norm):
        if not m.group() or u.has_pii(m.start(), m.end()):
            continue
        start = m.start() + len(m.group("since") or "")
        stop = m.end()
        if norm[stop - 1] == "的" and not m.group("suffix") and not m.group("range"):
            stop -= 1  # 这个月的套餐: 的 belongs to what follows
        end = stop - len(m.group("suffix") or "") - len(m.group("range") or "")
        parsed = resolve_time(norm, start, end, u.ref)
        if parsed is None:
            continue
        suffix = m.group("suffix")
        onset_end = stop - len(suffix) if suffix in _START_ONLY_SUFFIXES else stop
        out.append(TimeMention(
            start=m.start(), end=stop, core=(start, end), value=norm[m.start() : stop], n_parts=parsed[0],
            since=bool(m.group("since")) or suffix in _STRONG_SUFFIXES,
            future_marked=future_words.search(norm, start, end) is not None, past=parsed[1],
            onset=norm[start:onset_end].strip() or norm[m.start() : stop],
        ))
    return out


def _as_datetime(iso: str, ref: datetime) -> tuple[datetime | date, datetime | date]:
    """(the ISO value, ref) in comparable form: both dates, or both datetimes."""
    if "T" in iso:
        when = datetime.fromisoformat(iso)
        if (when.tzinfo is None) != (ref.tzinfo is None):
            when = when.replace(tzinfo=ref.tzinfo)
        return when, ref
    return date.fromisoformat(iso), ref.date()


def is_after(iso: str | None, ref: datetime | None) -> bool:
    """Whether ``iso`` lies after the call time (a date: after its day)."""
    if iso is None or ref is None:
        return False
    when, now = _as_datetime(iso, ref)
    return when > now  # type: ignore[operator]


def after_today(iso: str | None, ref: datetime | None) -> bool:
    """Whether the day of ``iso`` comes after the call's day (明天, 这周六 said on a Friday)."""
    if iso is None or ref is None:
        return False
    return date.fromisoformat(iso[:10]) > ref.date()


def is_before(iso: str | None, ref: datetime | None) -> bool:
    """Whether ``iso`` lies before the call time (a date: before its day)."""
    if iso is None or ref is None:
        return False
    when, now = _as_datetime(iso, ref)
    return when < now  # type: ignore[operator]


@functools.cache
def _cue_res() -> dict[str, re.Pattern[str]]:
    return {
        "order": re.compile(alternation(words("time", "order_verbs"))),
        "order_label": re.compile(rf"(?:{alternation(words('time', 'order_labels'))})(?:是|为|在|大概是|应该是)?[:：]?\s?$"),
        "appointment": re.compile(alternation(words("time", "appointment"))),
        "rejected": re.compile(alternation(words("time", "rejected"))),
        "restore": re.compile(rf"(?:前|之前|以前|左右|前后|之内|内|以内)?(?:就|能|会|可以|应该|才)?"
                              rf"(?:{alternation(words('time', 'restore_verbs'))})"),
        "estimate": re.compile(alternation(words("time", "estimate_words"))),
    }


_ORDER_WINDOW = 10
_APPOINTMENT_WINDOW = 10


def order_cued(u: Utterance, m: TimeMention) -> bool:
    """Said as when something was done: an order verb right after it (上周三办的, 昨天交了话费) or a label before
    it (办理时间是…); not a start (从上周开始 is a fault time)."""
    if m.since:
        return False
    res = _cue_res()
    if res["order_label"].search(u.norm, u.clause_start(m.start, 8), m.start):
        return True
    hi = u.clause_end(m.end, _ORDER_WINDOW)
    verb = res["order"].search(u.norm, m.end, hi)
    if verb is None:
        return False
    # 上个月…办的 with no other time in between
    return not any(m.end <= o.start < verb.start() for o in times(u))


def appointment_cued(u: Utterance, m: TimeMention) -> bool:
    """An appointment word in the same clause (师傅明天上午上门, 明天下午在家)."""
    lo, hi = u.clause_start(m.start, _APPOINTMENT_WINDOW), u.clause_end(m.end, _APPOINTMENT_WINDOW)
    return _cue_res()["appointment"].search(u.norm, lo, hi) is not None


def restore_cued(u: Utterance, m: TimeMention) -> bool:
    """Said as when service comes back (预计上午十点前恢复, 两点左右能修好), not when something began."""
    cues = _cue_res()
    if cues["restore"].match(u.norm, m.end) is not None:
        return True
    return cues["estimate"].search(u.norm, u.clause_start(m.start, 6), m.start) is not None


def rejected(u: Utterance, m: TimeMention) -> bool:
    """Turned down right after it was said (明天不行, 周六没空)."""
    return _cue_res()["rejected"].search(u.norm, m.end, min(len(u.norm), m.end + 5)) is not None
