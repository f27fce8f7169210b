"""Tests for pipeline.slots.amount: sums of money as said, resolved to yuan by hotline.core.numerals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("text", "value", "resolved"),
    [
        ("上个月话费多扣了我三十八块钱", "三十八块钱", 38),
        ("一共是一百二十八元", "一百二十八元", 128),
        ("两块五", "两块五", 2.5),  # a bare digit after 块 counts tenths
        ("五块三毛", "五块三毛", 5.3),
        ("话费还剩五毛钱", "五毛钱", 0.5),
        ("一共38.5元", "38.5元", 38.5),
        ("转账五千块", "五千块", 5000),
        ("要求补偿一百块", "一百块", 100),
        # a bare numeral right after a money verb
        ("扣了我三十八", "三十八", 38),
        ("我充了一百结果没到账", "一百", 100),
        ("被骗了1.5万", "1.5万", 15000),
        ("损失了两万多", "两万多", 20000),
        # ASR: no punctuation
        ("那个骗子冒充客服让我转账五千块我现在联系不上他", "五千块", 5000),
    ],
)
def test_amount(slot: Callable[..., Any], text: str, value: str, resolved: float) -> None:
    found = slot(text, "amount")
    assert (found["value"], found["resolved"]) == (value, resolved)
    assert type(found["resolved"]) is type(resolved)


def test_about_an_amount(slot: Callable[..., Any]) -> None:
    found = slot("每个月扣我五十多块钱", "amount")
    assert found == {"value": "五十多块钱", "resolved": 50, "approximate": True, "evidence": "每个月扣我五十多块钱"}


def test_vague_amount_is_said_but_not_resolved(slot: Callable[..., Any]) -> None:
    assert slot("扣了几十块钱", "amount")["resolved"] is None


def test_the_disputed_amount_wins(slot: Callable[..., Any]) -> None:
    assert slot("月租58元的套餐结果扣了我88元", "amount")["value"] == "88元"
    assert slot("套餐是58元的", "amount")["value"] == "58元"  # the only one


@pytest.mark.parametrize(
    "text",
    [
        "我们一块去营业厅",  # 一块 = together
        "5G套餐怎么收费",
        "100兆宽带",
        "充了两次都没到账",  # a count, not money
        "三个月了",
        "我在3栋2单元",
        "我的号码13812345678",
        "打了三次10086",
        "二零二六年",
    ],
)
def test_no_amount(slot: Callable[..., Any], text: str) -> None:
    assert slot(text, "amount") is None
