from __future__ import annotations

import logging
import random

import numpy as np
import pytest

from hotline.index.abstention import AbstentionCalibrator
from hotline.index.calibration import (
    _pick_threshold,
    _pseudo_queries,
    calibration_features,
    fit_self_calibrators,
    read_offtopic,
)
from hotline.index.faq_index import FaqIndex
from hotline.index.fusion import CATEGORY_FEATURES, FEATURES
from hotline.index.rows import doc_tokens, encode_rows, entry_rows


def test_features_zero_coverage_and_keep_the_layout():
    cos = np.array([[0.9, 0.2, 0.1]], dtype=np.float32)
    bm = np.array([[3.0, 0.0, 1.0]], dtype=np.float32)
    cov = np.array([[1.0, 0.0, 0.5]], dtype=np.float32)
    top = np.array([0])
    plain = calibration_features(cos, cos, bm, cov, top)
    assert tuple(plain) == FEATURES and plain["coverage_top"][0] == 0.0
    cat = calibration_features(cos, cos, bm, cov, top, aff=np.array([[0.8, 0.1, 0.1]]), query_conf=np.array([0.8]))
    assert tuple(cat) == CATEGORY_FEATURES and cat["affinity_log_top"][0] == pytest.approx(np.log(0.81))


def test_self_calibrators_from_a_built_index(small_kb, hash_encoder, segmenter, offtopic, keyword_classifier):
    index = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, category_model=keyword_classifier,
                           no_answer="none")
    texts, _, row_field = entry_rows(small_kb.entries, index.fields)
    emb = encode_rows(hash_encoder, texts, row_field)
    docs = [doc_tokens(e, index.bm25_fields, segmenter) for e in small_kb.entries]
    (plain, cat), stats = fit_self_calibrators(index, emb, docs, offtopic, category_model=keyword_classifier)
    assert isinstance(plain, AbstentionCalibrator) and plain.features == FEATURES
    assert cat is not None and cat.features == CATEGORY_FEATURES
    assert stats["threshold"] == plain.threshold_ and stats["category"]["threshold"] == cat.threshold_
    assert stats["n_offtopic"] == len(offtopic) and stats["n_similar"] == sum(len(e.similar) for e in small_kb)
    assert stats["threshold_rule"] in ("target_reject", "min_answer_rate")
    # the same numbers as the calibrators of an index built with no_answer="self"
    built = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, offtopic=offtopic,
                           category_model=keyword_classifier, no_answer="self")
    assert built.calibrator.to_dict() == plain.to_dict() and built.category_calibrator.to_dict() == cat.to_dict()


def test_too_few_examples_never_abstains(small_kb, hash_encoder, segmenter):
    from hotline.index.kb import KnowledgeBase

    one = KnowledgeBase(small_kb.entries[:1])
    idx = FaqIndex.build(one, hash_encoder, segmenter=segmenter, offtopic=[], no_answer="self")
    assert idx.calibrator is None and idx.meta["calibration"]["skipped"]
    assert idx.search(["宽带"])[0].no_answer is False


def test_pick_threshold_reaches_precision():
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    y = np.array([1, 1, 0, 1, 0])
    thr, curve = _pick_threshold(p, y, np.ones(5), 0.75)
    assert thr == 0.6  # answering the top 4 gives precision 3/4
    assert [c["threshold"] for c in curve][:2] == [0.3, 0.4] and curve[-1]["precision"] == 1.0
    thr, _ = _pick_threshold(p, y, np.ones(5), 0.99)
    assert thr == 0.8  # the top two are right: precision 1
    thr, _ = _pick_threshold(p, np.zeros(5), np.ones(5), 0.5)
    assert thr > 0.9  # out of reach: abstain on everything seen


def test_pseudo_queries_are_rewrites(segmenter):
    out = _pseudo_queries("宽带网速很慢怎么处理", segmenter, random.Random(0), n=4)
    assert out and all(q != "宽带网速很慢怎么处理" and q for q in out) and len(set(out)) == len(out)


def test_read_offtopic(tmp_path, caplog):
    p = tmp_path / "off.txt"
    p.write_text("# comment\n今天天气怎么样\n\n 股票会涨吗 \n", encoding="utf-8")
    assert read_offtopic(p) == ["今天天气怎么样", "股票会涨吗"]
    with caplog.at_level(logging.WARNING):
        assert read_offtopic(tmp_path / "none.txt") == []
    assert "missing" in caplog.text
    assert len(read_offtopic()) > 50  # the shipped data/kb/offtopic.txt
