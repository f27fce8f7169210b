"""Tests for pipeline.slots.dates.resolve_time: dates, periods and clocks resolved against the call time."""

from __future__ import annotations

from datetime import datetime

import pytest

from hotline.pipeline.slots.dates import resolve_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("昨天晚上八点", (3, "2026-11-19T20:00:00+08:00")),
        ("十五天前", (1, "2026-11-05")),  # positional count, read by hotline.core.numerals
        ("二〇二五年三月一日", (1, "2025-03-01")),  # year read digit by digit
        ("十二月五号", (1, "2025-12-05")),
        ("两个小时前", (1, "2026-11-20T08:00:00+08:00")),  # 两 = 2
        ("十十天前", (1, None)),  # the grammar admits it, but it is no number: unresolved, not guessed
    ],
)
def test_resolve_time(ref: datetime, text: str, expected: tuple[int, str | None]) -> None:
    assert resolve_time(text, 0, len(text), ref) == expected


def test_resolve_time_on_a_span(ref: datetime) -> None:
    text = "从昨天晚上八点开始"
    assert resolve_time(text, 1, len(text) - 2, ref) == (3, "2026-11-19T20:00:00+08:00")


@pytest.mark.parametrize("text", ["你好", "二十五点"])  # nothing time-like; an hour past 24
def test_resolve_time_none(ref: datetime, text: str) -> None:
    assert resolve_time(text, 0, len(text), ref) is None


def test_relative_without_reference_is_unresolved() -> None:
    assert resolve_time("三天前", 0, 3, None) == (1, None)
