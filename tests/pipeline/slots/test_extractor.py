"""Tests for pipeline.slots.SlotExtractor: every field kind together, the stage shape, call-level input checks.

(Speed is measured outside the tests: a timing assertion fails on a busy machine, not on slow code.)
"""

from __future__ import annotations

import json
import pickle
from datetime import datetime

import pytest

from hotline.core.errors import InvalidInputError
from hotline.pipeline.slots import SlotExtractor, UtteranceSlots

FIELD_KINDS = {
    "phone", "fault_time", "location", "id_verified", "amount", "device", "order_time", "channel", "fault_number",
    "billing_month", "appointment_time", "broadband_account", "sms_content", "charge_item", "sp_name", "roaming_place",
}  # fmt: skip


def test_full_example(ext: SlotExtractor, ref: datetime) -> None:
    slots = ext.extract(
        "我家在杭州市西湖区文三路100号,华为Mate60昨天晚上八点开始没信号,回电幺三八一二三四五六七八",
        reference_time=ref,
    )
    assert set(slots) == FIELD_KINDS
    assert slots["phone"]["value"] == "13812345678"
    assert slots["phone"]["masked"] == "138****5678"
    assert slots["location"]["value"] == "杭州市西湖区文三路100号"
    assert slots["device"]["value"] == "华为Mate60"
    assert slots["fault_time"]["value"] == "昨天晚上八点"
    assert slots["fault_time"]["resolved"] == "2026-11-19T20:00:00+08:00"


def test_nothing_found(ext: SlotExtractor, ref: datetime) -> None:
    assert ext.extract("你好,我想咨询一下", reference_time=ref) == dict.fromkeys(FIELD_KINDS)


def test_every_spec_field_kind_is_extracted(ext: SlotExtractor) -> None:
    from hotline.core.resources import data_path

    asked = {f["name"] for line in data_path("kb", "specs.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip() for f in json.loads(line)["ticket_fields"]}
    assert asked <= set(ext.extract("你好"))


def test_a_billing_complaint_fills_many_fields(ext: SlotExtractor, ref: datetime) -> None:
    slots = ext.extract("上个月话费多扣了我三十八块钱,账单上有个视频彩铃功能费我根本没开过,身份证后四位是1234",
                        reference_time=ref)
    assert (slots["billing_month"]["value"], slots["billing_month"]["resolved"]) == ("上个月", "2026-10")
    assert (slots["amount"]["value"], slots["amount"]["resolved"]) == ("三十八块钱", 38)
    assert slots["charge_item"]["value"] == "视频彩铃功能费"
    assert slots["id_verified"]["resolved"] is True and "1234" not in slots["id_verified"]["value"]
    assert slots["phone"] is None and slots["location"] is None


def test_result_is_a_plain_dict_with_the_turn_beside_it(ext: SlotExtractor, ref: datetime) -> None:
    slots = ext.extract("对,我的号码是13812345678", reference_time=ref)
    assert isinstance(slots, dict) and isinstance(slots, UtteranceSlots)
    assert slots.turn.affirm and slots.turn.phone_role == "own"
    assert json.loads(json.dumps(slots)) == dict(slots)
    again = pickle.loads(pickle.dumps(slots))
    assert again == slots and again.turn == slots.turn


def test_bad_reference_time(ext: SlotExtractor) -> None:
    with pytest.raises(InvalidInputError, match="reference_time must be a datetime or None, got str"):
        ext.extract("昨天", reference_time="2026-11-20")  # type: ignore[arg-type]


def test_traditional_and_full_width_input(ext: SlotExtractor, ref: datetime) -> None:
    slots = ext.extract("我家在杭州市西湖區文三路１００號，昨天晚上開始斷網", reference_time=ref)
    assert slots["location"]["value"] == "杭州市西湖区文三路100号"
    assert slots["fault_time"]["value"] == "昨天晚上"


# -- stage --------------------------------------------------------------------------------------
def test_run_equals_one_by_one(ext: SlotExtractor, ref: datetime) -> None:
    texts = ["华为Mate60昨天晚上八点开始没信号", "回电13812345678", "你好", "我家在杭州市西湖区"]
    out = ext.run(texts, reference_time=ref)
    assert out == {"slots": [ext.extract(t, reference_time=ref) for t in texts]}


def test_run_rejects_a_bare_string(ext: SlotExtractor) -> None:
    with pytest.raises(InvalidInputError, match="list of str"):
        ext.run("昨天")  # type: ignore[arg-type]


def test_warm_up_twice(ext: SlotExtractor) -> None:
    ext.warm_up()
    ext.warm_up()


# -- call level: input checks (the rules are in test_call.py) ---------------------------------------------
def test_extract_call_rejects_a_string(ext: SlotExtractor) -> None:
    with pytest.raises(InvalidInputError, match="turns must be a list of"):
        ext.extract_call("你好")  # type: ignore[arg-type]


@pytest.mark.parametrize("turn", [("customer",), "你好", ("customer", 5)])
def test_extract_call_rejects_a_bad_turn(ext: SlotExtractor, turn: object) -> None:
    with pytest.raises(InvalidInputError, match=r"turns\[1\] must be a \(speaker, text\) pair"):
        ext.extract_call([("customer", "你好"), turn])  # type: ignore[list-item]


def test_extract_call_rejects_an_unknown_speaker(ext: SlotExtractor) -> None:
    with pytest.raises(InvalidInputError, match="speaker must be one of .*'agent', 'customer'.*got 'caller'"):
        ext.extract_call([("caller", "你好")])


def test_extract_call_bad_reference_time(ext: SlotExtractor) -> None:
    with pytest.raises(InvalidInputError, match="reference_time must be a datetime"):
        ext.extract_call([("customer", "昨天")], reference_time="2026-11-20")  # type: ignore[arg-type]


def test_extract_call_of_no_turns(ext: SlotExtractor) -> None:
    assert ext.extract_call([]) == dict.fromkeys(FIELD_KINDS)


# -- what is shown never holds a personal number whole ------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "我家在幸福小区13812345678号,宽带断了",
        "我的手机号是+8613812345678,地址文三路13812345678号",
        "收到短信说请拨打壹叁捌壹贰叁肆伍陆柒捌领奖",
        "宽带账号0571-87654321,装在阳光花园0571-87654321号",
        "那个骗子的号码是138。1234。5678",
        "身份证号110101199003071234,卡号6222 0212 3456 7890扣了我三十八块钱",
    ],
)
def test_no_slot_shows_a_personal_number(ext: SlotExtractor, text: str) -> None:
    from hotline.core.mask import mask_pii
    from hotline.core.normalise import normalise_text

    norm = normalise_text(text)
    said = [(e.value, norm[e.start : e.end]) for e in mask_pii(norm).entities]
    assert said  # the text holds personal numbers
    shown = [s.get("masked") or s["value"] for s in ext.extract(text).values() if s is not None]
    assert shown  # and some slot was filled
    for value, raw in said:
        for s in shown:
            assert value not in str(s) and raw not in str(s), (s, value)
