"""FAISS inner-product index over L2-normalised vectors (so scores are cosines).

The folder records the encoder's name, dimension and normalisation; loading it with another encoder is
refused, because vectors from two encoders live in unrelated spaces and every search would be noise.

Example:
    >>> import numpy as np
    >>> vi = VectorIndex(dim=4, encoder_name="fake")
    >>> vi.add(np.eye(4, dtype="float32"))
    >>> scores, ids = vi.search(np.array([[1, 0, 0, 0]], dtype="float32"), k=2)
    >>> int(ids[0, 0])
    0
"""

from __future__ import annotations

import enum
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hotline.core.artifacts import read_meta, write_meta
from hotline.core.errors import ArtifactError, InvalidInputError, NotFittedError
from hotline.core.vectors import l2_normalise

if TYPE_CHECKING:
    from hotline.models.encoders import Encoder

__all__ = ["VectorIndex", "IndexType", "AUTO_HNSW_MIN"]

logger = logging.getLogger(__name__)

KIND = "vector_index"
AUTO_HNSW_MIN = 20_000  # = faq_index._EXACT_ROWS: above it, searches go through candidates, so use HNSW
_FILE = "vectors.faiss"


class IndexType(str, enum.Enum):
    FLAT = "flat"
    HNSW = "hnsw"
    AUTO = "auto"


def _faiss():
    try:
        import faiss
    except ImportError as e:  # pragma: no cover
        raise ArtifactError("the vector index needs faiss: pip install faiss-cpu") from e
    return faiss


class VectorIndex:
    """Exact (``flat``) or approximate (``hnsw``) cosine search; ``auto`` picks hnsw from 20k vectors.

    Args:
        dim: vector dimension.
        encoder_name: the encoder that produced the vectors (checked on load).
        index_type: ``"flat"`` | ``"hnsw"`` | ``"auto"`` (resolved on the first ``add``).
        hnsw_m: HNSW graph degree.
        ef_construction: HNSW build-time beam.
        ef_search: HNSW search-time beam (higher: better recall, slower).
    """

    def __init__(self, *, dim: int, encoder_name: str, index_type: str = "flat", hnsw_m: int = 32,
                 ef_construction: int = 80, ef_search: int = 64) -> None:
        if dim <= 0:
            raise InvalidInputError(f"dim must be > 0, got {dim}")
        try:
            self.index_type = IndexType(index_type).value
        except ValueError:
            raise InvalidInputError(
                f"index_type must be one of {[t.value for t in IndexType]}, got {index_type!r}"
            ) from None
        if ef_search <= 0:
            raise InvalidInputError(f"ef_search must be > 0, got {ef_search}")
        self.dim = int(dim)
        self.encoder_name = encoder_name
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.index_ = None

    # -- building --------------------------------------------------------------------------
    def _create(self, n: int):
        faiss = _faiss()
        kind = self.index_type
        if kind == IndexType.AUTO.value:
            kind = IndexType.HNSW.value if n >= AUTO_HNSW_MIN else IndexType.FLAT.value
        if kind == IndexType.FLAT.value:
            index = faiss.IndexFlatIP(self.dim)
        else:
            index = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self.ef_construction
            index.hnsw.efSearch = self.ef_search
        self.resolved_type_ = kind
        return index

    def add(self, vectors: np.ndarray) -> None:
        """Add ``[n, dim]`` vectors (L2-normalised here). Row ids continue from ``ntotal``."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise InvalidInputError(f"vectors must have shape [n, {self.dim}], got {list(vectors.shape)}")
        if self.index_ is None:
            self.index_ = self._create(len(vectors))
        if len(vectors):
            self.index_.add(l2_normalise(vectors))

    @property
    def ntotal(self) -> int:
        return 0 if self.index_ is None else int(self.index_.ntotal)

    def set_ef_search(self, ef_search: int) -> None:
        if ef_search <= 0:
            raise InvalidInputError(f"ef_search must be > 0, got {ef_search}")
        self.ef_search = ef_search
        if self.index_ is not None and getattr(self, "resolved_type_", "flat") == IndexType.HNSW.value:
            self.index_.hnsw.efSearch = ef_search

    # -- searching -------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows per query. Returns ``(scores [n, k] float32, ids [n, k] int64)``; missing slots have id -1."""
        if self.index_ is None:
            raise NotFittedError("This VectorIndex is not fitted yet. Call 'add' first.")
        if k <= 0:
            raise InvalidInputError(f"k must be > 0, got {k}")
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        if q.shape[1] != self.dim:
            raise InvalidInputError(f"queries must have shape [n, {self.dim}], got {list(q.shape)}")
        scores, ids = self.index_.search(l2_normalise(q), int(k))
        return scores, ids

    def reconstruct_all(self) -> np.ndarray:
        """All stored vectors ``[ntotal, dim]`` (used for exact re-scoring)."""
        if self.index_ is None:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.index_.reconstruct_n(0, self.ntotal)

    # -- persistence -----------------------------------------------------------------------
    def describe(self) -> dict[str, object]:
        return {
            "encoder": self.encoder_name,
            "dim": self.dim,
            "normalized": True,
            "metric": "inner_product",
            "index_type": getattr(self, "resolved_type_", self.index_type),
            "requested_index_type": self.index_type,
            "hnsw_m": self.hnsw_m,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
            "ntotal": self.ntotal,
        }

    def save(self, directory: str | Path) -> Path:
        if self.index_ is None:
            raise NotFittedError("This VectorIndex is not fitted yet. Call 'add' first.")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        _faiss().write_index(self.index_, str(directory / _FILE))
        write_meta(directory, kind=KIND, **self.describe())
        return directory

    @classmethod
    def load(cls, directory: str | Path, encoder: Encoder | None = None, *, ef_search: int | None = None) -> VectorIndex:
        """Load a saved index; with ``encoder`` given, refuse when its name or dim differs from the recorded one."""
        directory = Path(directory)
        meta = read_meta(directory, kind=KIND)
        if encoder is not None:
            check_encoder(meta, encoder, where=str(directory))
        path = directory / _FILE
        if not path.is_file():
            raise ArtifactError(f"{directory} has meta.json but no {_FILE}; rebuild the index")
        vi = cls(dim=int(meta["dim"]), encoder_name=str(meta["encoder"]),
                 index_type=str(meta.get("requested_index_type", meta.get("index_type", "flat"))),
                 hnsw_m=int(meta.get("hnsw_m", 32)), ef_construction=int(meta.get("ef_construction", 80)),
                 ef_search=int(meta.get("ef_search", 64)))
        vi.index_ = _faiss().read_index(str(path))
        vi.resolved_type_ = str(meta.get("index_type", "flat"))
        if vi.index_.d != vi.dim:
            raise ArtifactError(f"{path} holds {vi.index_.d}-d vectors but meta.json says {vi.dim}; rebuild the index")
        if ef_search is not None:
            vi.set_ef_search(ef_search)
        elif vi.resolved_type_ == IndexType.HNSW.value:
            vi.index_.hnsw.efSearch = vi.ef_search
        return vi


def check_encoder(meta: dict[str, object], encoder: Encoder, *, where: str) -> None:
    """Refuse an encoder whose name or dimension differs from the one recorded in ``meta``."""
    want_name, want_dim = meta.get("encoder"), int(meta.get("dim", -1))  # type: ignore[arg-type]
    if isinstance(want_name, dict):  # an Encoder.describe() dict
        want_dim = int(want_name.get("dim", want_dim))
        want_name = want_name.get("name")
    if not encoder.dim and encoder.name == want_name:
        encoder.warm_up()  # sentence-transformers encoders learn their dim when loaded
    if encoder.name != want_name or int(encoder.dim) != want_dim:
        raise ArtifactError(
            f"{where} was built with encoder {want_name!r} ({want_dim}-d) but encoder {encoder.name!r} "
            f"({encoder.dim}-d) was given; load it with encoder {want_name!r} (or encoder=None to use the recorded one), "
            f"or rebuild the index with {encoder.name!r}"
        )
