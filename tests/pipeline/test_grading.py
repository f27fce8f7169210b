"""Complaint grading: the rules, the time limits of the shipped specs, and the same grade in the live ticket."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hotline.core.results import ComplaintGrade, TicketDraft
from hotline.core.settings import Settings
from hotline.index.kb import load_specs
from hotline.pipeline.grading import grade_call, is_vip, time_limit_hours

CST = timezone(timedelta(hours=8))
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=CST)
THREAT = {"escalate": True, "level": "high", "reasons": [{"type": "regulator", "match": "工信部", "turn": 3}]}
ANGER = {"escalate": True, "level": "high", "reasons": [{"type": "anger", "match": "气死", "turn": 1},
                                                         {"type": "anger", "match": "太过分", "turn": 1}]}
WATCH = {"escalate": False, "level": "watch", "reasons": [{"type": "churn", "match": "携号转网", "turn": 2}]}


@pytest.mark.parametrize(("kwargs", "grade", "reasons"), [
    ({}, ComplaintGrade.ORDINARY, []),
    ({"escalation": WATCH}, ComplaintGrade.ORDINARY, []),  # a churn threat alone only alerts the agent
    ({"escalation": THREAT}, ComplaintGrade.URGENT, ["threat:regulator"]),
    ({"escalation": ANGER}, ComplaintGrade.IMPORTANT, ["escalated"]),
    ({"repeat": True}, ComplaintGrade.IMPORTANT, ["repeat"]),
    ({"mass_incident": True}, ComplaintGrade.IMPORTANT, ["mass_incident"]),
    ({"customer": {"vip": "true"}}, ComplaintGrade.IMPORTANT, ["vip"]),
    ({"customer": {"level": "钻石卡"}, "repeat": True}, ComplaintGrade.URGENT, ["repeat", "vip"]),
    ({"escalation": ANGER, "mass_incident": True}, ComplaintGrade.URGENT, ["escalated", "mass_incident"]),
])
def test_grade_rules(kwargs, grade, reasons):
    g = grade_call(**kwargs)
    assert (g.grade, g.reasons) == (grade, reasons)


def test_vip_from_customer_metadata():
    assert is_vip({"vip": True}) and is_vip({"vip": "是"}) and is_vip({"level": "VIP"}) and is_vip({"level": "金卡客户"})
    assert is_vip({"star": "5"}) and is_vip({"level": "七星级"}) and is_vip({"level": "5星"})
    assert not is_vip({"vip": "false"}) and not is_vip({"level": "三星"}) and not is_vip({"level": "普通"})
    assert not is_vip({"phone": "13812345678"}) and not is_vip({})


def test_every_shipped_spec_states_a_time_limit_or_needs_no_dispatch():
    for code, spec in load_specs().items():
        hours = time_limit_hours(spec.dispatch_route)
        if "无需派单" in spec.dispatch_route:
            assert hours is None, code
        else:
            assert hours in (2.0, 24.0, 48.0), (code, spec.dispatch_route)
    assert time_limit_hours("派单至装维调度中心，二十四小时内上门") == 24.0
    assert time_limit_hours("3个工作日内回复") == 72.0 and time_limit_hours(None) is None


def test_deadline_is_the_start_plus_the_first_limit_of_the_route():
    route = load_specs()["account.suspension_dispute"].dispatch_route  # 24小时内核实…；确属误停的2小时内复机
    g = grade_call(dispatch_route=route, started_at=T0)
    assert (g.time_limit_h, g.deadline) == (24.0, "2024-05-02T09:00:00+08:00")
    assert grade_call(dispatch_route=route).deadline is None
    assert grade_call(dispatch_route=route, started_at=datetime(9999, 12, 31, 23, tzinfo=CST)).deadline is None


def test_the_live_ticket_draft_carries_grade_and_deadline(fake_pipeline):
    from hotline.pipeline.live.incidents import IncidentDetector
    from hotline.pipeline.live.notices import NoticeBoard
    from hotline.pipeline.live.registry import CallManager

    mgr = CallManager(fake_pipeline, settings=Settings(), notices=NoticeBoard(), incidents=IncidentDetector(),
                      clock=lambda: T0)
    mgr.start_call("c1", region="杭州市西湖区", started_at=T0, customer={"level": "金卡"})
    s = mgr.add_utterance("c1", "customer", "我家宽带连不上了，光猫亮红灯，断网了")
    assert s.category.label == "broadband.cannot_connect"
    assert (s.ticket.grade, s.ticket.grade_reasons) == (ComplaintGrade.IMPORTANT, ["vip"])
    assert s.ticket.time_limit_h == 24.0 and s.ticket.deadline == (T0 + timedelta(hours=24)).isoformat()
    s = mgr.add_utterance("c1", "customer", "再修不好我就去工信部投诉你们")
    assert s.ticket.grade is ComplaintGrade.URGENT and s.ticket.grade_reasons == ["threat:regulator", "vip"]
    end = mgr.end_call("c1")
    assert end.ticket.grade is ComplaintGrade.URGENT and end.ticket.deadline == s.ticket.deadline
    assert TicketDraft.model_json_schema()["properties"]["grade"]  # the API documents it
