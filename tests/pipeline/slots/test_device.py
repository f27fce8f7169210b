"""Tests for pipeline.slots.device: handsets and home devices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("我的华为Mate60没信号", "华为Mate60"),
        ("华为mate 60 pro打不了电话", "华为mate 60 pro"),
        ("我的iPhone 15 Pro Max打不了电话", "iPhone 15 Pro Max"),
        ("苹果15信号差", "苹果15"),
        ("苹果十五信号差", "苹果十五"),
        ("荣耀90手机", "荣耀90"),
        ("小米13发热", "小米13"),
        ("红米K70", "红米K70"),
        ("OPPO Reno10 上不了网", "OPPO Reno10"),
        ("我的vivo X100", "vivo X100"),
        ("三星S23打电话有杂音", "三星S23"),
        ("一加12", "一加12"),
        ("魅族手机", "魅族手机"),
        ("华为手机没信号", "华为手机"),
        ("小米路由器AX3000不行了", "小米路由器AX3000"),
        ("中兴的光猫型号是F663N", "中兴光猫F663N"),
        ("光猫型号HG8245H一直闪红灯", "光猫HG8245H"),
        ("光猫一直闪红灯", "光猫"),
        ("机顶盒没信号", "机顶盒"),
        ("我用的是vivo x九零", "vivo x九零"),  # a series letter with its number in words
        ("手机是vivo X一百", "vivo X一百"),
        ("家里的魔百和看不了", "魔百和"),
        ("机顶盒 就是魔百和 一直转圈", "魔百和"),  # the operator's box name over the generic word
    ],
)
def test_device(slot: Callable[..., Any], text: str, value: str) -> None:
    assert slot(text, "device")["value"] == value


@pytest.mark.parametrize(
    "text", ["我想吃苹果", "王者荣耀很卡", "喝小米粥", "三星期前开始的", "一加一等于二", "猫生病了", "我的手机没信号",
             "我们和好了"]
)
def test_no_device(slot: Callable[..., Any], text: str) -> None:
    assert slot(text, "device") is None


def test_device_with_model_preferred(slot: Callable[..., Any]) -> None:
    assert slot("光猫坏了,手机是华为Mate60", "device")["value"] == "华为Mate60"
