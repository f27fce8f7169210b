"""Tests for pipeline.slots.phone: the callback phone, spoken digits read by hotline.core.numerals."""

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
        ("我的13812345678,我老婆的13912345678", "13812345678"),  # otherwise the first one
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
