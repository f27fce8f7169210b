"""Tests for pipeline.slots.fault_time: when the fault began, resolved against the call time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("text", "value", "resolved"),
    [
        ("昨天晚上八点开始没信号", "昨天晚上八点", "2026-11-19T20:00:00+08:00"),
        ("八点多就没网了", "八点多", "2026-11-20T08:00:00+08:00"),  # a Chinese-numeral clock alone, with 多
        ("七点不到就断了", "七点不到", "2026-11-20T07:00:00+08:00"),
        ("九点零几分", "九点零几分", "2026-11-20T09:00:00+08:00"),
        ("就七点过一点开始不行", "七点过一点", "2026-11-20T07:00:00+08:00"),
        ("九点多的时候", "九点多的时候", "2026-11-20T09:00:00+08:00"),
        ("昨晚八点半断的", "昨晚八点半", "2026-11-19T20:30:00+08:00"),
        ("昨晚十点二十几分断的", "昨晚十点二十几分", "2026-11-19T22:20:00+08:00"),  # twenty-odd minutes past
        ("今天早上7点开始", "今天早上7点", "2026-11-20T07:00:00+08:00"),
        ("前天", "前天", "2026-11-18"),
        ("大前天", "大前天", "2026-11-17"),
        ("前天夜里两点", "前天夜里两点", "2026-11-19T02:00:00+08:00"),
        ("三天前", "三天前", "2026-11-17"),
        ("两个小时前", "两个小时前", "2026-11-20T08:00:00+08:00"),
        ("半个月前", "半个月前", "2026-11-05"),
        ("三星期前开始的", "三星期前", "2026-10-30"),
        ("上周三", "上周三", "2026-11-11"),
        ("周五", "周五", "2026-11-20"),
        ("周六", "周六", "2026-11-14"),  # a bare weekday later than today means last week
        ("上个礼拜天晚上", "上个礼拜天晚上", "2026-11-15"),
        ("从上周开始", "上周", "2026-11-09"),
        ("上个月", "上个月", "2026-10-01"),
        ("最近一个礼拜都不行", "最近一个礼拜", "2026-11-13"),
        ("这两天", "这两天", "2026-11-18"),
        ("11月3号", "11月3号", "2026-11-03"),
        ("11月20号下午三点", "11月20号下午三点", "2026-11-20T15:00:00+08:00"),
        ("十二月五号", "十二月五号", "2025-12-05"),  # a future date means last year
        ("2026年11月3日开始的", "2026年11月3日", "2026-11-03"),
        ("二〇二五年三月一日", "二〇二五年三月一日", "2025-03-01"),
        ("20号那天", "20号", "2026-11-20"),
        ("下午3点半", "下午3点半", "2026-11-19T15:30:00+08:00"),  # later than now today → yesterday
        ("凌晨两点", "凌晨两点", "2026-11-20T02:00:00+08:00"),
        ("8:30左右", "8:30左右", "2026-11-20T08:30:00+08:00"),
        ("中午一点", "中午一点", "2026-11-19T13:00:00+08:00"),
        # complete as said, resolved where possible
        ("前天傍晚六点多就没信号了", "前天傍晚六点多", "2026-11-18T18:00:00+08:00"),
        ("刚才突然断了", "刚才", "2026-11-20T10:00:00+08:00"),
        ("刚刚", "刚刚", "2026-11-20T10:00:00+08:00"),
        ("上周三开始打不出去", "上周三", "2026-11-11"),
        ("从国庆节之后就一直这样", "国庆节之后", "2026-10-01"),
        ("过年以后就不行了", "过年以后", "2026-02-17"),  # lunar holidays from the lexicon's table
        ("一个多小时前开始的", "一个多小时前", "2026-11-20T09:00:00+08:00"),
        ("一个半小时前", "一个半小时前", "2026-11-20T08:30:00+08:00"),
        ("十多天前", "十多天前", "2026-11-10"),
        ("大概三四天前", "三四天前", "2026-11-16"),  # a range: its earlier end
        ("昨天晚上六七点的时候", "昨天晚上六七点的时候", "2026-11-19T18:00:00+08:00"),
        ("昨天晚上十点多钟", "昨天晚上十点多钟", "2026-11-19T22:00:00+08:00"),
        ("今天一大早就断了", "今天一大早", "2026-11-20"),
        ("上周末开始", "上周末", "2026-11-14"),
        ("从上个月中旬开始", "上个月中旬", "2026-10-11"),
        ("这个月初开始", "这个月初", "2026-11-01"),
        ("上个月底", "上个月底", "2026-10-31"),
        ("华为Mate60昨天晚上八点开始没信号", "昨天晚上八点", "2026-11-19T20:00:00+08:00"),
        ("这个月的套餐流量用完了", "这个月", "2026-11-01"),  # 的 belongs to 套餐
        ("昨天的时候还好好的", "昨天的时候", "2026-11-19"),
        ("上周三的晚上八点", "上周三的晚上八点", "2026-11-11T20:00:00+08:00"),
        ("最近老断网", "最近", None),
        ("前几天", "前几天", None),
        ("晚上", "晚上", None),
    ],
)
def test_fault_time(slot: Callable[..., Any], text: str, value: str, resolved: str | None) -> None:
    found = slot(text, "fault_time")
    assert (found["value"], found["resolved"]) == (value, resolved)


@pytest.mark.parametrize(
    "text",
    [
        "有三点要求", "快一点", "一点多都没用", "我说三点", "文三路20号", "3号线地铁站", "10号楼", "一周有七天", "我的号码13812345678", "五十块",
        "明天师傅上门",  # ahead of the call: an appointment
        "下周一再说",
        "我上周三在营业厅办的套餐",  # when something was done: the order time
        "五一路那边信号差",  # a holiday name inside a road name
        "我的号码是幺三八幺二三四五六七八",
        "预计下午两点前恢复，恢复后短信通知您",  # when service comes back, not when the fault began
        "估计中午能修好",
        "十点左右就恢复了",
    ],
)  # fmt: skip
def test_no_fault_time(slot: Callable[..., Any], text: str) -> None:
    assert slot(text, "fault_time") is None


def test_the_start_wins_over_the_restoration(slot: Callable[..., Any]) -> None:
    assert slot("昨天晚上八点开始断的，一直没恢复", "fault_time")["value"] == "昨天晚上八点"
    assert slot("前天修好了，今天早上又断了", "fault_time")["value"] == "今天早上"


def test_more_specific_time_wins(slot: Callable[..., Any]) -> None:
    found = slot("我今天打电话是因为昨天晚上八点开始断网", "fault_time")
    assert found["value"] == "昨天晚上八点"


def test_without_reference_time_relative_is_unresolved(slot: Callable[..., Any]) -> None:
    assert slot("昨天晚上八点", "fault_time", ref=None) == {
        "value": "昨天晚上八点",
        "resolved": None,
        "evidence": "昨天晚上八点",
    }
    # absolute with a year resolves without a reference
    assert slot("2026年11月3日晚上8点", "fault_time", ref=None)["resolved"] == "2026-11-03T20:00:00"


def test_naive_reference_time_stays_naive(slot: Callable[..., Any]) -> None:
    found = slot("昨天晚上八点", "fault_time", ref=datetime(2026, 11, 20, 10, 0))
    assert found["resolved"] == "2026-11-19T20:00:00"


def test_other_timezone_preserved(slot: Callable[..., Any]) -> None:
    utc_ref = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
    assert slot("昨天晚上八点", "fault_time", ref=utc_ref)["resolved"] == "2026-11-19T20:00:00+00:00"


def test_resolved_dates_parse(slot: Callable[..., Any]) -> None:
    for text in ["三天前", "上周三", "11月3号"]:
        date.fromisoformat(slot(text, "fault_time")["resolved"])


def test_a_clock_without_a_period_looks_back_to_the_latest_such_hour(slot: Callable[..., Any]) -> None:
    evening = datetime(2026, 11, 20, 19, 20, tzinfo=timezone(timedelta(hours=8)))
    assert slot("七点左右开始的", "fault_time", ref=evening)["resolved"] == "2026-11-20T19:00:00+08:00"
    assert slot("八点多就没网了", "fault_time", ref=evening)["resolved"] == "2026-11-20T08:00:00+08:00"
