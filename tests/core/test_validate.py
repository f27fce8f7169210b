"""Tests for hotline.core.validate: each rejection says what is wrong and how to fix it."""

from __future__ import annotations

import pytest

from hotline.core.errors import InvalidInputError
from hotline.core.validate import check_batch, check_text

SENTENCE = "我的宽带从昨天晚上开始就断网了，你们什么时候能修好？"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的宽带断网了", "我的宽带断网了"),
        ("  话费不对  \n", "话费不对"),
        ("5G网络不稳定 WiFi 断了 😡", "5G网络不稳定 WiFi 断了 😡"),
        ("我的寬帶從昨天開始斷網了", "我的寬帶從昨天開始斷網了"),  # traditional is Chinese too
        ("手机号13812345678,套餐129元", "手机号13812345678,套餐129元"),
        ("café 不错", "café 不错"),  # one accented letter is not mojibake
        ("第一行\n第二行\t缩进\r\n", "第一行\n第二行\t缩进"),  # \t \n \r are allowed
        ("好", "好"),
        ("𠀀字", "𠀀字"),  # CJK extension B
    ],
)
def test_accepts_and_strips(text: str, expected: str) -> None:
    assert check_text(text) == expected


@pytest.mark.parametrize("value", [None, 5, 3.5, b"\xe6\x88\x91", ["我"], {"text": "我"}])
def test_not_a_string(value: object) -> None:
    with pytest.raises(InvalidInputError, match=rf"text must be a str, got {type(value).__name__}.*JSON string"):
        check_text(value)


@pytest.mark.parametrize("text", ["", " ", "\n\t  ", "\u3000"])
def test_blank(text: str) -> None:
    with pytest.raises(InvalidInputError, match="empty or blank"):
        check_text(text)


def test_too_long_names_length_and_limit() -> None:
    with pytest.raises(InvalidInputError, match="too long: 2001 characters, the limit is 2000"):
        check_text("我" * 2001)
    assert check_text("我" * 2000) == "我" * 2000
    with pytest.raises(InvalidInputError, match="too long: 11 characters, the limit is 10"):
        check_text("宽带" * 5 + "断", max_chars=10)
    # length is measured after stripping
    assert check_text("  " + "我" * 10 + "  ", max_chars=10) == "我" * 10


def test_bad_max_chars() -> None:
    with pytest.raises(InvalidInputError, match="max_chars must be > 0, got 0"):
        check_text("我", max_chars=0)


@pytest.mark.parametrize("text", ["我\x00的宽带", "宽带\x07断了", "\x1b[31m话费", "话费\x7f", "我\x85的宽带"])
def test_control_characters_mean_binary(text: str) -> None:
    with pytest.raises(InvalidInputError, match="control character .* binary"):
        check_text(text)


def test_replacement_character_means_wrong_encoding() -> None:
    with pytest.raises(InvalidInputError, match=r"U\+FFFD at position 2 .*wrong encoding.*UTF-8"):
        check_text("我的\ufffd宽带")


@pytest.mark.parametrize(
    "mojibake",
    [
        SENTENCE.encode("utf-8").decode("latin-1"),
        SENTENCE.encode("utf-8").decode("cp1252", errors="ignore"),
        "æˆ‘çš„å®½å¸¦",
        "我的手机 " + "宽带".encode().decode("latin-1"),
    ],
)
def test_utf8_read_as_latin1(mojibake: str) -> None:
    with pytest.raises(InvalidInputError, match="UTF-8 decoded as Latin-1/cp1252"):
        check_text(mojibake)


def test_latin1_message_shows_repair() -> None:
    with pytest.raises(InvalidInputError, match="probably '我的宽带断网了'"):
        check_text("我的宽带断网了".encode().decode("latin-1"))


@pytest.mark.parametrize(
    "text",
    [
        SENTENCE,
        "话费怎么扣了这么多",
        "查一下套餐余额",
        "我要投訴你們",
    ],
)
def test_utf8_read_as_gbk(text: str) -> None:
    mojibake = text.encode("utf-8").decode("gbk", errors="ignore")  # e.g. 鎴戠殑瀹藉甫…
    with pytest.raises(InvalidInputError, match="UTF-8 decoded as GBK"):
        check_text(mojibake)


def test_gbk_replacement_trace() -> None:
    with pytest.raises(InvalidInputError, match="锟斤拷"):
        check_text("锟斤拷锟斤拷")


@pytest.mark.parametrize(
    "text",
    [
        "您好,我是杭州的用户,我的手机号码是13812345678,最近一个礼拜信号特别差,尤其是晚上在家里的时候,"
        "打电话经常断,上网也很慢,5G图标一直在闪,我已经重启过好几次手机了,也换过卡槽,还是不行。",
        "手機沒有訊號了怎麼辦,請幫我查一下",
        "流量",
        "你好",
    ],
)
def test_real_chinese_is_not_flagged_as_gbk_mojibake(text: str) -> None:
    assert check_text(text) == text


@pytest.mark.parametrize("text", ["hello world", "13812345678", "!!!", "Здравствуйте", "こんにちは"])
def test_no_chinese(text: str) -> None:
    with pytest.raises(InvalidInputError, match="no Chinese character.*Hotline expects Chinese"):
        check_text(text)


def test_field_name_in_message() -> None:
    with pytest.raises(InvalidInputError, match=r"^texts\[3\] is empty"):
        check_text(" ", field="texts[3]")


def test_long_bad_text_is_excerpted_not_echoed() -> None:
    text = "我" * 1000 + "\x00" + "的" * 900
    with pytest.raises(InvalidInputError) as info:
        check_text(text)
    assert len(str(info.value)) < 300


class TestCheckBatch:
    def test_ok(self) -> None:
        assert check_batch(["话费不对 ", " 宽带断了"]) == ["话费不对", "宽带断了"]
        assert check_batch(("好",), max_batch=1) == ["好"]

    def test_equals_one_by_one(self) -> None:
        texts = [" 我的宽带 ", "话费\n", "信号差"]
        assert check_batch(texts) == [check_text(t) for t in texts]

    def test_bare_string(self) -> None:
        with pytest.raises(InvalidInputError, match=r"texts must be a list of str, got str.*\[text\]"):
            check_batch("宽带断了")

    def test_not_a_list(self) -> None:
        with pytest.raises(InvalidInputError, match="got NoneType"):
            check_batch(None)

    def test_empty(self) -> None:
        with pytest.raises(InvalidInputError, match="empty list"):
            check_batch([])

    def test_too_many(self) -> None:
        with pytest.raises(InvalidInputError, match="65 items, the limit is 64"):
            check_batch(["好"] * 65, max_batch=64)

    def test_names_the_bad_item(self) -> None:
        with pytest.raises(InvalidInputError, match=r"texts\[1\] has no Chinese"):
            check_batch(["宽带", "hello"])
        with pytest.raises(InvalidInputError, match=r"texts\[2\] is too long: 6 characters, the limit is 5"):
            check_batch(["宽带", "话费", "我" * 6], max_chars=5)

    def test_bad_max_batch(self) -> None:
        with pytest.raises(InvalidInputError, match="max_batch must be > 0, got 0"):
            check_batch(["好"], max_batch=0)


def test_speed_per_utterance() -> None:
    import time

    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        check_text(SENTENCE)
    assert (time.perf_counter() - t0) / n * 1000 < 0.2


def test_check_turns_names_the_file_line_and_field():
    from hotline.core.validate import check_turns

    ok = check_turns([{"speaker": "agent", "text": "您好，工号1086"}, {"speaker": "customer", "text": "宽带断了", "x": 1}],
                     "calls.jsonl:3")
    assert ok == [{"speaker": "agent", "text": "您好，工号1086"}, {"speaker": "customer", "text": "宽带断了"}]
    bad = [
        ([], r"calls.jsonl:3: field 'turns' must be a non-empty list"),
        ("宽带断了", r"field 'turns' must be a non-empty list"),
        (["宽带断了"], r"field 'turns\[0\]' must be an object"),
        ([{"speaker": "客户", "text": "宽带断了"}], r"turns\[0\]\.speaker' must be 'agent' or 'customer', got '客户'"),
        ([{"speaker": "customer", "text": "  "}], r"turns\[0\]\.text' must be a non-empty string"),
        ([{"speaker": "customer", "text": "宽带\x00断了"}], r"turns\[0\]\.text' contains control characters"),
        ([{"speaker": "customer", "text": "宽" * 11}], r"is 11 characters, the limit is 10 \(HOTLINE_MAX_TEXT_CHARS\)"),
        ([{"speaker": "customer", "text": "宽带"}] * 3, r"has 3 turns, the limit is 2"),
    ]
    for turns, message in bad:
        with pytest.raises(InvalidInputError, match=message):
            check_turns(turns, "calls.jsonl:3", max_chars=10, max_turns=2)
