"""Tests for pipeline.slots.sms_content: what a message said, and who sent it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("短信上写着“您的账户存在风险,请联系客服”", "您的账户存在风险,请联系客服"),  # quotes end it
        ("收到短信:您已成功订购视频彩铃业务。我没订过", "您已成功订购视频彩铃业务"),  # a sentence end ends it
        ("短信内容是您的验证码是123456", "您的验证码是123456"),
        ("有个号码给我发信息说我中奖了", "我中奖了"),
        # ASR: no punctuation, a word that ends the content
        ("收到一条短信说我的积分即将过期让我点链接然后我就点了", "我的积分即将过期让我点链接"),
        ("我收到一条“10086免费提醒”的短信", "10086免费提醒"),
    ],
)
def test_sms_content(slot: Callable[..., Any], text: str, value: str) -> None:
    assert slot(text, "sms_content")["value"] == value


def test_sender_and_content(slot: Callable[..., Any]) -> None:
    found = slot("10658123456发来的短信说我中奖了", "sms_content")
    assert (found["value"], found["sender"]) == ("我中奖了", "10658123456")


def test_sender_only(slot: Callable[..., Any]) -> None:
    assert slot("10658123456发来的短信我打不开", "sms_content")["value"] == "10658123456"


def test_a_phone_in_the_content_is_masked_beside_it(slot: Callable[..., Any]) -> None:
    found = slot("短信里说让我打13912345678", "sms_content")
    assert found["value"] == "让我打13912345678"
    assert found["masked"] == "让我打139****5678"
    assert "13912345678" not in found["evidence"]


@pytest.mark.parametrize("text", ["我收不到短信", "信号不好", "短信发不出去", "我的信息被泄露了"])
def test_no_sms_content(slot: Callable[..., Any], text: str) -> None:
    assert slot(text, "sms_content") is None
