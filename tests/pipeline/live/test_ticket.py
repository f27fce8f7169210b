"""Ticket: slots across turns (read-backs, confirmations, corrections), the masked draft and its questions, the raw
dispatch copy, the summary; a live call and its replay agree."""

from __future__ import annotations

import logging
from datetime import datetime
from types import SimpleNamespace

import pytest

from hotline.core.errors import ConflictError
from hotline.pipeline.live.ticket import SlotMemory, dispatch_copy, draft_ticket, summarise
from hotline.pipeline.slots import SlotExtractor

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
    assert slots.best("phone") == ({"value": "13900001111", "evidence_turn": 0, "status": "unconfirmed"}, 0)
    assert slots.best("device") is None
    assert slots.best("location") is None  # empty values are not remembered
    slots.record({"phone": PHONE}, idx=1, speaker="customer")
    slots.record({"phone": {"value": "13700002222"}}, idx=2, speaker="agent")  # a read-back nobody agreed to
    # the caller's number, given over the agent's earlier one
    assert slots.best("phone") == ({**PHONE, "evidence_turn": 1, "status": "corrected"}, 1)
    assert slots.values(("phone", "device")) == {"phone": "13812345678", "device": None}


def test_slot_memory_applies_read_backs_and_corrections():
    ext, slots = SlotExtractor(), SlotMemory()
    for idx, (speaker, text) in enumerate([("customer", "我的号码是13812345687"),
                                           ("agent", "您的号码是13812345687对吗"),
                                           ("customer", "不对,是5678不是5687")]):
        slots.record(ext.extract(text), idx, speaker)
    slot, turn = slots.best("phone")
    assert (slot["value"], slot["masked"], slot["status"], turn) == ("13812345678", "138****5678", "corrected", 2)
    assert slots.values(("phone",)) == {"phone": "13812345678"}


def test_draft_shows_new_field_kinds_and_dispatch_gets_their_readings():
    spec = SimpleNamespace(dispatch_route="计费", ticket_fields=[
        {"name": "phone", "label": "联系电话", "required": True},
        {"name": "id_verified", "label": "是否已核实身份", "required": True},
        {"name": "amount", "label": "争议金额", "required": True},
        {"name": "billing_month", "label": "账期", "required": True},
        {"name": "charge_item", "label": "扣费项目名称", "required": False},
    ])
    ext, slots = SlotExtractor(), SlotMemory()
    ref = datetime.fromisoformat("2026-11-20T10:00:00+08:00")
    slots.record(ext.extract("上个月话费多扣了我三十八块钱,账单上有个视频彩铃功能费", reference_time=ref), 0, "customer")
    slots.record(ext.extract("好的,身份核实不通过", reference_time=ref), 1, "agent")
    ticket = draft_ticket(spec, "billing.unexpected_charge", slots, {})
    fields = {f["name"]: f for f in ticket["fields"]}
    assert (fields["amount"]["value"], fields["amount"]["resolved"]) == ("三十八块钱", "38")
    assert (fields["billing_month"]["value"], fields["billing_month"]["resolved"]) == ("上个月", "2026-10")
    assert fields["id_verified"]["resolved"] == "false" and fields["id_verified"]["evidence_turn"] == 1
    assert ticket["missing"] == ["phone"]
    copy = dispatch_copy("c9", "杭州市", ticket, slots, {})
    assert copy["fields"] == {"phone": None, "id_verified": False, "amount": 38, "billing_month": "2026-10",
                              "charge_item": "视频彩铃功能费"}


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
    assert empty == {"category": None, "fields": [], "missing": [], "suggested_questions": [], "dispatch_route": None,
                     "grade": "普通", "grade_reasons": [], "time_limit_h": None, "deadline": None}


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


_CORRECTED_CALL = [
    ("customer", "我家宽带连不上了,光猫亮红灯"),
    ("agent", "请问您的联系电话是多少"),
    ("customer", "幺三八幺二三四五六八七"),
    ("agent", "您的号码是幺三八幺二三四五六八七对吗"),
    ("customer", "不对不对最后两位是七八"),
    ("customer", "我老婆的号是13912345678"),
]


def test_live_call_takes_the_correction_and_agrees_with_replay(mgr):
    started = "2024-05-01T09:00:00+08:00"
    mgr.start_call("c1", region="杭州市", started_at=started)
    for speaker, text in _CORRECTED_CALL:
        s = mgr.add_utterance("c1", speaker, text)
    names = ("phone", "fault_number", "device", "fault_time")
    live = mgr.slot_values("c1", names)
    assert live["phone"] == "13812345678"  # the correction, not the misheard digits or the wife's number
    replay = SlotExtractor().extract_call(_CORRECTED_CALL, reference_time=datetime.fromisoformat(started))
    assert live == {n: replay[n]["value"] if replay[n] else None for n in names}
    phone = next((f for f in s.ticket.fields if f.name == "phone"), None)
    if phone is not None:  # the shown category's spec asks for it
        assert phone.value == "138****5678" and phone.evidence_turn == 4
    assert "13812345678" not in s.model_dump_json() and "13912345678" not in s.model_dump_json()
    end = mgr.end_call("c1")
    if "phone" in end.ticket.dispatch_copy["fields"]:
        assert end.ticket.dispatch_copy["fields"]["phone"] == "13812345678"


def test_a_read_back_the_caller_agrees_to_wins_in_a_live_call(mgr):
    mgr.start_call("c1", region="杭州市")
    mgr.add_utterance("c1", "customer", "我家宽带连不上了,光猫亮红灯,号码13900001111")
    mgr.add_utterance("c1", "agent", "好的,回访号码记为13812345678对吗")
    s = mgr.add_utterance("c1", "customer", "对的")
    phone = next(f for f in s.ticket.fields if f.name == "phone")
    assert phone.value == "138****5678" and phone.evidence_turn == 1
    assert mgr.slot_values("c1")["phone"] == "13812345678"


def test_a_number_inside_an_address_is_masked_in_the_draft_and_raw_in_the_dispatch_copy():
    slots = SlotMemory()
    slots.record(SlotExtractor().extract("我家在幸福小区13812345678号,宽带连不上"), idx=0, speaker="customer")
    ticket = draft_ticket(SPEC, "broadband.cannot_connect", slots, {})
    fields = {f["name"]: f for f in ticket["fields"]}
    assert fields["location"]["value"] == "幸福小区138****5678号"
    assert fields["phone"]["value"] == "138****5678"
    assert "13812345678" not in str(ticket) and "13812345678" not in summarise(
        {"category": None, "turns": [], "ticket": ticket, "escalation": {"escalate": False}, "notices": []})
    copy = dispatch_copy("c1", "杭州市", ticket, slots, {})
    assert copy["fields"]["location"] == "幸福小区13812345678号" and copy["fields"]["phone"] == "13812345678"


def test_every_number_form_stays_out_of_the_live_state(mgr, caplog):
    caplog.set_level(logging.DEBUG)
    mgr.start_call("c1", region="杭州市西湖区", customer={"phone": "+86 139 0000 1111"})
    mgr.add_utterance("c1", "customer", "我家宽带从昨天晚上开始连不上了，光猫亮红灯")
    said = ["我的电话是+8613812345678", "家里座机0571-87654321也打不通", "地址是幸福小区壹叁捌壹贰叁肆伍陆柒捌号",
            "身份证号11010119900307123X", "卡号6 2 2 2 0 2 1 2 3 4 5 6 7 8 9 0"]
    for text in said:
        s = mgr.add_utterance("c1", "customer", text)
    state = s.model_dump_json()
    for raw in ("13812345678", "87654321", "11010119900307123X", "6222021234567890", "13900001111"):
        assert raw not in state.replace(" ", "").replace("-", ""), raw
        assert raw not in caplog.text
    end = mgr.end_call("c1")
    assert "13812345678" not in end.summary and "13812345678" not in end.state.model_dump_json()
    assert end.ticket.dispatch_copy["fields"]["phone"] == "13812345678"
