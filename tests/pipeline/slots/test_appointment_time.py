"""Tests for pipeline.slots.appointment_time: when a visit suits, resolved looking ahead."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("text", "value", "resolved"),
    [
        ("师傅明天上午九点到十一点上门可以吗", "明天上午九点到十一点", "2026-11-21T09:00:00+08:00"),
        ("明天不行,后天下午吧", "后天下午", "2026-11-22"),  # 明天 is turned down
        ("后天下午吧,我后天调休在家。", "后天下午", "2026-11-22"),  # the later 后天 is the same time, vaguer
        ("周六上午在家", "周六上午", "2026-11-21"),  # a bare weekday is the next one
        ("下周一可以", "下周一", "2026-11-23"),
        ("今天下午三点能来修吗", "今天下午三点", "2026-11-20T15:00:00+08:00"),
        ("九点半过来吧", "九点半", "2026-11-21T09:30:00+08:00"),  # 九点半 said at ten is tomorrow
        ("宽带账号是零五七一八八八八六六六六师傅明天下午两点能来吗", "明天下午两点", "2026-11-21T14:00:00+08:00"),
        ("国庆节安排师傅上门", "国庆节", "2027-10-01"),
    ],
)
def test_appointment_time(slot: Callable[..., Any], text: str, value: str, resolved: str) -> None:
    found = slot(text, "appointment_time")
    assert (found["value"], found["resolved"]) == (value, resolved)


def test_without_reference_time(slot: Callable[..., Any]) -> None:
    found = slot("明天上午上门", "appointment_time", ref=None)
    assert (found["value"], found["resolved"]) == ("明天上午", None)


@pytest.mark.parametrize(
    "text",
    [
        "昨天师傅说上门结果没来",  # can only be past
        "刚才师傅来过了",
        "今天早上在家的时候断网",  # a past scene
        "你们什么时候能来修",
        "昨天晚上八点开始没信号",
    ],
)
def test_no_appointment_time(slot: Callable[..., Any], text: str) -> None:
    assert slot(text, "appointment_time") is None


def test_a_visit_time_is_not_the_fault_time(ext: Any, ref: Any) -> None:
    slots = ext.extract("周六上午在家", reference_time=ref)
    assert slots["fault_time"] is None and slots["appointment_time"]["value"] == "周六上午"
