"""Tests for hotline.core.segment.JiebaSegmenter: user dictionary, stop words, laziness, pickling."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import jieba
import joblib
import pytest

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.resources import data_path
from hotline.core.segment import BACKENDS, JiebaSegmenter, default_backend

# Words jieba's default dictionary splits (携号/转网, 副/卡, 千兆/宽带 …); the user dictionary keeps them whole.
USER_WORDS = ["携号转网", "宽带续费", "千兆宽带", "副卡"]


@pytest.fixture(scope="module")
def lexicon(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("lexicon")
    dict_path = d / "telecom_dict.txt"
    dict_path.write_text("光猫 100 n\n携号转网 50 v\n宽带续费\n千兆宽带 20\n副卡 10 n\n", encoding="utf-8")
    stop_path = d / "stopwords.txt"
    stop_path.write_text("# comment\n的\n了\n我\n吗\n请问\nThe\n", encoding="utf-8")
    return dict_path, stop_path


@pytest.fixture(scope="module")
def seg(lexicon: tuple[Path, Path]) -> JiebaSegmenter:
    s = JiebaSegmenter(dict_path=lexicon[0], stopwords_path=lexicon[1])
    s.warm_up()
    return s


def test_defaults_point_to_shipped_lexicon() -> None:
    s = JiebaSegmenter()
    assert s.dict_path is None and s.stopwords_path is None
    assert s.tokenizer_ is None  # __init__ does no I/O
    assert s._resolved_paths() == (data_path("lexicon", "telecom_dict.txt"), data_path("lexicon", "stopwords.txt"))


def test_missing_dict_raises_artifact_error_naming_path(tmp_path: Path, lexicon: tuple[Path, Path]) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(ArtifactError, match="dict_path not found: .*nope.txt"):
        JiebaSegmenter(dict_path=missing, stopwords_path=lexicon[1]).warm_up()
    with pytest.raises(ArtifactError, match="stopwords_path not found: .*nope.txt"):
        JiebaSegmenter(dict_path=lexicon[0], stopwords_path=missing).warm_up()


@pytest.mark.parametrize("word", USER_WORDS)
def test_user_dict_words_stay_whole(seg: JiebaSegmenter, word: str) -> None:
    text = f"我想问一下{word}的问题"
    assert word in seg.cut(text)
    assert word in seg.tokens(text)


def test_cut_keeps_everything(seg: JiebaSegmenter) -> None:
    text = "我的光猫一直闪红灯，想办理携号转网"
    words = seg.cut(text)
    assert "".join(words) == text
    assert "光猫" in words and "携号转网" in words and "，" in words


def test_tokens_drop_stopwords_punctuation_whitespace_and_lowercase(seg: JiebaSegmenter) -> None:
    tokens = seg.tokens("请问 我的光猫坏了吗？！ The WiFi 和 5G…… ~~")
    assert "光猫" in tokens
    assert "wifi" in tokens and "5g" in tokens
    for dropped in ("请问", "我", "的", "了", "吗", "？", "！", "the", " ", "……", "~~", "WiFi"):
        assert dropped not in tokens


def test_tokens_of_masked_phone(seg: JiebaSegmenter) -> None:
    assert seg.tokens("回电138****5678") == ["回电", "138", "5678"]


def test_own_tokenizer_does_not_touch_jieba_global(seg: JiebaSegmenter) -> None:
    assert seg.tokenizer_ is not jieba.dt
    assert "携号转网" in seg.cut("我想问一下携号转网的问题")
    # The global tokenizer never learned the user words.
    assert "携号转网" not in jieba.lcut("我想问一下携号转网的问题")


def test_cut_before_warm_up_loads_lazily(lexicon: tuple[Path, Path]) -> None:
    s = JiebaSegmenter(dict_path=lexicon[0], stopwords_path=lexicon[1])
    assert s.tokenizer_ is None
    assert "光猫" in s.cut("光猫坏了")
    assert s.tokenizer_ is not None


def test_warm_up_is_idempotent(seg: JiebaSegmenter) -> None:
    tok = seg.tokenizer_
    seg.warm_up()
    assert seg.tokenizer_ is tok


def test_run_equals_one_by_one(seg: JiebaSegmenter) -> None:
    texts = ["光猫一直闪红灯", "我要携号转网", "", "话费 不对!"]
    assert seg.run(texts) == {"tokens": [seg.tokens(t) for t in texts]}


def test_bad_input(seg: JiebaSegmenter) -> None:
    with pytest.raises(InvalidInputError, match="must be a str"):
        seg.cut(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="list of str"):
        seg.run("光猫")  # type: ignore[arg-type]


def test_pickle_round_trip(seg: JiebaSegmenter) -> None:
    data = pickle.dumps(seg)
    assert len(data) < 2000  # the tokenizer's prefix dict is not in the pickle
    clone = pickle.loads(data)
    assert clone.tokenizer_ is None and clone.dict_path == seg.dict_path
    text = "我的光猫坏了，想办理携号转网和宽带续费"
    assert clone.tokens(text) == seg.tokens(text)
    assert "携号转网" in clone.cut(text)


def test_joblib_round_trip_inside_a_bound_method(seg: JiebaSegmenter, tmp_path: Path) -> None:
    # scikit-learn pipelines hold the segmenter through analyzer=seg.tokens
    path = tmp_path / "analyzer.joblib"
    joblib.dump({"analyzer": seg.tokens}, path)
    analyzer = joblib.load(path)["analyzer"]
    assert analyzer("副卡的千兆宽带") == seg.tokens("副卡的千兆宽带")


def test_in_sklearn_vectorizer(seg: JiebaSegmenter) -> None:
    from sklearn.feature_extraction.text import CountVectorizer

    vec = CountVectorizer(analyzer=seg.tokens).fit(["光猫坏了", "我要携号转网"])
    assert {"光猫", "携号转网"} <= set(vec.vocabulary_)
    clone = pickle.loads(pickle.dumps(vec))
    assert (clone.transform(["光猫"]).toarray() == vec.transform(["光猫"]).toarray()).all()


# -- backends ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_each_backend_honours_the_user_dictionary(lexicon: tuple[Path, Path], backend: str) -> None:
    s = JiebaSegmenter(dict_path=lexicon[0], stopwords_path=lexicon[1], backend=backend)
    words = s.cut("我想问一下携号转网和千兆宽带的问题")
    assert "携号转网" in words and "千兆宽带" in words
    assert s.tokens("我的副卡欠费了") == ["副卡", "欠费"]


def test_default_backend_is_the_fast_one_when_installed() -> None:
    pytest.importorskip("jieba_fast_dat")
    assert default_backend() == "jieba_fast_dat"
    assert JiebaSegmenter().backend == "jieba_fast_dat"


def test_backends_agree_on_the_hand_written_checks() -> None:
    pytest.importorskip("jieba_fast_dat")
    fast, ref = JiebaSegmenter(backend="jieba_fast_dat"), JiebaSegmenter(backend="jieba")
    texts = [json.loads(line)["text"] for line in
             data_path("checks", "classify_handwritten.jsonl").read_text(encoding="utf-8").splitlines() if line]
    same = sum(fast.cut(t) == ref.cut(t) for t in texts)
    assert same / len(texts) >= 0.9  # their bundled dictionaries differ a little; the user words dominate


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="backend must be one of"):
        JiebaSegmenter(backend="pkuseg")


def test_the_backend_travels_in_the_pickle(lexicon: tuple[Path, Path]) -> None:
    s = JiebaSegmenter(dict_path=lexicon[0], stopwords_path=lexicon[1], backend="jieba")
    assert pickle.loads(pickle.dumps(s)).backend == "jieba"
    # a pickle from before backends were recorded was trained with the reference jieba
    old = JiebaSegmenter.__new__(JiebaSegmenter)
    old.__setstate__({"dict_path": lexicon[0], "stopwords_path": lexicon[1]})
    assert old.backend == "jieba"


def test_missing_fast_backend_falls_back_to_jieba(lexicon: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "jieba_fast_dat", None)  # import now raises ImportError
    s = JiebaSegmenter(dict_path=lexicon[0], stopwords_path=lexicon[1], backend="jieba_fast_dat")
    with caplog.at_level("WARNING"):
        assert "携号转网" in s.cut("我要携号转网")
    assert s.backend == "jieba" and "not installed" in caplog.text
