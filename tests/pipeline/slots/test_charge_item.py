"""Tests for pipeline.slots.charge_item: the item on the bill the caller disputes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("账单上有个视频彩铃功能费我根本没开过", "视频彩铃功能费"),  # the longest name before 费
        ("扣了五十块流量费", "流量费"),  # the amount is not part of the item
        ("收了我国际漫游费用", "国际漫游费用"),
        ("有一笔违约金", "违约金"),
        ("月租怎么又涨了", "月租"),
        ("来电显示每个月收五块", "来电显示"),
        ("账单上多了一项信息服务费", "信息服务费"),
    ],
)
def test_charge_item(slot: Callable[..., Any], text: str, value: str) -> None:
    assert slot(text, "charge_item")["value"] == value


@pytest.mark.parametrize(
    "text",
    [
        "多收了我话费",  # 话费 is the whole bill, not an item
        "扣费不对",
        "免费的吗",
        "这个费用太贵了",
        "我的来电显示不出来",  # a feature, no charge said
        "费了好大劲",
    ],
)
def test_no_charge_item(slot: Callable[..., Any], text: str) -> None:
    assert slot(text, "charge_item") is None
