"""Tests for pipeline.slots.broadband_account: the account said after 宽带账号 / 上网账号."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("宽带账号是057112345678", "057112345678"),
        ("我的宽带账号hz12345678", "hz12345678"),  # letters and digits
        ("上网账号 ad88886666 密码也忘了", "ad88886666"),
        ("宽带帐号是0571-8888-6666", "057188886666"),
        ("宽带账号是零五七一八八八八六六六六师傅明天能来吗", "057188886666"),  # ASR: spoken digits
        ("宽带账号是adsl_hz", "adsl_hz"),
    ],
)
def test_broadband_account(slot: Callable[..., Any], text: str, value: str) -> None:
    assert slot(text, "broadband_account")["value"] == value


def test_mobile_number_as_account_is_masked_and_also_the_phone(ext: Any, ref: Any) -> None:
    slots = ext.extract("宽带账号就是我的手机号13812345678", reference_time=ref)
    assert slots["broadband_account"]["value"] == "13812345678"
    assert slots["broadband_account"]["masked"] == "138****5678"
    assert "13812345678" not in slots["broadband_account"]["evidence"]
    assert slots["phone"]["value"] == "13812345678"


def test_an_account_number_is_not_the_phone(ext: Any, ref: Any) -> None:
    slots = ext.extract("宽带账号是13812345678", reference_time=ref)
    assert slots["broadband_account"]["value"] == "13812345678" and slots["phone"] is None


@pytest.mark.parametrize("text", ["宽带账号忘了", "我的号码是13812345678", "宽带连不上了", "账号被盗了"])
def test_no_broadband_account(slot: Callable[..., Any], text: str) -> None:
    assert slot(text, "broadband_account") is None
