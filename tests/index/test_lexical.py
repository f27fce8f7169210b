from __future__ import annotations

import numpy as np
import pytest

from hotline.core.errors import NotFittedError
from hotline.index.lexical import Bm25Index

DOCS = [["宽带", "断网", "光猫"], ["话费", "查询", "余额"], ["信号", "差"], []]


def test_scores_rank_matching_doc_first():
    bm = Bm25Index()
    bm.index(DOCS)
    s = bm.scores([["话费", "余额"], ["光猫", "红灯"]])
    assert s.shape == (2, 4)
    assert s[0].argmax() == 1 and s[1].argmax() == 0


def test_unknown_and_empty_queries_score_zero():
    bm = Bm25Index()
    bm.index(DOCS)
    s = bm.scores([["火星", "天气"], []])
    assert (s == 0).all()
    assert (bm.coverage([["火星"], []]) == 0).all()
    scores, ids = bm.search([["火星"]], k=2)
    assert scores.shape == (1, 2) and (scores == 0).all()


def test_coverage_is_share_of_query_idf():
    bm = Bm25Index()
    bm.index(DOCS)
    cov = bm.coverage([["话费", "余额"], ["话费", "火星"]])
    assert cov[0, 1] == pytest.approx(1.0)
    assert 0 < cov[1, 1] < 1 and cov[1, 0] == 0


def test_save_load_identical(tmp_path):
    bm = Bm25Index(k1=1.5, b=0.6)
    bm.index(DOCS)
    bm.save(tmp_path / "bm")
    back = Bm25Index.load(tmp_path / "bm")
    q = [["宽带", "光猫"], ["差"]]
    assert np.array_equal(bm.scores(q), back.scores(q))
    assert back.k1 == 1.5 and back.b == 0.6


def test_not_fitted():
    with pytest.raises(NotFittedError):
        Bm25Index().scores([["a"]])
