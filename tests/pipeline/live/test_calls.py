"""Live call engine: category smoothing and hysteresis, ticket, escalation, bounds, listeners, threads.

Uses the keyword classifier of tests/pipeline/conftest.py (fast, deterministic) and the real slot and
escalation stages; the trained pipeline is exercised in tests/serve/test_live_api.py and test_replay.py.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from hotline.core.errors import ConflictError, InvalidInputError, NotFoundError
from hotline.core.settings import Settings
from hotline.pipeline.live.calls import CallCapacityError, CallManager, turn_weight
from hotline.pipeline.live.incidents import IncidentDetector
from hotline.pipeline.live.notices import NoticeBoard

CST = timezone(timedelta(hours=8))
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=CST)


class Clock:
    def __init__(self, t: datetime = T0) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _manager(pipe, clock, **settings) -> CallManager:
    s = Settings(**{"call_ttl_s": 600, "max_calls": 50, "max_turns_per_call": 100, **settings})
    return CallManager(pipe, settings=s, notices=NoticeBoard(), incidents=IncidentDetector(threshold=3, window_min=30),
                       clock=clock)


@pytest.fixture
def mgr(fake_pipeline, clock) -> CallManager:
    return _manager(fake_pipeline, clock)


def _drain(q: queue.Queue) -> list:
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out


# -- lifecycle ------------------------------------------------------------------------------------
def test_start_get_conflict_and_unknown(mgr):
    state = mgr.start_call("c1", region="杭州市西湖区")
    assert state["status"] == "active" and state["turns"] == [] and state["category"] is None
    assert state["ticket"]["fields"] == [] and state["escalation"]["escalate"] is False
    assert mgr.get("c1")["call_id"] == "c1"
    with pytest.raises(ConflictError, match="c1"):
        mgr.start_call("c1", region="杭州市")
    with pytest.raises(NotFoundError, match="nope"):
        mgr.get("nope")
    with pytest.raises(NotFoundError):
        mgr.add_utterance("nope", "customer", "宽带断了")
    with pytest.raises(InvalidInputError, match="speaker"):
        mgr.add_utterance("c1", "robot", "宽带断了")
    with pytest.raises(InvalidInputError, match="call_id"):
        mgr.start_call("带中文的id", region="杭州市")
    assert mgr.start_call(None, region="杭州市")["call_id"]  # generated


def test_category_from_customer_turns_only(mgr, fake_pipeline):
    mgr.start_call("c1", region="杭州市西湖区")
    s = mgr.add_utterance("c1", "agent", "您好，请问是话费扣费的问题吗？")
    assert s["category"] is None and fake_pipeline.classifier.calls == 0
    s = mgr.add_utterance("c1", "customer", "不是，我家宽带连不上了，光猫一直亮红灯")
    cat = s["category"]
    assert cat["label"] == "broadband.cannot_connect" and cat["evidence"] == [1]
    assert cat["service_name"] == "家庭宽带" and cat["phenomenon"] == "宽带断网"
    assert cat["top"][0]["code"] == "broadband.cannot_connect" and cat["stable"]  # confident from the start
    assert s["spec"]["code"] == "broadband.cannot_connect" and s["checklist"]
    assert s["faqs"][0]["category"] == "broadband.cannot_connect"


def test_filler_turns_change_nothing(mgr, fake_pipeline):
    mgr.start_call("c1", region="杭州市")
    before = mgr.add_utterance("c1", "customer", "我家宽带连不上了，光猫亮红灯")
    n_queries = len(fake_pipeline.retriever.queries)
    for filler in ["嗯", "对的", "好的好的", "嗯嗯，是的"]:
        after = mgr.add_utterance("c1", "customer", filler)
        assert after["category"] == before["category"]
    assert len(fake_pipeline.retriever.queries) == n_queries  # no new retrieval for fillers
    assert turn_weight("嗯", np.array([0.9, 0.05, 0.05])) == 0.0
    assert turn_weight("宽带连不上，光猫亮红灯", np.array([0.9, 0.05, 0.05])) > 0.8


class _ScriptedClassifier:
    """Returns the probability row scripted for each text."""

    def __init__(self, script: dict[str, list[float]], classes: list[str], base) -> None:
        self.script, self.classes, self.taxonomy, self.model = script, classes, base.taxonomy, base.model

    def probabilities(self, texts):
        return np.array([self.script.get(t, [1 / len(self.classes)] * len(self.classes)) for t in texts])


def test_hysteresis_needs_a_margin_or_two_turns_in_a_row(fake_pipeline, clock):
    a, b, c = "broadband.cannot_connect", "broadband.slow", "data.slow"
    fake_pipeline.classifier = _ScriptedClassifier(
        {"宽带完全连不上了啊": [0.8, 0.1, 0.1], "有时候又好像是网速慢": [0.3, 0.6, 0.1]}, [a, b, c], fake_pipeline.classifier)
    mgr = _manager(fake_pipeline, clock)
    mgr.start_call("c1", region="杭州市")
    s = mgr.add_utterance("c1", "customer", "宽带完全连不上了啊")
    assert s["category"]["label"] == a
    for _ in range(3):  # b gains but a stays on top of the smoothed evidence, or leads by less than the margin
        s = mgr.add_utterance("c1", "customer", "有时候又好像是网速慢")
    assert s["category"]["top"][0]["code"] == b  # b leads the smoothed probabilities …
    assert s["category"]["label"] == a and not s["category"]["stable"]  # … but one turn is not enough
    s = mgr.add_utterance("c1", "customer", "嗯")  # fillers do not break the streak
    s = mgr.add_utterance("c1", "customer", "有时候又好像是网速慢")
    assert s["category"]["label"] == b  # second informative turn in a row: switch


def test_a_decisive_turn_switches_at_once(mgr):
    mgr.start_call("c1", region="杭州市")
    mgr.add_utterance("c1", "customer", "网速有点慢")
    s = mgr.add_utterance("c1", "customer", "哦不对，是话费被多扣了，扣费明细里好多扣了钱的项目，话费异常")
    assert s["category"]["label"] == "billing.unexpected_charge"


# -- ticket, escalation ---------------------------------------------------------------------------
def test_ticket_fields_masked_in_state_raw_in_dispatch_copy(mgr, caplog):
    caplog.set_level(logging.DEBUG)
    mgr.start_call("c1", region="杭州市西湖区", started_at="2024-05-01T09:00:00+08:00")
    mgr.add_utterance("c1", "customer", "我家宽带从昨天晚上开始连不上了，光猫亮红灯")
    s = mgr.add_utterance("c1", "customer", "我的电话是13812345678")
    fields = {f["name"]: f for f in s["ticket"]["fields"]}
    assert fields["phone"]["value"] == "138****5678" and fields["phone"]["evidence_turn"] == 1
    assert fields["fault_time"]["value"] and fields["fault_time"]["evidence_turn"] == 0
    assert "phone" not in s["ticket"]["missing"]
    assert "location" in s["ticket"]["missing"]
    assert any("地" in q or "哪里" in q for q in s["ticket"]["suggested_questions"])
    assert s["ticket"]["dispatch_route"]
    assert "13812345678" not in str(s)
    end = mgr.end_call("c1")
    assert end["ticket"]["dispatch_copy"]["fields"]["phone"] == "13812345678"
    assert "13812345678" not in end["summary"] and "宽带断网" in end["summary"]
    assert end["state"]["status"] == "ended"
    assert "13812345678" not in caplog.text
    with pytest.raises(ConflictError, match="ended"):
        mgr.add_utterance("c1", "customer", "还有一个问题")


def test_phone_missing_gives_a_chinese_question(mgr):
    mgr.start_call("c1", region="杭州市")
    s = mgr.add_utterance("c1", "customer", "我家宽带连不上了，光猫亮红灯")
    assert "phone" in s["ticket"]["missing"]
    assert "请问您的联系电话是多少？" in s["ticket"]["suggested_questions"]


def test_customer_turns_win_over_agent_turns(mgr):
    mgr.start_call("c1", region="杭州市")
    mgr.add_utterance("c1", "customer", "我家宽带连不上了，光猫亮红灯，号码13900001111")
    s = mgr.add_utterance("c1", "agent", "好的，回访号码记为13812345678对吗")
    phone = next(f for f in s["ticket"]["fields"] if f["name"] == "phone")
    assert phone["value"] == "139****1111" and phone["evidence_turn"] == 0


def test_customer_data_prefills_the_ticket(mgr):
    mgr.start_call("c1", region="杭州市", customer={"phone": "13812345678"})
    s = mgr.add_utterance("c1", "customer", "我家宽带连不上了，光猫亮红灯")
    phone = next(f for f in s["ticket"]["fields"] if f["name"] == "phone")
    assert phone["value"] == "138****5678" and s["customer"]["phone"] == "138****5678"


def test_escalation_is_sticky_and_names_the_turn(mgr):
    mgr.start_call("c1", region="杭州市")
    mgr.add_utterance("c1", "customer", "我家宽带连不上了")
    s = mgr.add_utterance("c1", "customer", "再不修好我就去工信部投诉你们")
    assert s["escalation"]["escalate"] and s["escalation"]["level"] == "high"
    assert s["escalation"]["reasons"][0]["turn"] == 1 and s["escalation"]["reasons"][0]["type"] == "regulator"
    s = mgr.add_utterance("c1", "customer", "好的谢谢")
    assert s["escalation"]["escalate"] and len(s["escalation"]["reasons"]) == 1
    s = mgr.add_utterance("c1", "agent", "您别去工信部，我们马上处理")  # agent turns are not screened
    assert len(s["escalation"]["reasons"]) == 1


# -- bounds ----------------------------------------------------------------------------------------
def test_turns_are_bounded(fake_pipeline, clock):
    mgr = _manager(fake_pipeline, clock, max_turns_per_call=5)
    mgr.start_call("c1", region="杭州市")
    for i in range(12):
        s = mgr.add_utterance("c1", "agent" if i % 2 else "customer", f"第{i}句，宽带连不上")
    assert [t["idx"] for t in s["turns"]] == [7, 8, 9, 10, 11]


def test_idle_calls_expire(mgr, clock):
    mgr.start_call("old", region="杭州市")
    clock.advance(500)
    mgr.start_call("new", region="杭州市")
    q = mgr.subscribe("old")
    clock.advance(200)
    assert mgr.expire() == ["old"]
    events = _drain(q)
    assert events[-1] is None and events[-2]["data"]["status"] == "expired"
    with pytest.raises(NotFoundError):
        mgr.get("old")
    assert mgr.get("new")["status"] == "active"


def test_capacity_evicts_oldest_idle_then_refuses(fake_pipeline, clock):
    mgr = _manager(fake_pipeline, clock, max_calls=2)
    mgr.start_call("a", region="杭州市")
    clock.advance(120)
    mgr.start_call("b", region="杭州市")
    clock.advance(120)
    mgr.start_call("c", region="杭州市")  # a and b idle for over a minute: a, the oldest, goes
    assert {x["call_id"] for x in mgr.list_calls()} == {"b", "c"}
    mgr.subscribe("b")  # an open stream keeps a call busy however idle it is
    with pytest.raises(CallCapacityError, match="HOTLINE_MAX_CALLS"):
        mgr.start_call("d", region="杭州市")  # c was active just now, b is watched
    assert {x["call_id"] for x in mgr.list_calls()} == {"b", "c"}


# -- listeners, notices, incidents ------------------------------------------------------------------
def test_listeners_get_every_state_and_end(mgr):
    mgr.start_call("c1", region="杭州市")
    q = mgr.subscribe("c1")
    mgr.add_utterance("c1", "customer", "我家宽带连不上了")
    mgr.add_utterance("c1", "agent", "好的")
    mgr.end_call("c1")
    events = _drain(q)
    assert [e["type"] for e in events[:-1]] == ["state", "state", "state"]
    assert events[-1] is None
    assert events[-2]["data"]["status"] == "ended"
    mgr.unsubscribe("c1", q)


def test_notice_is_pushed_and_shown_first(mgr, clock):
    mgr.start_call("c1", region="杭州市西湖区")
    mgr.add_utterance("c1", "customer", "我家宽带连不上了，光猫亮红灯")
    q = mgr.subscribe("c1")
    notice = mgr.notices.add({"title": "西湖区光缆中断", "kind": "outage", "regions": ["杭州市"],
                              "services": ["broadband"], "starts_at": (T0 - timedelta(hours=1)).isoformat(),
                              "ends_at": (T0 + timedelta(hours=5)).isoformat(), "script": "您所在区域光缆抢修中"})
    events = _drain(q)
    assert [e["type"] for e in events] == ["notice", "state"]
    assert events[0]["data"]["id"] == notice["id"]
    state = events[1]["data"]
    assert state["notices"][0]["id"] == notice["id"]
    assert state["replies"][0] == {"source": "notice", "id": notice["id"], "title": "西湖区光缆中断",
                                   "text": "您所在区域光缆抢修中"}
    assert state["replies"][1]["source"] == "faq"
    mgr.notices.add({"title": "宁波计划割接", "kind": "planned", "regions": ["宁波市"], "services": ["broadband"],
                     "starts_at": T0.isoformat(), "ends_at": (T0 + timedelta(hours=1)).isoformat(), "script": "割接"})
    assert _drain(q) == []  # not this call's region


def test_incident_raised_once_and_pushed_to_open_calls(mgr):
    queues = []
    for i in range(3):
        mgr.start_call(f"c{i}", region="杭州市西湖区")
        queues.append(mgr.subscribe(f"c{i}"))
        s = mgr.add_utterance(f"c{i}", "customer", "我家宽带连不上了，光猫亮红灯")
    assert s["incidents"] and s["incidents"][0]["call_ids"] == ["c0", "c1", "c2"]
    first = _drain(queues[0])
    assert [e["type"] for e in first] == ["state", "incident", "state"]
    assert first[1]["data"]["code"] == "broadband.cannot_connect"
    mgr.start_call("c3", region="杭州市西湖区")
    s = mgr.add_utterance("c3", "customer", "宽带断网了，光猫红灯")
    assert len(mgr.incidents.all()) == 1 and mgr.incidents.all()[0]["call_ids"][-1] == "c3"
    assert all(e["type"] != "incident" for e in _drain(queues[0]))  # joining is not a new incident


def test_many_threads_many_calls(mgr):
    errors = []

    def work(k: int) -> None:
        try:
            mgr.start_call(f"t{k}", region="杭州市")
            for i in range(10):
                mgr.add_utterance(f"t{k}", "customer" if i % 2 else "agent", f"第{i}句，我家宽带连不上了")
            mgr.get(f"t{k}")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(len(mgr.get(f"t{k}")["turns"]) == 10 for k in range(16))
