"""Tests for hotline.core.mask: mobiles in every form a caller says them, landlines, ID cards, bank cards."""

from __future__ import annotations

import time

import pytest

from hotline.core.errors import InvalidInputError
from hotline.core.mask import MaskResult, PiiEntity, PiiMasker, PiiType, mask_pii, masked_text


def _only(text: str) -> PiiEntity:
    result = mask_pii(text)
    assert len(result.entities) == 1, result
    return result.entities[0]


# Ways a caller (or the ASR transcript of one) gives the mobile 138 1234 5678, written out by hand.
PHONE_FORMS = [
    ("13812345678", "138****5678"),  # plain 11 digits
    ("我的手机号是13812345678", "我的手机号是138****5678"),  # after 手机号是
    ("号码13812345678", "号码138****5678"),  # after 号码
    ("138-1234-5678", "138****5678"),  # dashes
    ("138 1234 5678", "138****5678"),  # spaces between groups
    ("1 3 8 1 2 3 4 5 6 7 8", "138****5678"),  # digits one by one, spaces between
    ("一 三 八 一 二 三 四 五 六 七 八", "138****5678"),  # numerals one by one
    ("138 - 1234 - 5678", "138****5678"),  # spaced dashes
    ("138—1234—5678", "138****5678"),  # em dashes
    ("电话:138.1234.5678", "电话:138****5678"),  # dots
    ("138。1234。5678", "138****5678"),  # ASR full stops inside the number
    ("138/1234/5678", "138****5678"),  # slashes
    ("幺三八，一二三四，五六七八", "138****5678"),  # commas
    ("幺三八、幺二三四、五六七八", "138****5678"),  # 、
    ("１３８１２３４５６７８", "138****5678"),  # full-width digits
    ("号码1３8１２３４５６７８", "号码138****5678"),  # half and full width mixed
    ("一三八一二三四五六七八", "138****5678"),  # Chinese numerals
    ("幺三八 一二三四 五六七八", "138****5678"),  # 幺 for 1, spoken groups
    ("壹叁捌壹贰叁肆伍陆柒捌", "138****5678"),  # financial capitals
    ("我手机号是壹叁捌 壹贰叁肆 伍陆柒捌", "我手机号是138****5678"),  # capitals in groups
    ("138一二三四5678", "138****5678"),  # Arabic and Chinese mixed
    ("幺三八嗯一二三四嗯五六七八", "138****5678"),  # hesitations between groups
    ("我手机号码是一三八一二三四五六七八你们尽快帮我处理", "我手机号码是138****5678你们尽快帮我处理"),  # ASR run-on
    ("一三八一二三四五六七八一直打不通", "138****5678一直打不通"),  # 一直 is a word, not a digit
    ("回电13812345678一直打不通", "回电138****5678一直打不通"),  # embedded in a sentence
    ("统一一三八一二三四五六七八", "统一138****5678"),  # 一 of 统一 is not a digit
    ("是13812345678,谢谢", "是138****5678,谢谢"),  # before punctuation
    ("+8613812345678", "+86138****5678"),  # +86 glued on: the country code stays
    ("8613812345678", "86138****5678"),  # 86 without the +
    ("+86 138 1234 5678", "+86 138****5678"),
    ("+86-138-1234-5678", "+86-138****5678"),
    ("(+86)13812345678", "(+86)138****5678"),
    ("（+86）138-1234-5678", "（+86）138****5678"),  # full-width brackets
    ("0086 138 1234 5678", "0086 138****5678"),  # international prefix 00
    ("008613812345678", "0086138****5678"),
    ("013812345678", "0138****5678"),  # the trunk 0 dialled before a mobile from another city
    ("138 1234 5678号码", "138****5678号码"),
]
# Other mobiles: 零/两, 洞, 〇 for the digits themselves.
OTHER_MOBILES = [
    ("幺五九零零零零两两两两", "159****2222"),  # 零 and 两
    ("幺八六洞洞洞洞幺幺幺幺", "186****1111"),  # 洞 = 0
    ("电话 幺八六 洞洞洞洞 幺幺幺幺", "电话 186****1111"),
    ("一九九〇〇〇〇一二三四", "199****1234"),  # 〇 = 0
    ("手机号是幺三八，零零零零，两两两两", "手机号是138****2222"),
]


def test_at_least_25_distinct_phone_forms() -> None:
    assert len({text for text, _ in PHONE_FORMS}) >= 25


@pytest.mark.parametrize(("text", "masked"), PHONE_FORMS + OTHER_MOBILES)
def test_phone_masking(text: str, masked: str) -> None:
    result = mask_pii(text)
    assert result.text == masked
    assert [e.type for e in result.entities] == [PiiType.PHONE]
    assert "*" not in text and result.entities[0].masked in masked


@pytest.mark.parametrize(
    "text", ["1 3 8 1 2 3 4 5 6 7 8", "138。1234。5678", "壹叁捌壹贰叁肆伍陆柒捌", "+8613812345678", "008613812345678"]
)
def test_phone_value_is_the_national_number(text: str) -> None:
    assert _only(text).value == "13812345678"


def test_country_code_stays_outside_the_entity() -> None:
    text = "我的电话是+86 138 1234 5678"
    e = _only(text)
    assert text[e.start : e.end] == "138 1234 5678"
    assert text[: e.start] == "我的电话是+86 "


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
        "第一二三四五六七八九十",
        "三三两两",
        "我有一二三个问题",
        "2024112012345678",  # 16 digits but no card issuer starts with 2
        "时间20241120153000",
        "幺二三零零",
        "",
        "1280元",  # amounts
        "两千三百块",
        "13800000000元",  # a sum, however long
        "扣了我13,800,000,000元",
        "充了100，200，300，400",
        "2024年3月5日",  # dates and times
        "二〇二四年三月五号下午三点半",
        "三点半",
        "2024 03 05 08 00 12",
        "2024-03-05 13:45:00",
        "10010",  # service numbers
        "114",
        "95588",
        "400-810-8888",
        "800 820 8820",
        "打了10086、10010和114都没用",
        "工单号1234567890",  # labelled ticket and order numbers
        "订单号2024031512",
        "三千年前",
        "5G套餐 199元档",
        "话费一百二十八块，流量二十个G",
        "验证码是123456",
        "我是十三号楼一二零一室",
        "宽带账号是0571的开头",
        "座机坏了三天",
        "区号0755",
        "IMEI 867530012345678",  # 15 digits: no PII kind
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
        ("110 101 1990 0307 1234", "110101199003071234", "110***********1234"),  # other grouping
        ("11010119900307123 X", "11010119900307123X", "110***********123X"),  # spaced check letter
        ("身份证一一零一零一一九九零零三零七一二三叉", "11010119900307123X", "身份证110***********123X"),  # 叉 = X
        ("身份证号壹壹零壹零壹壹玖玖零零叁零柒壹贰叁肆", "110101199003071234", "身份证号110***********1234"),
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
        ("6217 0000 1234 5678 901", "6217000012345678901", "6217***********8901"),  # 19 digits
        ("卡号是6222。0212。3456。7890", "6222021234567890", "卡号是6222********7890"),
        ("6222-0212-3456-7890", "6222021234567890", "6222********7890"),
    ],
)
def test_bank_cards(text: str, value: str, masked: str) -> None:
    result = mask_pii(text)
    assert result.text == masked
    assert [(e.type, e.value) for e in result.entities] == [(PiiType.BANK_CARD, value)]


@pytest.mark.parametrize(
    ("text", "value", "masked"),
    [
        ("010-12345678", "01012345678", "010****5678"),
        ("0755-88889999", "075588889999", "0755****9999"),
        ("(021)5555 6666", "02155556666", "021****6666"),  # the bracket goes with the number
        ("（021）5555 6666", "02155556666", "021****6666"),
        ("0571 8765 4321", "057187654321", "0571****4321"),
        ("02155556666", "02155556666", "021****6666"),
        ("家里电话是0571-8765432", "05718765432", "家里电话是0571***5432"),  # 7-digit local number
        ("区号零七五五 八八八八九九九九", "075588889999", "区号0755****9999"),
        ("区号零七五五，号码八八八八九九九九", "075588889999", "区号0755****9999"),  # said in two parts
        ("区号是0755，电话是88889999", "075588889999", "区号是0755****9999"),
        ("座机号码是87654321", "87654321", "座机号码是****4321"),  # a local number after a landline word
        ("家里电话八七六五四三二一", "87654321", "家里电话****4321"),
        ("0571-87654321转8001", "057187654321", "0571****4321转8001"),  # the extension stays
        ("+86 10 12345678", "01012345678", "+86 010****5678"),  # international form, trunk 0 dropped
    ],
)
def test_landlines(text: str, value: str, masked: str) -> None:
    result = mask_pii(text)
    assert result.text == masked
    assert [(e.type, e.value) for e in result.entities] == [(PiiType.LANDLINE, value)]


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


@pytest.mark.parametrize("text", [t for t, _ in PHONE_FORMS + OTHER_MOBILES] + [
    "0755-88889999", "(021)5555 6666", "区号零七五五，号码八八八八九九九九", "座机号码是87654321",
    "身份证11010119900307123X", "卡号6222 0212 3456 7890", "+86 10 12345678",
])
def test_masking_masked_text_changes_nothing(text: str) -> None:
    once = mask_pii(text).text
    assert mask_pii(once) == MaskResult(once, [])


def test_masked_text_normalises_then_masks_every_kind() -> None:
    said = "我的号码是＋８６ １３８ １２３４ ５６７８，座机０７５５－８８８８９９９９，卡号６２２２０２１２３４５６７８９０"
    assert masked_text(said) == "我的号码是+86 138****5678,座机0755****9999,卡号6222********7890"


def test_speed_per_utterance() -> None:
    # Best of several batches, with a wide margin: the check is against a regex that backtracks, not noise.
    text = "你好,我的手机号是幺三八 一二三四 五六七八,从昨天晚上开始一直没有信号,打了好几次10086都没人解决"
    n = 500
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            mask_pii(text)
        best = min(best, (time.perf_counter() - t0) / n * 1000)
    assert best < 0.5


def test_a_long_text_of_numbers_masks_each_one() -> None:
    # 4000 characters of spoken groups (the longest feedback text): every phone found, none merged.
    text = "幺三八 一二三四 五六七八，" * 250
    result = mask_pii(text)
    assert len(result.entities) == 250
    assert result.text == "138****5678，" * 250


@pytest.mark.parametrize("text", ["138123456789", "订单号1381234567890", "电话是113812345678",
                                  "11381234567813812345678"])
def test_a_mobile_buried_in_a_longer_run_is_masked_where_it_stands(text):
    # a stray digit (ASR) or a number said twice over must not carry 11 digits of a mobile through
    assert "13812345678" not in masked_text(text)
