"""Metric functions (pure, no I/O). Names follow the house style: ``accuracy``, ``macro_f1``, ``recall@5``."""

from __future__ import annotations

from collections import Counter

import numpy as np

__all__ = [
    "classification_metrics",
    "expected_calibration_error",
    "reliability_bins",
    "top_k_accuracy",
    "confused_pairs",
    "recall_at_k",
    "reciprocal_rank",
    "ndcg_at_k",
    "mean_ranking_metrics",
]


def expected_calibration_error(conf: np.ndarray, correct: np.ndarray, *, n_bins: int = 15) -> float:
    """ECE with equal-width confidence bins: sum over bins of |accuracy − confidence| × share."""
    conf = np.asarray(conf, dtype=float)
    correct = np.asarray(correct, dtype=float)
    if len(conf) == 0:
        return 0.0
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def reliability_bins(conf: np.ndarray, correct: np.ndarray, *, n_bins: int = 10) -> list[dict[str, float]]:
    """Per-bin mean confidence, accuracy and count, for a reliability diagram."""
    conf = np.asarray(conf, dtype=float)
    correct = np.asarray(correct, dtype=float)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    out = []
    for b in range(n_bins):
        m = bins == b
        out.append({
            "lo": b / n_bins, "hi": (b + 1) / n_bins, "n": int(m.sum()),
            "confidence": float(conf[m].mean()) if m.any() else None,
            "accuracy": float(correct[m].mean()) if m.any() else None,
        })
    return out


def top_k_accuracy(probs: np.ndarray, y: np.ndarray, k: int) -> float:
    if len(y) == 0:
        return 0.0
    k = min(k, probs.shape[1])
    top = np.argsort(-probs, axis=1)[:, :k]
    return float(np.mean([y[i] in top[i] for i in range(len(y))]))


def confused_pairs(y_true: list[str], y_pred: list[str], *, top: int = 10) -> list[dict[str, object]]:
    """Most frequent (true, predicted) mistakes."""
    c = Counter((t, p) for t, p in zip(y_true, y_pred) if t != p)
    return [{"true": t, "pred": p, "count": n} for (t, p), n in c.most_common(top)]


def classification_metrics(y_true: list[str], probs: np.ndarray, classes: list[str]) -> dict[str, object]:
    """Accuracy, macro-F1, top-3, per-class P/R/F1, ECE and confusions for string labels.

    Labels in ``y_true`` the model does not know count as errors.
    """
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index.get(t, -1) for t in y_true])
    pred_idx = probs.argmax(1)
    y_pred = [classes[i] for i in pred_idx]
    conf = probs.max(1)
    correct = pred_idx == y
    labels = sorted(set(y_true) | set(y_pred))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "n": len(y_true),
        "accuracy": float(correct.mean()) if len(y) else 0.0,
        "macro_f1": float(f1_score(y_true, y_pred, labels=sorted(set(y_true)), average="macro", zero_division=0)),
        "top3_accuracy": top_k_accuracy(probs, y, 3),
        "ece": expected_calibration_error(conf, correct),
        "per_class": {
            lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, lab in enumerate(labels)
        },
        "confused_pairs": confused_pairs(list(y_true), y_pred),
        "reliability": reliability_bins(conf, correct),
    }


# -- ranking metrics (retrieval) ----------------------------------------------------------------
def recall_at_k(ranked: list[str], relevant: set[str] | list[str], k: int) -> float:
    """1.0 when any relevant id is among the first ``k`` ranked ids (FAQ retrieval has one right answer)."""
    rel = set(relevant)
    if not rel:
        return 0.0
    return float(any(r in rel for r in ranked[:k]))


def reciprocal_rank(ranked: list[str], relevant: set[str] | list[str], k: int = 10) -> float:
    """1 / rank of the first relevant id within the first ``k``, else 0 (average it for ``mrr@k``)."""
    rel = set(relevant)
    for i, r in enumerate(ranked[:k]):
        if r in rel:
            return 1.0 / (i + 1)
    return 0.0


def ndcg_at_k(ranked: list[str], relevant: set[str] | list[str], k: int = 10) -> float:
    """Binary-relevance nDCG@k."""
    rel = set(relevant)
    if not rel:
        return 0.0
    dcg = sum(1.0 / np.log2(i + 2) for i, r in enumerate(ranked[:k]) if r in rel)
    idcg = sum(1.0 / np.log2(i + 2) for i in range(min(len(rel), k)))
    return float(dcg / idcg)


def mean_ranking_metrics(rankings: list[list[str]], relevant: list[set[str] | list[str]],
                         ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """``recall@k`` for each k, ``mrr@10`` and ``ndcg@10`` averaged over queries."""
    n = len(rankings)
    out: dict[str, float] = {}
    for k in ks:
        out[f"recall@{k}"] = float(np.mean([recall_at_k(r, g, k) for r, g in zip(rankings, relevant, strict=True)])) if n else 0.0
    out["mrr@10"] = float(np.mean([reciprocal_rank(r, g, 10) for r, g in zip(rankings, relevant, strict=True)])) if n else 0.0
    out["ndcg@10"] = float(np.mean([ndcg_at_k(r, g, 10) for r, g in zip(rankings, relevant, strict=True)])) if n else 0.0
    return out
