"""Tests for hotline.core.mask: phones (digits, separators, Chinese numerals), ID cards, bank cards."""

from __future__ import annotations

import time

import pytest

from hotline.core.errors import InvalidInputError
from hotline.core.mask import MaskResult, PiiEntity, PiiMasker, PiiType, mask_pii


def _only(text: str) -> PiiEntity:
    result = mask_pii(text)
    assert len(result.entities) == 1, result
    return result.entities[0]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("13812345678", "138****5678"),
        ("我的手机号是13812345678", "我的手机号是138****5678"),
        ("138 1234 5678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("电话:138.1234.5678", "电话:138****5678"),
        ("一三八一二三四五六七八", "138****5678"),
        ("幺三八 一二三四 五六七八", "138****5678"),
        ("幺三八，一二三四，五六七八", "138****5678"),
        ("幺三八、幺二三四、五六七八", "138****5678"),
        ("138一二三四5678", "138****5678"),  # mixed digits and numerals
        ("幺五九零零零零两两两两", "159****2222"),  # 零 and 两
        ("幺八六洞洞洞洞幺幺幺幺", "186****1111"),  # 洞 = 0
        ("一九九〇〇〇〇一二三四", "199****1234"),  # 〇 = 0
        ("１３８１２３４５６７８", "138****5678"),  # full-width digits
        ("+86 138 1234 5678", "+86 138****5678"),  # country code stays
        ("回电13812345678一直打不通", "回电138****5678一直打不通"),
        ("一三八一二三四五六七八一直打不通", "138****5678一直打不通"),  # 一直 is a word, not a digit
        ("是13812345678,谢谢", "是138****5678,谢谢"),
    ],
)
def test_phone_masking(text: str, masked: str) -> None:
    result = mask_pii(text)
    assert result.text == masked
    assert [e.type for e in result.entities] == [PiiType.PHONE]


def test_phone_entity_offsets_index_original_text() -> None:
    text = "我的手机是幺三八 一二三四 五六七八，谢谢"
    e = _only(text)
    assert (e.type, e.value) == ("phone", "13812345678")
    assert text[e.start : e.end] == "幺三八 一二三四 五六七八"
    assert e.masked == "138****5678"


def test_two_phones_in_a_row() -> None:
    result = mask_pii("号码13812345678和13912345678,还有 15000001111 13600002222")
    assert [e.value for e in result.entities] == ["13812345678", "13912345678", "15000001111", "13600002222"]
    assert result.text == "号码138****5678和139****5678,还有 150****1111 136****2222"


def test_phone_followed_by_short_number_is_still_a_phone() -> None:
    result = mask_pii("13812345678 12345")
    assert result.text == "138****5678 12345"


@pytest.mark.parametrize(
    "text",
    [
        "五十块",
        "2024年",
        "100元",
        "10086",
        "12300",
        "我打了10086十几次,套餐58块",
        "2024年11月20号下午3点",
        "12345678901",  # 11 digits but not a mobile prefix
        "10812345678",  # 1 followed by 0: not a mainland mobile
        "138123456789",  # 12 digits: not a phone
        "订单号1381234567890",  # 13 digits
        "第一二三四五六七八九十",
        "三三两两",
        "我有一二三个问题",
        "2024112012345678",  # 16 digits but no card issuer starts with 2
        "时间20241120153000",
        "幺二三零零",
        "",
    ],
)
def test_no_false_positives(text: str) -> None:
    assert mask_pii(text) == MaskResult(text, [])


@pytest.mark.parametrize(
    ("text", "value", "masked"),
    [
        ("身份证110101199003071234", "110101199003071234", "身份证110***********1234"),
        ("身份证号11010119900307123X号", "11010119900307123X", "身份证号110***********123X号"),
        ("身份证11010119900307123x", "11010119900307123X", "身份证110***********123X"),
        ("110101 19900307 1234", "110101199003071234", "110***********1234"),
        ("身份证号一一零一零一一九九零零三零七一二三四", "110101199003071234", "身份证号110***********1234"),
        ("440301200001011235", "440301200001011235", "440***********1235"),
    ],
)
def test_id_cards(text: str, value: str, masked: str) -> None:
    result = mask_pii(text)
    assert result.text == masked
    assert [(e.type, e.value) for e in result.entities] == [(PiiType.ID_CARD, value)]


@pytest.mark.parametrize(
    ("text", "value", "masked"),
    [
        ("卡号6222021234567890", "6222021234567890", "卡号6222********7890"),
        ("卡号6222 0212 3456 7890", "6222021234567890", "卡号6222********7890"),
        ("6222-0212-3456-7890-123", "6222021234567890123", "6222***********0123"),
        ("卡号是六二二二零二一二三四五六七八九零", "6222021234567890", "卡号是6222********7890"),
        ("4367421234567890", "4367421234567890", "4367********7890"),
    ],
)
def test_bank_cards(text: str, value: str, masked: str) -> None:
    result = mask_pii(text)
    assert result.text == masked
    assert [(e.type, e.value) for e in result.entities] == [(PiiType.BANK_CARD, value)]


def test_18_digit_bank_card_with_valid_luhn() -> None:
    # 18 digits starting 62 with an invalid ID date, valid Luhn → bank card, not ID.
    e = _only("622202123456789014")
    assert e.type == PiiType.BANK_CARD


def test_phone_and_id_in_one_text() -> None:
    text = "幺三八零零零零一一一一,身份证号一一零一零一一九九零零三零七一二三四"
    result = mask_pii(text)
    assert result.text == "138****1111,身份证号110***********1234"
    assert [(e.type.value, e.value) for e in result.entities] == [
        ("phone", "13800001111"),
        ("id_card", "110101199003071234"),
    ]
    for e in result.entities:
        assert e.start < e.end <= len(text)


def test_masked_length_keeps_hidden_digit_count() -> None:
    for text in ["13812345678", "110101199003071234", "6222021234567890123"]:
        assert len(mask_pii(text).text) == len(text)


def test_entity_type_equals_plain_string() -> None:
    e = _only("13812345678")
    assert e.type == "phone"
    assert str(e.type) == "phone"


def test_non_str_raises() -> None:
    with pytest.raises(InvalidInputError, match="must be a str, got NoneType"):
        mask_pii(None)  # type: ignore[arg-type]


class TestPiiMasker:
    def test_run_equals_one_by_one(self) -> None:
        texts = ["电话138-1234-5678", "没有号码", "幺三八一二三四五六七八和身份证110101199003071234"]
        out = PiiMasker().run(texts)
        assert out["texts"] == [mask_pii(t).text for t in texts]
        assert out["entities"] == [mask_pii(t).entities for t in texts]
        assert [[e.type.value for e in ents] for ents in out["entities"]] == [["phone"], [], ["phone", "id_card"]]

    def test_warm_up_twice_and_empty_batch(self) -> None:
        masker = PiiMasker()
        masker.warm_up()
        masker.warm_up()
        assert masker.run([]) == {"texts": [], "entities": []}

    def test_run_rejects_a_bare_string(self) -> None:
        with pytest.raises(InvalidInputError, match="list of str"):
            PiiMasker().run("13812345678")  # type: ignore[arg-type]


def test_speed_per_utterance() -> None:
    text = "你好,我的手机号是幺三八 一二三四 五六七八,从昨天晚上开始一直没有信号,打了好几次10086都没人解决"
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        mask_pii(text)
    assert (time.perf_counter() - t0) / n * 1000 < 0.5
