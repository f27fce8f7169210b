"""The naive peer of the speed benchmark: what a team would write in an afternoon.

Global ``jieba.lcut`` for words, a default ``CountVectorizer`` + ``LogisticRegression()`` for the category and
``rank_bm25.BM25Okapi`` over the FAQ knowledge base. No normalisation, PII masking, sentence encoder,
calibration or no-answer model. It is a yardstick, not a product path: it uses jieba's global tokenizer on
purpose, because that is what the naive version does.

Example:
    >>> peer = NaivePeer()
    >>> peer.warm_up()  # doctest: +SKIP
    >>> peer.fit_classifier(texts, labels)  # doctest: +SKIP
    >>> peer.fit_bm25(kb.entries)  # doctest: +SKIP
    >>> label, top = peer.assist("宽带连不上")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from hotline.core.errors import NotFittedError

__all__ = ["NaivePeer"]


def _analyzer(doc: str | list[str]) -> list[str]:
    # Pre-tokenised lists pass through, so the peer segments each utterance once (fair to the peer).
    import jieba

    return doc if isinstance(doc, list) else jieba.lcut(doc)


def _kb_document(entry: Any) -> str:
    """One BM25 document per FAQ entry: its question, similar questions and answer."""
    return " ".join([entry.question, *entry.similar, entry.answer])


class NaivePeer:
    """Global jieba + default CountVectorizer/LogisticRegression + rank_bm25 over the KB."""

    def __init__(self) -> None:
        self.vectorizer_: Any = None
        self.lr_: Any = None
        self.bm25_: Any = None

    def warm_up(self) -> None:
        """Load jieba's dictionary now, so neither fit nor the first timed call pays for it."""
        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()

    def fit_classifier(self, texts: list[str], labels: list[str]) -> float:
        """Fit the bag-of-words classifier with library defaults; returns the seconds it took."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression

        t0 = time.perf_counter()
        self.vectorizer_ = CountVectorizer(analyzer=_analyzer)
        x = self.vectorizer_.fit_transform(texts)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # defaults are the point: max_iter=100
            self.lr_ = LogisticRegression().fit(x, labels)
        return time.perf_counter() - t0

    def fit_bm25(self, entries: Sequence[Any]) -> NaivePeer:
        """Index FAQ entries (``question``, ``similar``, ``answer``) with BM25Okapi over jieba words."""
        import jieba
        from rank_bm25 import BM25Okapi

        self.bm25_ = BM25Okapi([jieba.lcut(_kb_document(e)) for e in entries])
        return self

    def with_knowledge_base(self, entries: Sequence[Any]) -> NaivePeer:
        """A peer with this one's fitted classifier and a BM25 index over ``entries`` (this one is unchanged)."""
        other = NaivePeer()
        other.vectorizer_, other.lr_ = self.vectorizer_, self.lr_
        return other.fit_bm25(entries)

    def assist(self, text: str, top_k: int = 5) -> tuple[str, np.ndarray]:
        """Segment once, classify, BM25 top-``top_k``: ``(label, entry positions best first)``."""
        import jieba

        self._check_fitted(bm25=True)
        toks = jieba.lcut(text)
        probs = self.lr_.predict_proba(self.vectorizer_.transform([toks]))[0]
        scores = self.bm25_.get_scores(toks)
        k = min(top_k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return str(self.lr_.classes_[int(probs.argmax())]), top

    def classify(self, texts: list[str]) -> np.ndarray:
        """Class probabilities ``[n, n_classes]``."""
        import jieba

        self._check_fitted()
        return self.lr_.predict_proba(self.vectorizer_.transform([jieba.lcut(t) for t in texts]))

    def _check_fitted(self, *, bm25: bool = False) -> None:
        if self.lr_ is None:
            raise NotFittedError("This NaivePeer is not fitted yet. Call 'fit_classifier' first.")
        if bm25 and self.bm25_ is None:
            raise NotFittedError("This NaivePeer has no knowledge base yet. Call 'fit_bm25' first.")
