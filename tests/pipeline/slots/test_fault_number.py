"""Tests for pipeline.slots.fault_number: the other number a fault involves (a scammer's, an unreachable one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("那个骗子的号码是13912345678", "13912345678"),
        ("13912345678打来的说我中奖了", "13912345678"),  # a cue after the number
        ("对方号码是13912345678", "13912345678"),
        ("我打13912345678一直打不通", "13912345678"),  # a failure said right after it
        ("我给我妈打电话13712345678打不通", "13712345678"),  # someone else's, failing
        ("刚才那个陌生号码13912345678给我发短信", "13912345678"),
        ("95588打来的电话说我信用卡逾期", "95588"),  # service numbers and landlines too
        ("一个0571-88886666的座机一直骚扰我", "057188886666"),
        # ASR: spoken digits, no punctuation
        ("那个骗子的号码是幺五零零零零一二三四五他冒充客服让我转账", "15000012345"),
    ],
)
def test_fault_number(slot: Callable[..., Any], text: str, value: str) -> None:
    assert slot(text, "fault_number")["value"] == value


def test_mobile_fault_number_is_masked_in_evidence(slot: Callable[..., Any]) -> None:
    found = slot("那个骗子的号码是13912345678", "fault_number")
    assert found["masked"] == "139****5678"
    assert "13912345678" not in found["evidence"] and "139****5678" in found["evidence"]


def test_a_scammers_number_is_not_the_phone(ext: Any, ref: Any) -> None:
    slots = ext.extract("我的号码是13812345678,那个骗子的号码是13912345678", reference_time=ref)
    assert slots["phone"]["value"] == "13812345678"
    assert slots["fault_number"]["value"] == "13912345678"


@pytest.mark.parametrize(
    "text",
    [
        "我的号码是13812345678",
        "我老婆的号是13912345678",  # someone else's, but no fault said
        "工单号13912345678",
        "打了好几次10086都没人解决",
        "身份证号110101199003071234",
    ],
)
def test_no_fault_number(slot: Callable[..., Any], text: str) -> None:
    assert slot(text, "fault_number") is None
