"""Fast stand-ins for the trained models, for the live-call engine tests (the real ones live in tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

from hotline.core.results import FaqHit, SearchResult
from hotline.core.taxonomy import default_taxonomy
from hotline.index.kb import load_specs

_KEYWORDS = {
    "broadband.cannot_connect": ["宽带", "光猫", "红灯", "连不上", "断网"],
    "broadband.slow": ["网速", "慢", "卡顿"],
    "billing.unexpected_charge": ["话费", "扣费", "扣了", "多扣"],
    "data.cannot_connect": ["流量", "上不了网"],
    "inquiry.billing_info": ["查询", "余额", "还剩"],
}


class _FakeModel:
    def threshold_for(self, label: str) -> float:
        return 0.3


class FakeClassifier:
    """Keyword counts → softmax. Texts without keywords get a uniform distribution."""

    def __init__(self) -> None:
        self.classes = list(_KEYWORDS)
        self.taxonomy = default_taxonomy()
        self.model = _FakeModel()
        self.calls = 0

    def probabilities(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        scores = np.array([[sum(k in t for k in kws) for kws in _KEYWORDS.values()] for t in texts], dtype=float)
        e = np.exp(3.0 * scores)
        return e / e.sum(axis=1, keepdims=True)  # [n, n_classes]


class FakeRetriever:
    def __init__(self) -> None:
        self.queries: list[tuple[str, dict]] = []

    def run(self, queries, top_k=5, category_probs=None):
        self.queries.extend(zip(queries, category_probs or [{}] * len(queries)))
        out = []
        for probs in category_probs or [{}] * len(queries):
            best = max(probs, key=probs.get) if probs else None
            hit = FaqHit(id=f"kb-{best}", score=0.9, question=f"关于{best}", answer="请先重启设备", category=best)
            out.append(SearchResult(hits=[hit], no_answer=False))  # the real retriever's result type
        return {"results": out}


class FakePipeline:
    top_k = 3

    def __init__(self) -> None:
        self.classifier = FakeClassifier()
        self.taxonomy = self.classifier.taxonomy
        self.retriever = FakeRetriever()
        self.specs = load_specs()


@pytest.fixture
def fake_pipeline() -> FakePipeline:
    return FakePipeline()
