"""The shipped no-answer model: P(the top hit is right) learned from generated caller queries, leave-codes-out.

The self-supervised calibration (:mod:`hotline.index.calibration`) learns from the KB's own similar questions,
which are far easier than callers' wording, so its threshold lands on its answer-rate floor and abstains on
most real answerable queries. This model is learned once from *realistic* queries instead:

1. The shipped KB (``data/kb/faq.jsonl``, categories = taxonomy codes) is indexed once, and generated caller
   utterances (:class:`hotline.training.generate.CorpusGenerator`, every style) plus off-topic sentences are
   scored against every entry.
2. Each of ``n_splits`` random splits drops the entries of ``drop_share`` of the codes (and thins the kept
   codes to 1–4 entries, so small and large KBs are both seen). Queries whose code lost all its entries, and
   off-topic sentences, are unanswerable; the others are answerable, and their top hit is *right* when its
   category is one of the query's labels.
3. An :class:`~hotline.index.abstention.AbstentionCalibrator` over KB-agnostic features of the top hit
   (:data:`NA_FEATURES`; with category probs also :data:`NA_CATEGORY_FEATURES`) predicts "answerable and top
   hit right"; the threshold rejects ``target_reject`` of the (weighted) unanswerable queries.

Dropped entries are masked out of the candidates (z-scores are recomputed over the kept entries; BM25 IDF
keeps the full KB's statistics, a small approximation). The model depends on the encoder (cosine ranges)
and, for the category variant, on the classifier's calibration; ``FaqIndex`` only uses it with the encoder
it was fitted with, and falls back to self-supervised calibration otherwise.

Reproduce the shipped file (a few minutes on CPU)::

    hotline index calibrate --out data/kb/no_answer_model.json

Example:
    >>> model = NoAnswerModel.load_shipped()  # doctest: +SKIP
    >>> model.variant(category=True).threshold_  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from hotline.core.artifacts import fingerprint
from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.resources import data_path
from hotline.index.abstention import AbstentionCalibrator
from hotline.index.fusion import (
    NA_CATEGORY_FEATURES,
    NA_FEATURES,
    CategoryModel,
    FusionWeights,
    fuse,
    na_features,
    z_log_affinity,
)

if TYPE_CHECKING:
    from hotline.index.kb import KnowledgeBase
    from hotline.models.encoders import Encoder

__all__ = ["NoAnswerModel", "NoAnswerIndex", "NA_FEATURES", "NA_CATEGORY_FEATURES", "na_features",
           "fit_no_answer_model", "default_no_answer_path"]

logger = logging.getLogger(__name__)

KIND = "no_answer_model"
VERSION = "1"
NAME = "no_answer.lco_lr.v1"
_REFIT = "refit it with 'hotline index calibrate' or build the index with no_answer='self'"


def default_no_answer_path() -> Path:
    """The shipped model, ``data/kb/no_answer_model.json``."""
    return data_path("kb", "no_answer_model.json")


@dataclass
class NoAnswerModel:
    """The ``plain`` calibrator (no category probs) and the ``category`` one, plus what they were fitted on."""

    plain: AbstentionCalibrator
    category: AbstentionCalibrator | None
    encoder: str
    info: dict[str, Any] = field(default_factory=dict)
    name: str = NAME

    def variant(self, *, category: bool) -> AbstentionCalibrator:
        """The calibrator for queries with (``category=True``, when fitted) or without category probs."""
        return self.category if category and self.category is not None else self.plain

    def to_dict(self) -> dict[str, Any]:
        return {"kind": KIND, "version": VERSION, "name": self.name, "encoder": self.encoder,
                "plain": self.plain.to_dict(),
                "category": None if self.category is None else self.category.to_dict(), "info": self.info}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NoAnswerModel:
        if d.get("kind") != KIND or str(d.get("version", "")).split(".")[0] != VERSION:
            raise ArtifactError(f"not a {KIND} v{VERSION} (got kind={d.get('kind')!r}, version={d.get('version')!r}); "
                                f"{_REFIT}")

        def calibrator(part: dict[str, Any]) -> AbstentionCalibrator:
            return AbstentionCalibrator.from_dict(part, valid_features=NA_CATEGORY_FEATURES, fix=_REFIT)

        return cls(calibrator(d["plain"]), None if d.get("category") is None else calibrator(d["category"]),
                   str(d["encoder"]), dict(d.get("info") or {}), str(d.get("name", NAME)))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> NoAnswerModel:
        path = Path(path)
        if not path.is_file():
            raise ArtifactError(f"no-answer model file {path} not found; {_REFIT}")
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def load_shipped(cls) -> NoAnswerModel:
        return cls.load(default_no_answer_path())


# ------------------------------------------------------------------------------------------------
class NoAnswerIndex(Protocol):
    """What fitting reads of an index (a :class:`hotline.index.faq_index.FaqIndex` built with ``no_answer="none"``)."""

    kb: KnowledgeBase
    encoder: Encoder
    weights: FusionWeights
    category_classes_: list[str] | None

    def entry_scores(self, queries: list[str], qv: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def affinity(self, category_probs: list[dict[str, float]]) -> np.ndarray | None: ...


def _split_scores(weights: FusionWeights, cos: np.ndarray, bm: np.ndarray, aff: np.ndarray | None,
                  keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Dense, BM25, affinity and fused scores ``[n, E]`` with the entries where ``keep`` is False masked to ``-inf``."""
    cos = np.where(keep, cos, -np.inf)
    bm = np.where(keep, bm, -np.inf)
    fused = fuse(cos, bm, weights)
    a = None
    if aff is not None:
        a = np.where(keep, aff, -np.inf)
        if weights.category:
            fused = fused + weights.category * z_log_affinity(a)
    return cos, bm, a, fused


def _fit_variant(feats: dict[str, np.ndarray], features: tuple[str, ...], y: np.ndarray, unans: np.ndarray,
                 w: np.ndarray, target_reject: float, c: float) -> AbstentionCalibrator:
    cal = AbstentionCalibrator(features, c=c, max_iter=2000).fit(feats, y, sample_weight=w)
    p = cal.proba(feats)
    cal.pick_threshold(p[unans], target_reject=target_reject, sample_weight=w[unans])
    ans = ~unans
    answered = p >= cal.threshold_
    assert cal.coef_ is not None
    cal.stats_ = {
        "coef": {f: round(float(v), 4) for f, v in zip(features, cal.coef_, strict=True)},
        "unanswerable_abstain_rate": float(np.average(~answered[unans], weights=w[unans])),
        "answerable_abstain_rate": float(np.average(~answered[ans], weights=w[ans])) if ans.any() else None,
        "answered_precision": float(np.average(y[answered], weights=w[answered])) if answered.any() else None,
    }
    return cal


def fit_no_answer_model(index: NoAnswerIndex, records: Sequence[dict[str, Any]], *,
                        offtopic: Sequence[str], category_model: CategoryModel | None = None,
                        n_splits: int = 12, drop_share: float = 0.28, target_reject: float = 0.8,
                        unanswerable_prior: float = 0.3, c: float = 1.0, seed: int = 0) -> NoAnswerModel:
    """Fit the no-answer model on generated queries with leave-codes-out splits of ``index.kb``.

    Args:
        index: the KB indexed with the encoder the model is for (cosine features are encoder-specific) and,
            when ``category_model`` is given, with its entry profiles:
            ``FaqIndex.build(kb, encoder, category_model=clf, no_answer="none")``. Its KB's entries carry the
            codes of ``records`` as ``category`` (the shipped ``faq.jsonl``).
        records: ``{"text", "label"[, "labels"]}`` caller utterances (``CorpusGenerator(...).run()["records"]``).
        offtopic: off-topic sentences (always unanswerable).
        category_model: the classifier giving query category probs; without it only the plain variant is fit.
        n_splits: random leave-codes-out splits; drop_share: share of codes whose entries leave the KB per split.
        target_reject: share of the weighted unanswerable queries the threshold rejects.
        unanswerable_prior: weight of unanswerable queries (in-domain dropped codes 60 %, off-topic 40 %).
        c: inverse L2 strength of the logistic regression. seed: split randomness.

    Example:
        >>> index = FaqIndex.build(kb, encoder, category_model=clf, no_answer="none")  # doctest: +SKIP
        >>> model = fit_no_answer_model(index, records, offtopic=offtopic, category_model=clf)  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    if not 0.0 < drop_share < 1.0:
        raise InvalidInputError(f"drop_share must be in (0, 1), got {drop_share}")
    if not 0.0 < target_reject < 1.0:
        raise InvalidInputError(f"target_reject must be in (0, 1), got {target_reject}")
    kb, encoder = index.kb, index.encoder
    cats = [e.category for e in kb.entries]
    codes = sorted({c_ for c_ in cats if c_})
    if len(codes) < 4 or any(c_ is None for c_ in cats):
        raise InvalidInputError("fit_no_answer_model needs a KB whose every entry has a category, over >= 4 codes; "
                                f"got {len(codes)} codes and {sum(c_ is None for c_ in cats)} entries without one")
    if category_model is not None and index.category_classes_ != list(category_model.classes_):
        have = ("no entry category profiles" if index.category_classes_ is None
                else f"entry category profiles over {len(index.category_classes_)} other classes")
        raise InvalidInputError(
            f"category_model has {len(category_model.classes_)} classes but the index has {have}; build it with "
            "FaqIndex.build(kb, encoder, category_model=<this classifier>, no_answer='none')")
    recs = [r for r in records if r["label"] in set(codes)]
    if not recs:
        raise InvalidInputError("no record's label is a category of the KB; pass records generated for its codes")
    texts = [r["text"] for r in recs] + list(offtopic)
    labels = [set(r.get("labels") or [r["label"]]) | {r["label"]} for r in recs] + [set()] * len(offtopic)
    primary = [r["label"] for r in recs] + [None] * len(offtopic)
    is_off = np.array([p is None for p in primary])
    cos, bm = index.entry_scores(texts)  # [n, E] each
    qlen = np.array([len(t) for t in texts])
    aff = qprobs = None
    if category_model is not None:
        classes = list(category_model.classes_)
        probs = np.asarray(category_model.predict_proba(texts), dtype=np.float64)
        probs = np.where(probs >= 0.01, probs, 0.0)  # as the CLI and pipeline pass them
        qprobs = probs
        aff = index.affinity([{c_: float(p) for c_, p in zip(classes, row, strict=True) if p > 0} for row in probs])
    rng = np.random.default_rng(seed)
    entry_code = np.array(cats)
    rows: list[dict[str, np.ndarray]] = []
    rows_cat: list[dict[str, np.ndarray]] = []
    ys, ys_cat, unans_l, group_l = [], [], [], []
    n_drop = max(1, round(drop_share * len(codes)))
    for s in range(n_splits):
        dropped = set(rng.choice(codes, size=n_drop, replace=False).tolist())
        per_code = int(rng.integers(1, 5)) if s % 2 else 99  # half the splits thin each code to 1-4 entries
        keep = np.zeros(len(cats), dtype=bool)
        for code in codes:
            if code in dropped:
                continue
            idx = np.flatnonzero(entry_code == code)
            keep[rng.permutation(idx)[:per_code]] = True
        kept_codes = set(codes) - dropped
        unans = np.array([p is None or p not in kept_codes for p in primary])
        group = np.where(is_off, "offtopic", np.where(unans, "dropped", "answerable"))
        cs, bs, _, fused = _split_scores(index.weights, cos, bm, None, keep)
        top = fused.argmax(axis=1)
        rows.append(na_features(cs, fused, bs, top, qlen))
        ys.append(np.array([not u and entry_code[t] in lab for u, t, lab in zip(unans, top, labels, strict=True)]))
        if aff is not None:
            cs, bs, a, fused_c = _split_scores(index.weights, cos, bm, aff, keep)
            top_c = fused_c.argmax(axis=1)
            rows_cat.append(na_features(cs, fused_c, bs, top_c, qlen, aff=a, qprobs=qprobs))
            ys_cat.append(np.array([not u and entry_code[t] in lab
                                    for u, t, lab in zip(unans, top_c, labels, strict=True)]))
        unans_l.append(unans)
        group_l.append(group)
    unans = np.concatenate(unans_l)
    group = np.concatenate(group_l)
    w = np.zeros(len(unans))
    shares = {"answerable": 1.0 - unanswerable_prior, "dropped": 0.6 * unanswerable_prior,
              "offtopic": 0.4 * unanswerable_prior}
    for g, sh in shares.items():
        m = group == g
        if m.any():
            w[m] = sh / m.sum()
    w *= len(w) / w.sum()

    def cat_feats(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    y = np.concatenate(ys).astype(int)
    plain = _fit_variant(cat_feats(rows), NA_FEATURES, y, unans, w, target_reject, c)
    category = None
    if rows_cat:
        category = _fit_variant(cat_feats(rows_cat), NA_CATEGORY_FEATURES, np.concatenate(ys_cat).astype(int),
                                unans, w, target_reject, c)
    info = {
        "target": "answerable and top hit's category in the query's labels",
        "target_reject": target_reject, "unanswerable_prior": unanswerable_prior, "n_splits": n_splits,
        "drop_share": drop_share, "seed": seed, "c": c,
        "n_queries": len(texts), "n_offtopic": int(is_off.sum()), "n_rows": int(len(unans)),
        "kb_source": kb.source, "kb_entries": len(kb), "kb_codes": len(codes),
        "records_fingerprint": fingerprint(texts),
        "category_model": None if category_model is None else {
            "n_classes": len(category_model.classes_), "builder": getattr(category_model, "builder", None)},
        "fit_seconds": round(time.perf_counter() - t0, 1),
    }
    return NoAnswerModel(plain, category, encoder.name, info)
