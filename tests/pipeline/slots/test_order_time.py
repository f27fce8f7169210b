"""Tests for pipeline.slots.order_time: when the caller ordered, paid, cancelled or first complained."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("text", "value", "resolved"),
    [
        ("我上周三在营业厅办的套餐", "上周三", "2026-11-11"),  # an order verb after it, a place between
        ("昨天交的话费今天就停机了", "昨天", "2026-11-19"),
        ("办理时间是十月五号", "十月五号", "2026-10-05"),  # a label before it
        ("上个月10号在营业厅办的", "上个月10号", "2026-10-10"),
        ("去年十二月办的宽带", "去年十二月", "2025-12-01"),
        ("我昨天打电话反映过", "昨天", "2026-11-19"),
        ("三天前充值了一百块", "三天前", "2026-11-17"),
        ("前天晚上八点用支付宝充的", "前天晚上八点", "2026-11-18T20:00:00+08:00"),
    ],
)
def test_order_time(slot: Callable[..., Any], text: str, value: str, resolved: str) -> None:
    found = slot(text, "order_time")
    assert (found["value"], found["resolved"]) == (value, resolved)


def test_order_and_fault_time_apart(ext: Any, ref: Any) -> None:
    slots = ext.extract("我上周三在营业厅办的套餐,从昨天开始就上不了网", reference_time=ref)
    assert slots["order_time"]["value"] == "上周三"
    assert slots["fault_time"]["value"] == "昨天"


@pytest.mark.parametrize(
    "text",
    [
        "从上个月开始扣费",  # said as a start: a fault time
        "昨天晚上八点开始没信号",
        "明天去营业厅办",  # ahead of the call
        "我想办个套餐",
    ],
)
def test_no_order_time(slot: Callable[..., Any], text: str) -> None:
    assert slot(text, "order_time") is None
