"""Ticket: slots across turns (customer wins), the masked draft and its questions, the raw dispatch copy, the summary."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from hotline.core.errors import ConflictError
from hotline.pipeline.live.ticket import SlotMemory, dispatch_copy, draft_ticket, summarise

PHONE = {"value": "13812345678", "masked": "138****5678"}
SPEC = SimpleNamespace(dispatch_route="装维", ticket_fields=[
    {"name": "phone", "label": "联系电话", "required": True},
    {"name": "location", "label": "装机地址", "required": True},
    {"name": "fault_time", "label": "故障开始时间", "required": False},
    {"name": "device", "required": True},
])


# -- units ----------------------------------------------------------------------------------------
def test_slot_memory_prefers_customer_turns_then_the_latest():
    slots = SlotMemory()
    slots.record({"phone": {"value": "13900001111"}, "device": None, "location": {"value": ""}}, idx=0,
                 speaker="agent")
    assert slots.best("phone") == ({"value": "13900001111"}, 0) and slots.best("device") is None
    assert slots.best("location") is None  # empty values are not remembered
    slots.record({"phone": PHONE}, idx=1, speaker="customer")
    slots.record({"phone": {"value": "13700002222"}}, idx=2, speaker="agent")
    assert slots.best("phone") == (PHONE, 1)
    assert slots.values(("phone", "device")) == {"phone": "13812345678", "device": None}


def test_draft_lists_fields_missing_and_questions():
    slots = SlotMemory()
    slots.record({"phone": PHONE, "fault_time": {"value": "昨天晚上", "resolved": "2024-04-30T20:00:00+08:00"}},
                 idx=3, speaker="customer")
    ticket = draft_ticket(SPEC, "broadband.cannot_connect", slots, {"location": "杭州市西湖区文三路"})
    fields = {f["name"]: f for f in ticket["fields"]}
    assert fields["phone"] == {"name": "phone", "label": "联系电话", "required": True, "value": "138****5678",
                               "evidence_turn": 3}
    assert fields["location"]["value"] == "杭州市西湖区文三路" and fields["location"]["evidence_turn"] is None
    assert fields["fault_time"]["resolved"] == "2024-04-30T20:00:00+08:00"
    assert fields["device"]["label"] == "device"  # no label: the name
    assert ticket["missing"] == ["device"] and ticket["suggested_questions"] == ["请问您的device是什么？"]
    assert ticket["category"] == "broadband.cannot_connect" and ticket["dispatch_route"] == "装维"
    empty = draft_ticket(None, None, SlotMemory(), {})
    assert empty == {"category": None, "fields": [], "missing": [], "suggested_questions": [], "dispatch_route": None}


def test_dispatch_copy_is_raw_and_resolved():
    slots = SlotMemory()
    slots.record({"phone": PHONE, "fault_time": {"value": "昨天晚上", "resolved": "2024-04-30T20:00:00+08:00"}},
                 idx=0, speaker="customer")
    ticket = draft_ticket(SPEC, "broadband.cannot_connect", slots, {"location": "文三路**号"})
    copy = dispatch_copy("c1", "杭州市", ticket, slots, {"location": "文三路100号"})
    assert copy["fields"] == {"phone": "13812345678", "location": "文三路100号",
                              "fault_time": "2024-04-30T20:00:00+08:00", "device": None}
    assert copy["call_id"] == "c1" and copy["region"] == "杭州市" and copy["dispatch_route"] == "装维"


def test_summary_names_category_request_fields_and_risks():
    state = {
        "category": {"phenomenon": "宽带断网", "service_name": "家庭宽带", "evidence": [1]},
        "turns": [{"idx": 0, "speaker": "agent", "text": "您好"}, {"idx": 1, "speaker": "customer", "text": "宽带断了"}],
        "ticket": {"fields": [{"name": "phone", "label": "联系电话", "value": "138****5678"},
                              {"name": "location", "label": "装机地址", "value": None}], "missing": ["location"]},
        "escalation": {"escalate": True, "reasons": [{"type": "regulator"}, {"type": "media"}, {"type": "media"}]},
        "notices": [{"title": "光缆中断"}],
    }
    assert summarise(state) == ("来电类别：宽带断网（家庭宽带）；客户诉求：宽带断了；联系电话：138****5678；待补充：装机地址；"
                                "升级风险：media、regulator；已播报公告：光缆中断。")
    assert summarise({**state, "category": None, "escalation": {"escalate": False}, "notices": []}).startswith(
        "来电类别：未识别；联系电话")


# -- through the call manager ---------------------------------------------------------------------
def test_ticket_fields_masked_in_state_raw_in_dispatch_copy(mgr, caplog):
    caplog.set_level(logging.DEBUG)
    mgr.start_call("c1", region="杭州市西湖区", started_at="2024-05-01T09:00:00+08:00")
    mgr.add_utterance("c1", "customer", "我家宽带从昨天晚上开始连不上了，光猫亮红灯")
    s = mgr.add_utterance("c1", "customer", "我的电话是13812345678")
    fields = {f.name: f for f in s.ticket.fields}
    assert fields["phone"].value == "138****5678" and fields["phone"].evidence_turn == 1
    assert fields["fault_time"].value and fields["fault_time"].evidence_turn == 0
    assert "phone" not in s.ticket.missing
    assert "location" in s.ticket.missing
    assert any("地" in q or "哪里" in q for q in s.ticket.suggested_questions)
    assert s.ticket.dispatch_route
    assert "13812345678" not in s.model_dump_json()
    end = mgr.end_call("c1")
    assert end.ticket.dispatch_copy["fields"]["phone"] == "13812345678"
    assert "13812345678" not in end.summary and "宽带断网" in end.summary
    assert end.state.status == "ended"
    assert "13812345678" not in caplog.text
    with pytest.raises(ConflictError, match="ended"):
        mgr.add_utterance("c1", "customer", "还有一个问题")
    with pytest.raises(ConflictError, match="already ended"):
        mgr.end_call("c1")


def test_phone_missing_gives_a_chinese_question(mgr):
    mgr.start_call("c1", region="杭州市")
    s = mgr.add_utterance("c1", "customer", "我家宽带连不上了，光猫亮红灯")
    assert "phone" in s.ticket.missing
    assert "请问您的联系电话是多少？" in s.ticket.suggested_questions


def test_customer_turns_win_over_agent_turns(mgr):
    mgr.start_call("c1", region="杭州市")
    mgr.add_utterance("c1", "customer", "我家宽带连不上了，光猫亮红灯，号码13900001111")
    s = mgr.add_utterance("c1", "agent", "好的，回访号码记为13812345678对吗")
    phone = next(f for f in s.ticket.fields if f.name == "phone")
    assert phone.value == "139****1111" and phone.evidence_turn == 0
    assert mgr.slot_values("c1")["phone"] == "13900001111"


def test_customer_data_prefills_the_ticket(mgr):
    mgr.start_call("c1", region="杭州市", customer={"phone": "13812345678"})
    s = mgr.add_utterance("c1", "customer", "我家宽带连不上了，光猫亮红灯")
    phone = next(f for f in s.ticket.fields if f.name == "phone")
    assert phone.value == "138****5678" and s.customer["phone"] == "138****5678"
    assert mgr.end_call("c1").ticket.dispatch_copy["fields"]["phone"] == "13812345678"
