"""Tests for pipeline.slots.phone: the caller's own number, spoken digits read by hotline.core.numerals; numbers
said as someone else's, a scammer's, a ticket's or the wrong one are not it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("我的号码是13812345678", "13812345678"),
        ("回电138 1234 5678", "13812345678"),
        ("号码138-1234-5678", "13812345678"),
        ("幺三八 一二三四 五六七八", "13812345678"),
        ("打我电话一五九零零零零两两两两", "15900002222"),
        ("号码13812345678,不对,是13912345678", "13912345678"),  # a correction wins
        ("我的13812345678,我老婆的13912345678", "13812345678"),  # someone else's is not it
        ("我老婆的号是13912345678,我的是13812345678", "13812345678"),
        ("我老婆说我的号码是13812345678", "13812345678"),  # the nearest cue decides
        ("是13812345678不是13812345687", "13812345678"),  # the negated one is not it
        ("不是13812345687是13812345678", "13812345678"),
        ("您的号码是一三八一二三四五六七八对吗", "13812345678"),  # the agent's read-back
        ("我的号码13812345678打不出去电话", "13812345678"),  # a fault on the caller's own line
        ("13812345678", "13812345678"),  # a bare number
        ("喂你好我的手机号是幺三八幺二三四五六七八我在万达广场", "13812345678"),  # ASR
        ("我的号码是13812345678,那个骗子的号码是13912345678", "13812345678"),
    ],
)
def test_phone(slot: Callable[..., Any], text: str, value: str) -> None:
    phone = slot(text, "phone")
    assert phone["value"] == value
    assert phone["masked"] == value[:3] + "****" + value[-4:]


def test_phone_evidence_is_masked(slot: Callable[..., Any]) -> None:
    phone = slot("你好,我的手机号是13812345678,从昨天开始没信号,身份证110101199003071234", "phone")
    assert "138****5678" in phone["evidence"]
    assert "13812345678" not in phone["evidence"]
    assert "我的手机号是" in phone["evidence"]


def test_no_phone_for_service_numbers(slot: Callable[..., Any]) -> None:
    assert slot("我打了10086和12300", "phone") is None


@pytest.mark.parametrize(
    "text",
    [
        "我老婆的号是13912345678",  # someone else's
        "这是我妈的手机13712345678",
        "13912345678是我朋友的",  # said after the number
        "那个骗子的号码是13912345678",  # a scammer's: fault_number
        "13912345678打来的说我中奖了",
        "我打13912345678一直打不通",  # the other end of a failing call
        "工单号13912345678",  # a ticket or order number
        "订单号是13912345678你们查一下",
        "宽带账号是13912345678",
        "我的身份证号是110101199003071234",
    ],
)
def test_not_the_callers_phone(slot: Callable[..., Any], text: str) -> None:
    assert slot(text, "phone") is None
