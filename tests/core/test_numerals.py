"""Tests for hotline.core.numerals: digit-by-digit reading, positional numerals, amounts, errors.

The last tests check that PII masking and slot filling, which both read numbers through this module,
agree on the same spoken numbers.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hotline.core.errors import InvalidInputError
from hotline.core.mask import mask_pii
from hotline.core.numerals import SPOKEN_DIGITS, parse_amount, parse_int, read_digits


# -- digit by digit ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("一三八幺二三四五六七八", "13812345678"),  # 幺 = 1
        ("幺五九零零零零两两两两", "15900002222"),  # 两 = 2, 零 = 0
        ("幺八六洞洞洞洞幺幺幺幺", "18600001111"),  # 洞 = 0
        ("一九九〇", "1990"),  # 〇 = 0
        ("138一二三四5678", "13812345678"),  # Arabic and Chinese mixed
        ("１３８", "138"),  # full width
        ("壹叁捌", "138"),  # financial capitals
        ("零幺零", "010"),  # leading zeros kept
    ],
)
def test_read_digits(text: str, digits: str) -> None:
    assert read_digits(text) == digits


def test_spoken_digits_cover_the_phone_readings() -> None:
    assert set("零〇洞一幺二两三四五六七八九") == set(SPOKEN_DIGITS)


@pytest.mark.parametrize(("text", "bad"), [("一三八x", "'x'"), ("十二", "'十'"), ("12 3", "' '")])
def test_read_digits_names_the_bad_character(text: str, bad: str) -> None:
    with pytest.raises(InvalidInputError, match=f"got {text!r} \\({bad} is not a digit\\)"):
        read_digits(text)


# -- integers ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2026", 2026),
        ("二〇二六", 2026),  # digit by digit
        ("幺三八", 138),
        ("八", 8),
        ("两", 2),
        ("十", 10),
        ("十五", 15),
        ("二十三", 23),
        ("一十二", 12),
        ("一百零五", 105),
        ("一百二十八", 128),
        ("一百二", 120),  # spoken short form: 一百二 is 120, not 102
        ("两千零二十六", 2026),
        ("三千", 3000),
        ("两万", 20000),
        ("一万二", 12000),
        ("十一万三", 113000),
        ("壹佰贰拾捌", 128),  # capitals with place values
        ("叁仟", 3000),
        ("3千", 3000),  # Arabic digit with a place value
    ],
)
def test_parse_int(text: str, value: int) -> None:
    result = parse_int(text)
    assert result == value and isinstance(result, int)


@pytest.mark.parametrize("text", ["", "十十", "百", "十百零", "零十一", "三点五", "abc", "两块五"])
def test_parse_int_rejects_and_names_the_value(text: str) -> None:
    with pytest.raises(InvalidInputError, match=f"got {text!r}"):
        parse_int(text)


def test_parse_int_rejects_a_non_string() -> None:
    with pytest.raises(InvalidInputError, match="text must be a str, got int"):
        parse_int(23)  # type: ignore[arg-type]


# -- amounts -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("五十块", 50),
        ("五十块钱", 50),
        ("一百二十八元", 128),
        ("128元", 128),
        ("三千", 3000),
        ("两万", 20000),
        ("五块三毛", 5.3),
        ("两块五", 2.5),
        ("三点五元", 3.5),
        ("1.5万", 15000),
    ],
)
def test_parse_amount(text: str, value: float) -> None:
    assert parse_amount(text) == value


def test_whole_amounts_are_ints() -> None:
    assert isinstance(parse_amount("五十块"), int) and isinstance(parse_amount("1.5万"), int)


@pytest.mark.parametrize("text", ["块", "五十个", "十十块"])
def test_parse_amount_rejects_and_names_the_value(text: str) -> None:
    with pytest.raises(InvalidInputError, match=f"got {text!r}.*五十块"):
        parse_amount(text)


# -- one reading across the project ------------------------------------------------------------------
_SPOKEN_PHONES = ["一三八幺二三四五六七八", "幺五九零零零零两两两两", "幺八六洞洞洞洞幺幺幺幺", "一九九〇〇〇〇一二三四"]


@pytest.mark.parametrize("spoken", _SPOKEN_PHONES)
def test_mask_and_slots_read_spoken_numbers_alike(spoken: str) -> None:
    from hotline.pipeline.slots import SlotExtractor

    digits = read_digits(spoken)
    (entity,) = mask_pii(f"回电{spoken}谢谢").entities
    assert entity.value == digits
    phone = SlotExtractor().extract(f"回电{spoken}谢谢")["phone"]
    assert phone["value"] == digits


@pytest.mark.parametrize(("year", "month", "day"), [("二〇二五", "三", "一"), ("二零二六", "十一", "三")])
def test_slot_dates_use_the_same_parser(year: str, month: str, day: str) -> None:
    from hotline.pipeline.slots import SlotExtractor

    ref = datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    slot = SlotExtractor().extract(f"{year}年{month}月{day}日开始的", reference_time=ref)["fault_time"]
    expected = f"{parse_int(year):04d}-{parse_int(month):02d}-{parse_int(day):02d}"
    assert slot["resolved"] == expected
