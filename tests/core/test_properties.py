"""Property-based tests (hypothesis) of the text foundation: normalise, segment, mask, numerals.

Inputs are arbitrary Unicode *including* what a JSON client can send and ``st.text()`` never makes: lone
UTF-16 surrogates (``"\\ud800"``), C0/C1 control characters, zero-width characters, very long runs, Chinese
telecom speech with huge or impossible numbers and dates. Each property says what must hold for every input;
the first is always that nothing crashes.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hotline.core.errors import InvalidInputError
from hotline.core.mask import mask_pii, masked_text
from hotline.core.normalise import normalise_text
from hotline.core.numerals import parse_int
from hotline.core.segment import JiebaSegmenter

# No deadline: the machine is shared and noisy; these are about correctness, not speed.
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
_CONTROLS = st.one_of(st.integers(0, 0x1F).map(chr), st.integers(0x7F, 0x9F).map(chr),
                      st.sampled_from("\u200b\u200c\u200d\u2060\ufeff\u2028\u2029\u3000\xa0\ufffd"))
_SPEECH = st.sampled_from([
    "我家宽带三千年前就开始断网了", "99999999年", "2月30日", "0000-00-00", "9999-12-31 23:59", "九千九百九十九年前",
    "宽带连不上", "光猫亮红灯", "话费扣了三十八块", "号码是幺三八一二三四五六七八", "13812345678", "我要投诉到工信部",
    "昨天晚上八点", "上上个月3号", "一个半小时前", "99999天前", "三十二月四十五号", "25点61分", "國慶節以後", "ＡＢＣ１２３",
    "身份证110101199003071234", "银行卡6222021234567890123", "😀", "\U00020000", "零零零零年零月零日",
])
_FRAGMENT = st.one_of(
    st.text(max_size=30),  # arbitrary Unicode (no surrogates)
    _SURROGATES, _CONTROLS, _SPEECH,
    st.integers(min_value=0, max_value=10**30).map(str),  # huge numbers
    st.tuples(st.sampled_from("宽9零a \n,，"), st.integers(200, 3000)).map(lambda t: t[0] * t[1]),  # long runs
)
NASTY = st.lists(_FRAGMENT, max_size=8).map("".join)
"""Arbitrary text as a client may send it: Unicode with lone surrogates, controls, speech, numbers, long runs."""

_SURROGATE_RE = re.compile("[\ud800-\udfff]")


@pytest.fixture(scope="module")
def seg() -> JiebaSegmenter:
    s = JiebaSegmenter()
    s.warm_up()
    return s


def _utf8(text: str) -> None:
    text.encode("utf-8")  # raises on a lone surrogate: such text cannot be sent back or logged as UTF-8


# -- normalise ---------------------------------------------------------------------------------
@PROPS
@given(NASTY)
@example("\ud800")
@example("宽带\udfff断了\ud83d")
@example("\u200b" * 5000)
def test_normalise_output_is_clean_utf8_and_stable(text: str) -> None:
    out = normalise_text(text)
    _utf8(out)
    assert _SURROGATE_RE.search(out) is None
    assert out == out.strip() and "  " not in out and "\u200b" not in out
    assert normalise_text(out) == out  # idempotent: normalising twice changes nothing


def test_normalise_drops_lone_surrogates_but_keeps_real_astral_characters() -> None:
    assert normalise_text("宽\ud800带\udfff断了") == "宽带断了"
    assert normalise_text("信号😀没了\U00020000") == "信号😀没了\U00020000"  # one code point each, not halves


def test_normalise_refuses_non_str_naming_the_type() -> None:
    with pytest.raises(InvalidInputError, match="must be a str, got bytes"):
        normalise_text(b"\xed\xa0\x80")  # type: ignore[arg-type]


# -- segment ----------------------------------------------------------------------------------
@PROPS
@given(NASTY)
@example("\ud800宽带断网")
@example("\x00" * 100)
def test_segment_cut_covers_the_text_and_tokens_are_clean(seg: JiebaSegmenter, text: str) -> None:
    words = seg.cut(text)
    # every character is in exactly one word (a lone surrogate as U+FFFD), so nothing is lost or invented
    assert "".join(words) == _SURROGATE_RE.sub("\ufffd", text)
    for tok in seg.tokens(text):
        _utf8(tok)
        assert tok and tok == tok.strip().lower() and tok not in seg.stopwords_


@pytest.mark.parametrize("backend", ["jieba", "jieba_fast_dat"])
def test_both_backends_cut_a_lone_surrogate_alike(backend: str) -> None:
    s = JiebaSegmenter(backend=backend)
    assert s.cut("宽带\ud800断了") == ["宽带", "\ufffd", "断", "了"]
    assert "\ufffd" not in s.tokens("宽带\ud800断了")


# -- mask ---------------------------------------------------------------------------------------
@PROPS
@given(NASTY)
@example("号码是幺三八一二三四五六七八\ud800")
@example("1" * 3000)
def test_mask_spans_are_ordered_inside_the_text_and_masked(text: str) -> None:
    res = mask_pii(text)
    prev_end = 0
    for e in res.entities:
        assert prev_end <= e.start < e.end <= len(text)
        assert e.value.isdigit()
        prev_end = e.end
    for e in res.entities:
        if e.type.value == "phone":
            assert e.value not in res.text  # the whole number never survives masking
    _utf8(masked_text(text))


# -- numerals ---------------------------------------------------------------------------------
@PROPS
@given(st.text(alphabet="零〇一二两三四五六七八九十百千万亿幺0123456789点负", max_size=20))
@example("九" * 200)
@example("三千年")
def test_parse_int_gives_an_int_or_a_clear_error(said: str) -> None:
    try:
        n = parse_int(said)
    except InvalidInputError as exc:
        assert str(exc)  # a message, never a bare ValueError/OverflowError from the parser
    else:
        assert isinstance(n, int)
