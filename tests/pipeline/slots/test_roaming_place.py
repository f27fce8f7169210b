"""Tests for pipeline.slots.roaming_place: where the caller is while roaming, with its country or region."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("text", "value", "resolved"),
    [
        ("我在日本东京漫游手机上不了网", "日本东京", "日本"),
        ("人在泰国曼谷出差用不了", "泰国曼谷", "泰国"),
        ("我到香港了没信号", "香港", "中国香港"),
        ("出国去了韩国首尔", "韩国首尔", "韩国"),
        ("我现在在迪拜 打不了电话", "迪拜", "阿联酋"),  # a city gives its country
        ("漫游到新加坡就没信号", "新加坡", "新加坡"),
        ("在欧洲旅游手机用不了", "欧洲", "欧洲"),
        # a place the lexicon does not know, said with a travel cue
        ("我在上海出差手机用不了", "上海", None),
        ("在清迈府这边旅游", "清迈", "泰国"),
    ],
)
def test_roaming_place(slot: Callable[..., Any], text: str, value: str, resolved: str | None) -> None:
    found = slot(text, "roaming_place")
    assert (found["value"], found["resolved"]) == (value, resolved)


@pytest.mark.parametrize(
    "text",
    ["我的手机是美国买的", "苹果手机信号不好", "我在家里上不了网", "出差回来就这样了", "日本的流量包怎么收费"],
)
def test_no_roaming_place(slot: Callable[..., Any], text: str) -> None:
    assert slot(text, "roaming_place") is None
