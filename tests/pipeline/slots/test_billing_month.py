"""Tests for pipeline.slots.billing_month: the month a bill is about, resolved to YYYY-MM."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from hotline.pipeline.slots.billing_month import resolve_month


@pytest.mark.parametrize(
    ("text", "value", "resolved"),
    [
        ("上个月的账单不对", "上个月", "2026-10"),
        ("九月和十月份的话费都多扣了", "九月和十月份", "2026-09"),  # months said together: one value, the first resolved
        ("九月、十月两个月的账单不对", "九月、十月", "2026-09"),
        ("我九月的账单,十月也是", "九月", "2026-09"),
        ("十月份的话费多扣了", "十月份", "2026-10"),
        ("2026年9月扣费", "2026年9月", "2026-09"),
        ("这个月话费怎么这么多", "这个月", "2026-11"),
        ("去年十二月的发票", "去年十二月", "2025-12"),
        ("12月账单", "12月", "2025-12"),  # later than the call's month: last year
        ("我要开上上个月的发票", "上上个月", "2026-09"),
        ("九月份扣了我五十", "九月份", "2026-09"),
        ("账期是10月", "10月", "2026-10"),
    ],
)
def test_billing_month(slot: Callable[..., Any], text: str, value: str, resolved: str) -> None:
    found = slot(text, "billing_month")
    assert (found["value"], found["resolved"]) == (value, resolved)


def test_without_reference_time(slot: Callable[..., Any]) -> None:
    assert slot("上个月的账单", "billing_month", ref=None)["resolved"] is None
    assert slot("2026年9月的账单", "billing_month", ref=None)["resolved"] == "2026-09"


def test_across_the_new_year() -> None:
    ref = datetime(2026, 1, 5, 9, 0)
    assert resolve_month("上个月", ref) == "2025-12"
    assert resolve_month("上上个月", ref) == "2025-11"
    assert resolve_month("一月份", ref) == "2026-01"
    assert resolve_month("25年12月", ref) == "2025-12"


@pytest.mark.parametrize(
    "text",
    [
        "上个月开始没信号",  # no billing cue: a fault time
        "三个月前办的",  # a duration
        "每个月都扣",
        "两个月的话费",
        "十月三号开始断网",
    ],
)
def test_no_billing_month(slot: Callable[..., Any], text: str) -> None:
    assert slot(text, "billing_month") is None
