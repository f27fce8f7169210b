"""Tests for pipeline.slots.sp_name: the value-added service, SP or promotion named."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("咪咕视频会员我根本没订过", "咪咕视频会员"),  # a known name, with the head word said after it
        ("每个月扣我十块钱的彩铃", "彩铃"),
        ("另外有一笔十五元是“悦看视频钻石会员”的包月费", "悦看视频钻石会员"),  # quoted, head word after: no quote kept
        ("还有一个“炫铃音乐包”，每月十元", "炫铃音乐包"),  # a quoted name holding a known one (炫铃), whole
        ("给我开了一个叫什么“快乐阅读”的业务", "快乐阅读"),  # said after 叫, in quotes
        ("扣费的是一个叫快乐星球的会员", "快乐星球"),
        ("开通了一个视频会员每个月扣我十五块", "视频会员"),  # a name before a head word, cut at 一个
        ("我参加了充一百送一百的活动", "充一百送一百的活动"),
        ("你们那个存话费送手机活动说好的手机没给", "存话费送手机活动"),
        ("被订购了游戏加速包月业务", "游戏加速包月业务"),
        ("我开通了咪咕视频钻石会员", "咪咕视频钻石会员"),  # a known name, a tier, then the head word
        ("优酷VIP月卡每个月扣我钱", "优酷VIP月卡"),
        ("腾讯视频的会员扣了两次", "腾讯视频"),  # 的 is no part of the tier
    ],
)
def test_sp_name(slot: Callable[..., Any], text: str, value: str) -> None:
    assert slot(text, "sp_name")["value"] == value


@pytest.mark.parametrize(
    "text",
    [
        "这个业务我要退订",  # too generic
        "宽带业务怎么办",
        "有什么优惠活动吗",
        "服务态度太差了",
        "我想办个业务",  # no subscription or promotion cue around a name
        "你们的活动太多了",
        "他们叫我开通一个业务",
        "您这个号码基本套餐之外没有其他收费业务",  # what the agent found: no name in it
        "请问您有订过手机游戏之类的业务吗",
        "开通以后收费业务会短信提醒",
    ],
)
def test_no_sp_name(slot: Callable[..., Any], text: str) -> None:
    assert slot(text, "sp_name") is None
