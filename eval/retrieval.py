"""Evaluate a :class:`hotline.index.faq_index.FaqIndex` on labelled queries (answerable and unanswerable).

A query is ``{"query": str, "relevant": [entry ids]}``; an empty ``relevant`` list marks a query the KB
cannot answer (the index should say ``no_answer``).

Example:
    >>> from hotline.index.faq_index import FaqIndex
    >>> index = FaqIndex.load("~/.hotline/index")  # doctest: +SKIP
    >>> evaluate_retrieval(index, [{"query": "光猫亮红灯", "relevant": ["kb-001"]}])["recall@1"]  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hotline.core.errors import InvalidInputError
from hotline.core.jsonl import iter_jsonl
from hotline.models.metrics import mean_ranking_metrics

if TYPE_CHECKING:
    from hotline.index.faq_index import FaqIndex

__all__ = ["evaluate_retrieval", "load_queries"]


def load_queries(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL file of ``{"query", "relevant"}`` lines (``relevant`` may be a str, a list or empty)."""
    out = []
    for lineno, obj in iter_jsonl(path):
        q = obj.get("query")
        if not isinstance(q, str) or not q.strip():
            raise InvalidInputError(f"{path}:{lineno}: field 'query' must be a non-empty string, got {q!r}")
        rel = obj.get("relevant", [])
        rel = [] if rel is None else [rel] if isinstance(rel, str) else list(rel)
        out.append({**obj, "query": q, "relevant": rel})
    return out


def evaluate_retrieval(index: FaqIndex, queries: list[dict[str, Any]], *,
                       category_probs_fn: Callable[[list[str]], list[dict[str, float]]] | None = None,
                       batch_size: int = 64, k: int = 10) -> dict[str, Any]:
    """Ranking quality on answerable queries and no-answer quality on all of them.

    Returns:
        ``n``, ``n_answerable``, ``n_unanswerable``, ``recall@1/5/10``, ``mrr@10``, ``ndcg@10`` (answerable
        queries, ranking regardless of abstention), ``no_answer_accuracy`` (share of unanswerable queries with
        ``no_answer``), ``answerable_abstain_rate``, ``answered_precision`` (answered queries whose top hit is
        relevant), ``answered_recall@1`` (answerable queries answered with a right top hit), ``ms_per_query``
        and ``scores`` = confidences and top fused scores split by answerable / unanswerable, for histograms.
    """
    if not queries:
        raise InvalidInputError("queries is empty; pass at least one {'query', 'relevant'} dict")
    texts = [q["query"] for q in queries]
    rel = [set(q.get("relevant") or []) for q in queries]
    results = []
    t0 = time.perf_counter()
    for lo in range(0, len(texts), batch_size):
        batch = texts[lo : lo + batch_size]
        probs = category_probs_fn(batch) if category_probs_fn is not None else None
        results.extend(index.search(batch, top_k=k, category_probs=probs))
    elapsed = time.perf_counter() - t0
    ans = np.array([bool(r) for r in rel])
    ranked = [[h.id for h in r.hits] for r in results]
    no_answer = np.array([r.no_answer for r in results])
    top_ok = np.array([bool(rk) and rk[0] in g for rk, g in zip(ranked, rel, strict=False)])
    conf = np.array([r.confidence for r in results])
    top_score = np.array([r.hits[0].score if r.hits else 0.0 for r in results])
    out: dict[str, Any] = {
        "n": len(queries),
        "n_answerable": int(ans.sum()),
        "n_unanswerable": int((~ans).sum()),
    }
    out.update(mean_ranking_metrics([ranked[i] for i in np.flatnonzero(ans)], [rel[i] for i in np.flatnonzero(ans)]))
    answered = ~no_answer
    out["no_answer_accuracy"] = float(no_answer[~ans].mean()) if (~ans).any() else None
    out["answerable_abstain_rate"] = float(no_answer[ans].mean()) if ans.any() else None
    out["answered_precision"] = float(top_ok[answered].mean()) if answered.any() else None
    out["answered_recall@1"] = float((top_ok & answered)[ans].mean()) if ans.any() else None
    out["ms_per_query"] = 1000.0 * elapsed / len(queries)
    out["scores"] = {
        "answerable_confidence": conf[ans].tolist(),
        "unanswerable_confidence": conf[~ans].tolist(),
        "answerable_top_score": top_score[ans].tolist(),
        "unanswerable_top_score": top_score[~ans].tolist(),
        "answerable_top_correct": top_ok[ans].tolist(),
    }
    return out
