"""Tests for pipeline.slots.id_verified: whether the identity check passed, digits never in the value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("text", "value", "resolved"),
    [
        ("好的,身份核实通过", "身份核实通过", True),  # the agent's verdict
        ("身份已核实,您请说", "身份已核实", True),
        ("核实不通过", "核实不通过", False),  # 通过 inside 不通过 does not count
        ("身份证后四位是1234", "身份证后四位是****", True),  # the caller gives ID data
        ("身份证后四位是幺二三四", "身份证后四位是****", True),  # ASR: spoken digits
        ("我的身份证号是110101199003071234", "身份证号是******************", True),
        ("服务密码是123456", "服务密码是******", True),
        ("身份证号我不记得了", "身份证号我不记得", False),  # a refusal next to an ID word
        ("我不是机主,是我老婆的号", "不是机主", False),
    ],
)
def test_id_verified(slot: Callable[..., Any], text: str, value: str, resolved: bool) -> None:
    found = slot(text, "id_verified")
    assert (found["value"], found["resolved"]) == (value, resolved)


def test_the_last_statement_wins(slot: Callable[..., Any]) -> None:
    assert slot("服务密码忘了,身份证后四位是1234", "id_verified")["resolved"] is True
    assert slot("身份证后四位是1234,核实不通过", "id_verified")["resolved"] is False


@pytest.mark.parametrize(
    "text",
    ["不记得什么时候办的", "您好,为了核实身份,请提供身份证后四位", "我是机主", "验证码收不到"],
)
def test_no_id_verified(slot: Callable[..., Any], text: str) -> None:
    assert slot(text, "id_verified") is None
