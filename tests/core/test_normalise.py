"""Tests for hotline.core.normalise: NFKC width folding, traditional → simplified, whitespace."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from hotline.core.errors import InvalidInputError
from hotline.core.normalise import TextNormaliser, normalise_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("我的宽带断网了", "我的宽带断网了"),  # simplified stays as is
        ("我的寬帶斷網了", "我的宽带断网了"),  # traditional → simplified
        ("手機沒有訊號了怎麼辦", "手机没有讯号了怎么办"),
        ("１３８１２３４５６７８", "13812345678"),  # full-width digits
        ("ＷｉＦｉ斷了", "WiFi断了"),  # full-width Latin
        ("你好，请问？", "你好,请问?"),  # NFKC folds full-width punctuation
        ("  套餐\t\t余额 \n 查询  ", "套餐 余额 查询"),  # whitespace runs → one space, stripped
        ("网络\u3000很慢", "网络 很慢"),  # ideographic space
        ("宽\u200b带", "宽带"),  # zero-width space removed
        ("\ufeff话费", "话费"),  # BOM removed
        ("沈默", "沉默"),  # phrase-level conversion with no traditional-only character
        ("瞭解一下", "了解一下"),
        ("沈先生的手机", "沈先生的手机"),  # 沈 as a surname is kept
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalise_text(raw: str, expected: str) -> None:
    assert normalise_text(raw) == expected


def test_to_simplified_false_keeps_traditional() -> None:
    assert normalise_text("寬帶　斷網", to_simplified=False) == "寬帶 斷網"


def test_normalise_is_idempotent() -> None:
    for raw in ["我的寬帶　斷網了！ＡＢＣ", "  a  b  ", "從昨天開始"]:
        once = normalise_text(raw)
        assert normalise_text(once) == once


def test_non_str_raises_with_fix() -> None:
    with pytest.raises(InvalidInputError, match="must be a str, got int"):
        normalise_text(123)  # type: ignore[arg-type]


def test_fast_path_matches_opencc() -> None:
    """Skipping conversion for texts without trigger characters must not change any result."""
    import jieba
    from opencc import OpenCC

    cc = OpenCC("t2s")
    dict_file = Path(jieba.__file__).parent / "dict.txt"
    with dict_file.open(encoding="utf-8") as f:
        words = [line.split(" ")[0] for line in itertools.islice(f, 0, None, 7)]  # ~50k words, both scripts
    for word in words:
        assert normalise_text(word) == cc.convert(word), word


class TestTextNormaliser:
    def test_defaults(self) -> None:
        assert TextNormaliser().to_simplified is True

    def test_warm_up_twice(self) -> None:
        norm = TextNormaliser()
        norm.warm_up()
        norm.warm_up()

    def test_run_equals_one_by_one(self) -> None:
        texts = ["網絡  很慢", "ｗｉｆｉ斷了", "话费不对", ""]
        out = TextNormaliser().run(texts)
        assert out == {"texts": [normalise_text(t) for t in texts]}
        assert out["texts"] == ["网络 很慢", "wifi断了", "话费不对", ""]

    def test_run_respects_init(self) -> None:
        assert TextNormaliser(to_simplified=False).run(["寬帶"])["texts"] == ["寬帶"]

    def test_run_rejects_a_bare_string(self) -> None:
        with pytest.raises(InvalidInputError, match=r"wrap a single utterance as \[text\]"):
            TextNormaliser().run("宽带")  # type: ignore[arg-type]


def test_speed_per_utterance() -> None:
    import time

    text = "你好,我的手机号是13812345678,从昨天晚上开始一直没有信号,打了好几次10086都没人解决"
    normalise_text(text)
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        normalise_text(text)
    per_call_ms = (time.perf_counter() - t0) / n * 1000
    assert per_call_ms < 0.5, per_call_ms
