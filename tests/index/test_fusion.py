from __future__ import annotations

import numpy as np

from hotline.index.fusion import (
    CATEGORY_FEATURES,
    FEATURES,
    NA_CATEGORY_FEATURES,
    NA_FEATURES,
    FusionWeights,
    fuse,
    hit_features,
    na_features,
    top_indices,
    z_log_affinity,
)


def test_fuse_is_weighted_z_scores():
    cos = np.array([[0.9, 0.5, 0.1], [0.2, 0.2, 0.2]], dtype=np.float32)
    bm = np.array([[0.0, 4.0, 2.0], [1.0, 0.0, 0.0]], dtype=np.float32)
    out = fuse(cos, bm, FusionWeights(cos=1.0, bm25=0.5))
    z = lambda x: (x - x.mean()) / max(x.std(), 1e-6)  # noqa: E731
    assert np.allclose(out[0], z(cos[0]) + 0.5 * z(bm[0]), atol=1e-5)
    assert np.allclose(out[1], 0.5 * z(bm[1]), atol=1e-5)  # a constant dense row contributes 0
    assert np.allclose(fuse(cos, bm, FusionWeights(bm25=0.0)), fuse(cos, np.zeros_like(bm), FusionWeights()))


def test_masked_entries_stay_masked():
    cos = np.array([[0.9, -np.inf, 0.1]], dtype=np.float32)
    out = fuse(cos, cos, FusionWeights())
    assert np.isneginf(out[0, 1]) and np.isfinite(out[0, [0, 2]]).all()
    aff = z_log_affinity(np.array([[0.7, -np.inf, 0.3]], dtype=np.float32))
    assert np.isneginf(aff[0, 1]) and aff.dtype == np.float32


def test_flat_affinity_stays_small():
    flat = z_log_affinity(np.array([[0.26, 0.25, 0.24]], dtype=np.float32))  # an unsure classifier
    sharp = z_log_affinity(np.array([[0.9, 0.05, 0.05]], dtype=np.float32))
    assert np.abs(flat).max() < 0.2 < np.abs(sharp).max()


def test_top_indices_best_first_ties_by_column():
    s = np.array([[0.1, 0.9, 0.5, 0.9, 0.2]])
    assert top_indices(s, 3).tolist() == [[1, 3, 2]]
    assert top_indices(s, 9).tolist() == [[1, 3, 2, 4, 0]]


def test_feature_builders_name_every_feature():
    cos = np.array([[0.9, 0.2, -np.inf]], dtype=np.float32)
    bm = np.array([[3.0, 0.0, -np.inf]], dtype=np.float32)
    top = np.array([0])
    hf = hit_features(cos, cos, bm, np.zeros_like(bm), top)
    assert tuple(hf) == FEATURES and hf["cos_margin"][0] == np.float32(0.9) - np.float32(0.2)
    assert tuple(hit_features(cos, cos, bm, bm, top, aff=cos, query_conf=np.array([0.5]))) == CATEGORY_FEATURES
    na = na_features(cos, cos, bm, top, np.array([6]))
    assert tuple(na) == NA_FEATURES and all(np.isfinite(v).all() and v.dtype == np.float64 for v in na.values())
    full = na_features(cos, cos, bm, top, np.array([6]), aff=cos, qprobs=np.array([[0.5, 0.5]]))
    assert tuple(full) == NA_CATEGORY_FEATURES and full["query_category_entropy"][0] == 1.0
