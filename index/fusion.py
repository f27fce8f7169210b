"""Score fusion and the features of a query's top hit (pure numpy, shared by search, calibration and fitting).

All score matrices are ``[n_queries, n_entries]``; an entry masked out of the candidates carries ``-inf``.

- :func:`fuse`: ``w_cos·z(dense) + w_bm25·z(bm25)``, z-scored per query over the KB so encoders with
  compressed cosine ranges and BM25 share a scale; :func:`z_log_affinity` is the category term added to it.
- :func:`hit_features`: the self-supervised calibrator's features (:data:`FEATURES`, with category probs
  :data:`CATEGORY_FEATURES`).
- :func:`na_features`: the shipped no-answer model's KB-agnostic features (:data:`NA_FEATURES`,
  :data:`NA_CATEGORY_FEATURES`).

Example:
    >>> cos = np.array([[0.9, 0.2, 0.1]], dtype=np.float32)
    >>> bm = np.array([[3.0, 0.0, 1.0]], dtype=np.float32)
    >>> top_indices(fuse(cos, bm, FusionWeights()), 2).tolist()
    [[0, 2]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["FusionWeights", "CategoryModel", "FEATURES", "CATEGORY_FEATURES", "NA_FEATURES",
           "NA_CATEGORY_FEATURES", "fuse", "z_log_affinity", "top_indices", "hit_features", "na_features"]

FEATURES = ("cos_top", "fused_top", "cos_margin", "fused_margin", "coverage_top", "bm25_log_top")
CATEGORY_FEATURES = (*FEATURES, "affinity_log_top", "query_category_conf")
NA_FEATURES = ("cos_top", "cos_z_top", "cos_margin", "fused_top", "fused_margin", "bm25_z_top", "bm25_log_top",
               "query_len_log")
NA_CATEGORY_FEATURES = (*NA_FEATURES, "affinity_log_top", "affinity_log_max", "query_category_conf",
                        "query_category_entropy")
_AFF_EPS = 0.01  # log(aff + eps): an entry of another category is not infinitely unlikely
_AFF_SD_FLOOR = 0.5  # z-score floor (nats): a query the classifier is unsure of has a flat affinity row


class CategoryModel(Protocol):
    """What the index needs of a classifier (``models.classifier.ComplaintClassifier``)."""

    classes_: Sequence[str]

    def predict_proba(self, texts: list[str]) -> np.ndarray: ...


@dataclass
class FusionWeights:
    """Linear fusion weights over per-query z-scores (each signal minus its mean over the KB, over its std).

    ``dense = (1 − answer)·max cos over question/similar rows + answer·cos of the answer row``;
    ``fused = cos·z(dense) + bm25·z(bm25) + category·z(log(affinity + 0.01))``.
    z-scoring puts encoders with compressed cosine ranges (e5: 0.7–0.9), BM25 and the category affinity on one
    scale. ``answer`` and ``bm25`` are the original hand-set values; ``category`` = 0.5 was best on both halves
    of a 2-fold split of ``data/checks`` (0.25–0.75 within 0.02 recall@1).
    """

    cos: float = 1.0
    answer: float = 0.3
    bm25: float = 0.3
    category: float = 0.5


# -- fusion -------------------------------------------------------------------------------------
def _z(x: np.ndarray) -> np.ndarray:
    """Per-row z-score ``[n, E]``; constant rows (e.g. no query token known to BM25) become 0."""
    finite = np.where(np.isfinite(x), x, np.nan)
    mu = np.nanmean(finite, axis=1, keepdims=True)
    sd = np.nanstd(finite, axis=1, keepdims=True)
    return np.where(np.isfinite(x), (x - mu) / np.maximum(sd, 1e-6), x)


def fuse(cos: np.ndarray, bm: np.ndarray, w: FusionWeights) -> np.ndarray:
    """``w.cos·z(cos) + w.bm25·z(bm)`` ``[n, E]`` (the category term is added by the caller)."""
    out = w.cos * _z(cos)
    if w.bm25:
        out = out + w.bm25 * _z(bm)
    return out


def z_log_affinity(aff: np.ndarray) -> np.ndarray:
    """``z(log(aff + eps))`` per query, its std floored so a flat (unsure) affinity row stays small."""
    la = np.log(np.where(np.isfinite(aff), np.maximum(aff, 0.0), np.nan) + _AFF_EPS)
    mu = np.nanmean(la, axis=1, keepdims=True)
    sd = np.nanstd(la, axis=1, keepdims=True)
    out = (la - mu) / np.maximum(sd, _AFF_SD_FLOOR)
    return np.where(np.isfinite(aff), out, aff).astype(np.float32)


def top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Column numbers ``[n, k]`` of each row's ``k`` best scores, best first (ties: lower column first)."""
    if k >= scores.shape[1]:
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


# -- features of the top hit ------------------------------------------------------------------------
def _second_best(x: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Best value per row excluding column ``top[i]``."""
    if x.shape[1] < 2:
        return np.zeros(len(x), dtype=x.dtype)
    masked = x.copy()
    masked[np.arange(len(x)), top] = -np.inf
    return masked.max(axis=1)


def _finite(v: np.ndarray) -> np.ndarray:
    return np.nan_to_num(np.asarray(v, dtype=np.float64), nan=0.0, posinf=10.0, neginf=-10.0)


def hit_features(cos: np.ndarray, fused: np.ndarray, bm: np.ndarray, cov: np.ndarray, top: np.ndarray, *,
                 aff: np.ndarray | None = None, query_conf: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Features of each query's top entry ``top`` ``[n]``: :data:`FEATURES`, plus with ``aff`` and ``query_conf``
    the rest of :data:`CATEGORY_FEATURES`.

    ``cov`` is BM25 term coverage, ``aff`` the query–entry category affinity, ``query_conf`` ``[n]`` the
    query's top class prob. Each feature is ``[n]`` float64, non-finite values clipped to ±10 (NaN: 0).
    """
    r = np.arange(len(top))
    cos_top, fused_top = cos[r, top], fused[r, top]
    single = cos.shape[1] < 2
    out = {
        "cos_top": cos_top,
        "fused_top": fused_top,
        "cos_margin": np.zeros_like(cos_top) if single else cos_top - _second_best(cos, top),
        "fused_margin": np.zeros_like(fused_top) if single else fused_top - _second_best(fused, top),
        "coverage_top": cov[r, top],
        "bm25_log_top": np.log1p(np.maximum(bm[r, top], 0)),
    }
    if aff is not None and query_conf is not None:
        out["affinity_log_top"] = np.log(np.maximum(aff[r, top], 0.0) + _AFF_EPS)
        out["query_category_conf"] = query_conf
    return {k: _finite(v) for k, v in out.items()}


def na_features(cos: np.ndarray, fused: np.ndarray, bm: np.ndarray, top: np.ndarray, query_len: np.ndarray, *,
                aff: np.ndarray | None = None, qprobs: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Named per-query features of the top hit ``top`` ``[n]`` for the shipped no-answer model.

    ``cos`` dense scores, ``fused`` the fused ranking scores (with the category term when ``aff`` is given),
    ``bm`` raw BM25, ``query_len`` characters per query, ``aff`` query–entry category affinity, ``qprobs``
    ``[n, C]`` the query's class distribution. Entries masked out carry ``-inf``.
    """
    n, e = cos.shape
    r = np.arange(n)

    def zrow(x: np.ndarray) -> np.ndarray:
        f = np.where(np.isfinite(x), x, np.nan)
        mu, sd = np.nanmean(f, axis=1), np.nanstd(f, axis=1)
        return (x[r, top] - mu) / np.maximum(sd, 1e-6)

    def second(x: np.ndarray) -> np.ndarray:
        if e < 2:
            return x[r, top]
        m = x.copy()
        m[r, top] = -np.inf
        s = m.max(axis=1)
        return np.where(np.isfinite(s), s, x[r, top])

    out = {
        "cos_top": cos[r, top],
        "cos_z_top": zrow(cos),
        "cos_margin": cos[r, top] - second(cos),
        "fused_top": fused[r, top],
        "fused_margin": fused[r, top] - second(fused),
        "bm25_z_top": zrow(bm),
        "bm25_log_top": np.log1p(np.maximum(bm[r, top], 0.0)),
        "query_len_log": np.log1p(np.asarray(query_len, dtype=np.float64)),
    }
    if aff is not None:
        a = np.where(np.isfinite(aff), np.maximum(aff, 0.0), 0.0)
        out["affinity_log_top"] = np.log(a[r, top] + _AFF_EPS)
        out["affinity_log_max"] = np.log(a.max(axis=1) + _AFF_EPS)
    if qprobs is not None:
        p = np.clip(np.asarray(qprobs, dtype=np.float64), 0.0, None)
        p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
        out["query_category_conf"] = p.max(axis=1)
        ent = -(p * np.log(np.maximum(p, 1e-12))).sum(axis=1)
        out["query_category_entropy"] = ent / np.log(max(p.shape[1], 2))  # in [0, 1] whatever the class count
    return {k: _finite(v) for k, v in out.items()}
