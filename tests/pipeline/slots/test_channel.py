"""Tests for pipeline.slots.channel: where the caller did what the ticket is about, with its kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("我上周三在文三路营业厅办的套餐", "文三路营业厅", "营业厅"),  # a named outlet keeps its name
        ("在网上营业厅办的", "网上营业厅", "网上营业厅"),
        ("手机营业厅上退订的", "手机营业厅", "手机营业厅"),
        ("我是在中国移动APP上充值的", "APP", "手机营业厅"),
        ("用支付宝充的话费", "支付宝", "支付宝"),  # an everyday word with a doing-verb
        ("在微信上交的", "微信", "微信"),
        ("打了好几次10086都没人解决", "10086", "客服热线"),
        ("营业厅的工作人员态度很差", "营业厅", "营业厅"),
        ("你们营业厅的人说能退", "营业厅", "营业厅"),  # 你们 is no outlet name
        ("发短信退订的", "发短信", "短信"),
        ("你们的客户经理上门办理的", "客户经理", "上门"),
        ("通过京东买的号卡", "京东", "电商平台"),
    ],
)
def test_channel(slot: Callable[..., Any], text: str, value: str, kind: str) -> None:
    found = slot(text, "channel")
    assert (found["value"], found["resolved"]) == (value, kind)


def test_the_channel_next_to_an_order_verb_wins(slot: Callable[..., Any]) -> None:
    assert slot("我打10086问过了,当时是在营业厅办的", "channel")["value"] == "营业厅"


@pytest.mark.parametrize(
    "text",
    ["微信打不开", "支付宝里的钱不见了", "我收到一条短信", "10086123456", "我的app闪退"],
)
def test_no_channel(slot: Callable[..., Any], text: str) -> None:
    assert slot(text, "channel") is None
