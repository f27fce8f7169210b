"""The naive peer: fits with library defaults, classifies, searches the KB; refuses to run unfitted."""

from __future__ import annotations

import numpy as np
import pytest

from hotline.core.errors import NotFittedError
from hotline.eval.benchmarks.peer import NaivePeer
from hotline.index.kb import FaqEntry

TEXTS = ["宽带连不上网", "光猫红灯一直闪", "家里宽带断网了", "话费扣多了", "这个月账单不对", "乱扣我话费"]
LABELS = ["broadband", "broadband", "broadband", "billing", "billing", "billing"]
KB = [FaqEntry(id="kb-1", question="宽带断网怎么办", answer="请重启光猫", similar=["光猫红灯"]),
      FaqEntry(id="kb-2", question="话费扣多了怎么办", answer="请查询账单明细", similar=[])]


def test_peer_classifies_and_ranks_the_kb():
    peer = NaivePeer()
    peer.warm_up()
    assert peer.fit_classifier(TEXTS, LABELS) >= 0.0
    peer.fit_bm25(KB)
    label, top = peer.assist("宽带断网了", top_k=5)
    assert label == "broadband" and top.tolist()[0] == 0 and len(top) == 2  # top_k capped at the KB size
    probs = peer.classify(["话费扣多了", "光猫红灯"])
    assert probs.shape == (2, 2) and np.allclose(probs.sum(1), 1.0)


def test_with_knowledge_base_shares_the_classifier_and_leaves_this_peer_alone():
    peer = NaivePeer()
    peer.fit_classifier(TEXTS, LABELS)
    peer.fit_bm25(KB)
    other = peer.with_knowledge_base(KB[1:])
    assert other.lr_ is peer.lr_ and other.bm25_ is not peer.bm25_
    assert other.assist("话费")[1].tolist() == [0] and len(peer.assist("话费")[1]) == 2


def test_unfitted_peer_says_what_to_call():
    with pytest.raises(NotFittedError, match="fit_classifier"):
        NaivePeer().classify(["x"])
    peer = NaivePeer()
    peer.fit_classifier(TEXTS, LABELS)
    with pytest.raises(NotFittedError, match="fit_bm25"):
        peer.assist("x")
