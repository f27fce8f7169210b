"""BM25 over segmenter tokens (``bm25s``), plus an IDF-weighted term coverage score.

Documents and queries arrive as token lists (``JiebaSegmenter.tokens``); this module does no segmentation.
Queries whose tokens are all unknown score 0 for every document.

Example:
    >>> bm = Bm25Index()
    >>> bm.index([["宽带", "断网"], ["话费", "查询"]])
    >>> bm.scores([["宽带", "坏", "了"]]).shape
    (1, 2)
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np

from hotline.core.errors import ArtifactError, InvalidInputError, NotFittedError

__all__ = ["Bm25Index"]

logger = logging.getLogger(__name__)

_PARAMS = "hotline_bm25.json"


def _bm25s():
    try:
        import bm25s
    except ImportError as e:  # pragma: no cover
        raise ArtifactError("the lexical index needs bm25s: pip install bm25s") from e
    return bm25s


class Bm25Index:
    """Okapi BM25 (Lucene variant) over pre-tokenised documents.

    Args:
        k1: term-frequency saturation.
        b: length normalisation.
    """

    def __init__(self, *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.bm25_ = None
        self.idf_: np.ndarray | None = None  # [vocab] idf per token id (for coverage)

    # -- building --------------------------------------------------------------------------
    def index(self, docs: list[list[str]]) -> None:
        if not docs:
            raise InvalidInputError("docs must hold at least one document, got an empty list")
        # bm25s cannot index an all-empty corpus; a sentinel token keeps empty docs addressable.
        docs = [list(d) if d else ["\x00"] for d in docs]
        bm = _bm25s().BM25(k1=self.k1, b=self.b, method="lucene")
        bm.index(docs, show_progress=False)
        self.bm25_ = bm
        self._prepare()

    def _prepare(self) -> None:
        bm = self.bm25_
        indptr = np.asarray(bm.scores["indptr"])
        n_docs = int(bm.scores["num_docs"])
        df = np.diff(indptr).astype(np.float64)  # [vocab] documents containing each token
        # Lucene idf, the one BM25 uses; unknown tokens get the idf of a token seen in no document.
        self.idf_ = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        self.unknown_idf_ = float(math.log1p((n_docs + 0.5) / 0.5))
        self.n_docs_ = n_docs

    @property
    def n_docs(self) -> int:
        self._check()
        return self.n_docs_

    def _check(self) -> None:
        if self.bm25_ is None:
            raise NotFittedError("This Bm25Index is not fitted yet. Call 'index' first.")

    def _ids(self, tokens: list[str]) -> np.ndarray:
        vocab = self.bm25_.vocab_dict
        return np.asarray([vocab[t] for t in tokens if t in vocab and t], dtype=np.int32)

    # -- scoring ---------------------------------------------------------------------------
    def scores(self, queries: list[list[str]]) -> np.ndarray:
        """BM25 of every document for every query: ``[n_queries, n_docs]`` float32 (0 when nothing matches)."""
        self._check()
        out = np.zeros((len(queries), self.n_docs_), dtype=np.float32)
        for i, toks in enumerate(queries):
            ids = self._ids(toks)
            if len(ids):
                out[i] = self.bm25_.get_scores_from_ids(ids)
        return out

    def coverage(self, queries: list[list[str]]) -> np.ndarray:
        """IDF-weighted share of each query's distinct tokens found in each document: ``[n_queries, n_docs]`` in [0, 1].

        Unlike raw BM25 it does not grow with query length, so it is comparable across queries
        (a useful "is this question in the KB at all" signal).
        """
        self._check()
        data_idx = self.bm25_.scores["indices"]
        indptr = self.bm25_.scores["indptr"]
        vocab = self.bm25_.vocab_dict
        out = np.zeros((len(queries), self.n_docs_), dtype=np.float32)
        for i, toks in enumerate(queries):
            uniq = [t for t in dict.fromkeys(toks) if t]
            if not uniq:
                continue
            total = 0.0
            for t in uniq:
                tid = vocab.get(t)
                if tid is None:
                    total += self.unknown_idf_
                    continue
                w = float(self.idf_[tid])
                total += w
                out[i, data_idx[indptr[tid] : indptr[tid + 1]]] += w
            out[i] /= max(total, 1e-9)
        return out

    def search(self, queries: list[list[str]], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` documents per query: ``(scores [n, k], ids [n, k])``, best first."""
        if k <= 0:
            raise InvalidInputError(f"k must be > 0, got {k}")
        s = self.scores(queries)
        k = min(k, s.shape[1])
        idx = np.argsort(-s, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(s, idx, axis=1), idx

    # -- persistence -----------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        self._check()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.bm25_.save(str(directory), show_progress=False)
        (directory / _PARAMS).write_text(json.dumps({"k1": self.k1, "b": self.b}), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> Bm25Index:
        directory = Path(directory)
        if not (directory / "params.index.json").is_file():
            raise ArtifactError(f"{directory} is not a saved BM25 index (no params.index.json); rebuild the index")
        params = json.loads((directory / _PARAMS).read_text(encoding="utf-8")) if (directory / _PARAMS).is_file() else {}
        self = cls(k1=float(params.get("k1", 1.2)), b=float(params.get("b", 0.75)))
        self.bm25_ = _bm25s().BM25.load(str(directory), show_progress=False)
        self._prepare()
        return self
