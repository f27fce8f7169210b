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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("周六上午", (2, "2026-11-21")),  # a bare weekday: the next one
        ("周五", (1, "2026-11-20")),  # today counts
        ("九点", (1, "2026-11-21T09:00:00+08:00")),  # earlier today: tomorrow
        ("下午三点", (2, "2026-11-20T15:00:00+08:00")),
        ("明天上午十点", (3, "2026-11-21T10:00:00+08:00")),
        ("下周一", (1, "2026-11-23")),
        ("11月3号", (1, "2027-11-03")),  # a date gone by: next year
        ("下个月5号", (1, "2026-12-05")),
        ("国庆节", (1, "2027-10-01")),
        ("春节", (1, "2027-02-06")),
    ],
)
def test_resolve_time_ahead(ref: datetime, text: str, expected: tuple[int, str | None]) -> None:
    assert resolve_time(text, 0, len(text), ref, future=True) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("三四天前", (1, "2026-11-16")),  # a range counts from its far end
        ("两三个小时前", (1, "2026-11-20T07:00:00+08:00")),
        ("去年十二月五号", (1, "2025-12-05")),
        ("上个月10号", (1, "2026-10-10")),
        ("国庆节", (1, "2026-10-01")),
        ("中秋节", (1, "2026-09-25")),
        ("刚才", (1, "2026-11-20T10:00:00+08:00")),
    ],
)
def test_resolve_time_more_forms(ref: datetime, text: str, expected: tuple[int, str | None]) -> None:
    assert resolve_time(text, 0, len(text), ref) == expected


def test_relative_without_reference_is_unresolved() -> None:
    assert resolve_time("三天前", 0, 3, None) == (1, None)
