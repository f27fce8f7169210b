"""The shipped no-answer model: P(the KB holds an answer) learned from generated caller queries, leave-codes-out.

The self-supervised calibration (:mod:`hotline.index.calibration`) learns from the KB's own similar questions,
which are far easier than callers' wording, so its threshold lands on its answer-rate floor and abstains on
most real answerable queries. This model is learned once from *realistic* queries instead:

1. The shipped KB (``data/kb/faq.jsonl``, categories = taxonomy codes) is indexed in several *views* (as
   shipped; without similar questions; without similar questions and categories), because a customer's KB
   rarely has our paraphrases or our codes. Queries are scored against every entry of every view:
   generated caller utterances (:class:`hotline.training.generate.CorpusGenerator`), the KB's own similar
   questions (only in views without them: people's paraphrases, on which the classifier is far less sure
   than on generated text), off-topic sentences and *adjacent* questions (other companies' services, public
   services, devices, daily life: ``data/generator/adjacent_queries.json``).
2. Each of ``n_splits`` random splits drops the entries of ``drop_share`` of the codes (and thins the kept
   codes to 1–4 entries in half the splits). A generated query is answerable when an entry of its code is
   kept, a paraphrase when its own entry is; off-topic and adjacent queries never are.
3. One :class:`~hotline.index.abstention.AbstentionCalibrator` per variant (:data:`VARIANTS`: with or without
   the query's category probs, with or without the scope model's P(telecom speech)) predicts "the KB holds an
   answer" from KB-agnostic features of the top hit. The target is answerability, not "the top hit is right":
   an agent shown five hits can use a right second hit, and abstaining on every imperfect ranking would
   abstain on a quarter of the answerable queries.
4. The threshold, chosen on out-of-fold probabilities (folds group a query's rows, a paraphrase's entry and
   a negative's topic), rejects ``target_reject`` of the weighted unanswerable queries, unless that makes a
   group of answerable queries (generated, paraphrases) abstain more than ``max_abstain``; then the cap wins.
   The out-of-fold rates per group are saved in each calibrator's ``stats``: the generated validation.

Dropped entries are masked out of the candidates (z-scores are recomputed over the kept entries; BM25 IDF
keeps the full KB's statistics, a small approximation). The model depends on the encoder (cosine ranges), on
the classifier's calibration (category variants) and on the scope model (scope variants); ``FaqIndex`` uses
it only with the encoder it was fitted with (else self-supervised calibration), and the scope variants only
when it holds a scope model.

Reproduce the shipped file (a few minutes on CPU)::

    hotline index calibrate --out data/kb/no_answer_model.json

Example:
    >>> model = NoAnswerModel.load_shipped()  # doctest: +SKIP
    >>> model.variant(category=True, scope=True).threshold_  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from hotline.core.artifacts import fingerprint
from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.mask import masked_text
from hotline.core.resources import data_path
from hotline.index.abstention import AbstentionCalibrator
from hotline.index.adapter import ADAPTER_DIR, RetrievalAdapter
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

__all__ = ["NoAnswerModel", "NoAnswerIndex", "ScopeScorer", "NA_FEATURES", "NA_CATEGORY_FEATURES",
           "NA_SCOPE_FEATURES", "NA_CATEGORY_SCOPE_FEATURES", "VARIANTS", "na_features", "scope_features",
           "scope_identity", "fit_no_answer_model", "default_no_answer_path"]

logger = logging.getLogger(__name__)

KIND = "no_answer_model"
VERSION = "1"
NAME = "no_answer.lco_lr.v2"
SCOPE_DIR = "scope"  # the scope model's folder beside a classifier (as hotline.pipeline.classify.SCOPE_DIR)
SCOPE_FEATURE = "scope_logit"
NA_SCOPE_FEATURES = (*NA_FEATURES, SCOPE_FEATURE)
NA_CATEGORY_SCOPE_FEATURES = (*NA_CATEGORY_FEATURES, SCOPE_FEATURE)
VARIANTS = ("plain", "category", "plain_scope", "category_scope")
_FEATURES_OF = {"plain": NA_FEATURES, "category": NA_CATEGORY_FEATURES, "plain_scope": NA_SCOPE_FEATURES,
                "category_scope": NA_CATEGORY_SCOPE_FEATURES}
_SCOPE_CLIP = 8.0  # |logit| cap: P(in scope) beyond 0.9997 or below 0.0003 says nothing more
# Shares of the weighted mass. Answerable: generated queries and KB paraphrases alike. Unanswerable: mostly
# off-topic and adjacent questions (what callers ask a telecom line that no operator FAQ answers), the rest
# in-domain questions whose topic the KB lacks. Groups that are absent hand their share to the others.
_ANSWERABLE_SHARES = {"generated": 0.5, "paraphrase": 0.5}
_UNANSWERABLE_SHARES = {"dropped": 0.18, "paraphrase_dropped": 0.12, "offtopic": 0.45, "adjacent": 0.25,
                        "uncovered": 0.15}  # renormalised over the groups present
_N_FOLDS = 5
_REFIT = "refit it with 'hotline index calibrate' or build the index with no_answer='self'"


def default_no_answer_path() -> Path:
    """The shipped model, ``data/kb/no_answer_model.json``."""
    return data_path("kb", "no_answer_model.json")


class ScopeScorer(Protocol):
    """What the no-answer model reads of a scope model (:class:`hotline.models.scope.ScopeModel`)."""

    threshold_: float

    def proba(self, texts: list[str]) -> np.ndarray: ...


def scope_features(p_in_scope: np.ndarray) -> dict[str, np.ndarray]:
    """``{"scope_logit": [n]}``: the scope model's log-odds that each query is telecom speech, clipped to ±8."""
    p = np.clip(np.asarray(p_in_scope, dtype=np.float64), 1e-9, 1.0 - 1e-9)
    return {SCOPE_FEATURE: np.clip(np.log(p / (1.0 - p)), -_SCOPE_CLIP, _SCOPE_CLIP)}


def scope_in_scope_proba(scope: ScopeScorer, queries: Sequence[str]) -> np.ndarray:
    """``[n]`` P(in scope) of queries as the scope model was trained on them (normalised, PII-masked)."""
    return np.asarray(scope.proba([masked_text(q) for q in queries]), dtype=np.float64)


def scope_identity(scope: ScopeScorer) -> dict[str, Any]:
    """What names a fitted scope model: its builder, threshold and training-data fingerprint."""
    meta = getattr(scope, "meta_", None) or {}
    return {"builder": meta.get("builder", getattr(scope, "builder", None) or "scope.char_embed_lr.v1"),
            "threshold": round(float(scope.threshold_), 6),
            "data_fingerprint": getattr(scope, "data_fingerprint_", None) or meta.get("data_fingerprint")}


@dataclass
class NoAnswerModel:
    """One calibrator per variant (:data:`VARIANTS`; ``None`` when not fitted) plus what they were fitted on.

    ``scope_model`` is not saved with the numbers: it is the scope model the scope variants read, attached by
    fitting or by :meth:`load` (``<classifier>/scope`` beside ``<classifier>/no_answer_model.json``).
    ``adapter`` likewise: the retrieval adapter the cosine features were read through (``info["adapter"]``
    names it; :meth:`load` reads ``<folder>/adapter/`` beside the file), which an index must use with the model.
    """

    plain: AbstentionCalibrator
    category: AbstentionCalibrator | None
    encoder: str
    info: dict[str, Any] = field(default_factory=dict)
    name: str = NAME
    plain_scope: AbstentionCalibrator | None = None
    category_scope: AbstentionCalibrator | None = None
    scope_model: ScopeScorer | None = field(default=None, repr=False, compare=False)
    adapter: RetrievalAdapter | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.category_scope is not None) != (self.category is not None and self.plain_scope is not None):
            raise ArtifactError("a no-answer model with category and scope variants needs all four of "
                                f"{list(VARIANTS)}, got {[v for v in VARIANTS if getattr(self, v) is not None]}; "
                                f"{_REFIT}")

    @property
    def adapter_identity(self) -> str | None:
        """The fingerprint of the retrieval adapter the model was fitted with (``None``: raw encoder space)."""
        return (self.info.get("adapter") or {}).get("identity")

    @property
    def uses_scope(self) -> bool:
        """True when scope variants were fitted (they need a scope model at search time)."""
        return self.plain_scope is not None

    def variant_name(self, *, category: bool, scope: bool = False) -> str:
        """The variant used for queries with (``category``) or without category probs, with or without scope."""
        name = "category" if category and self.category is not None else "plain"
        return name + "_scope" if scope and self.uses_scope else name

    def variant(self, *, category: bool, scope: bool = False) -> AbstentionCalibrator:
        """The calibrator for :meth:`variant_name`; a variant that was not fitted falls back to one that was."""
        cal = getattr(self, self.variant_name(category=category, scope=scope))
        assert cal is not None
        return cal

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": KIND, "version": VERSION, "name": self.name, "encoder": self.encoder}
        for v in VARIANTS:
            cal = getattr(self, v)
            d[v] = None if cal is None else cal.to_dict()
        d["info"] = self.info
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NoAnswerModel:
        if d.get("kind") != KIND or str(d.get("version", "")).split(".")[0] != VERSION:
            raise ArtifactError(f"not a {KIND} v{VERSION} (got kind={d.get('kind')!r}, version={d.get('version')!r}); "
                                f"{_REFIT}")

        def calibrator(v: str) -> AbstentionCalibrator | None:
            part = d.get(v)
            if part is None:
                return None
            cal = AbstentionCalibrator.from_dict(part, valid_features=NA_CATEGORY_SCOPE_FEATURES, fix=_REFIT)
            if cal.features != _FEATURES_OF[v]:
                raise ArtifactError(f"the {v!r} calibrator uses features {list(cal.features)}, expected "
                                    f"{list(_FEATURES_OF[v])}; {_REFIT}")
            return cal

        if d.get("plain") is None:
            raise ArtifactError(f"the no-answer model has no 'plain' calibrator; {_REFIT}")
        cals = {v: calibrator(v) for v in VARIANTS}
        plain = cals["plain"]
        assert plain is not None
        return cls(plain, cals["category"], str(d["encoder"]), dict(d.get("info") or {}), str(d.get("name", NAME)),
                   plain_scope=cals["plain_scope"], category_scope=cals["category_scope"])

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> NoAnswerModel:
        """Load a model file; one beside a classifier picks up its scope model (``<folder>/scope``) when it has one."""
        path = Path(path)
        if not path.is_file():
            raise ArtifactError(f"no-answer model file {path} not found; {_REFIT}")
        model = cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        scope_dir = path.parent / SCOPE_DIR
        if model.uses_scope and (scope_dir / "meta.json").is_file():
            from hotline.models.scope import ScopeModel

            model.scope_model = ScopeModel.load(scope_dir)
        if model.adapter_identity is not None:
            adapter_dir = path.parent / ADAPTER_DIR
            if not (adapter_dir / "meta.json").is_file():
                raise ArtifactError(f"the no-answer model {path} was fitted with a retrieval adapter, but "
                                    f"{adapter_dir} is missing; {_REFIT}")
            model.adapter = RetrievalAdapter.load(adapter_dir)
            if model.adapter.identity != model.adapter_identity:
                raise ArtifactError(f"{adapter_dir} is not the retrieval adapter {path} was fitted with; {_REFIT}")
        return model

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


@dataclass
class _Queries:
    """The fitting queries, one row each: text, kind, the codes that answer it, its entry (paraphrases), fold."""

    texts: list[str]
    kind: np.ndarray  # "generated" | "paraphrase" | "offtopic" | "adjacent" | "uncovered"
    labels: list[set[str]]
    primary: list[str | None]
    entry: np.ndarray  # the paraphrase's own entry, -1 for the others
    fold: np.ndarray


def _queries(records: Sequence[dict[str, Any]], entry_codes: list[str], paraphrases: list[tuple[str, int]],
             offtopic: Mapping[str, Sequence[str]], adjacent: Mapping[str, Sequence[str]],
             uncovered: Mapping[str, Sequence[str]],
             rng: np.random.Generator) -> _Queries:
    rows: list[tuple[str, str, set[str], str | None, int, str]] = []  # text, kind, labels, primary, entry, group
    for i, r in enumerate(records):
        rows.append((r["text"], "generated", set(r.get("labels") or [r["label"]]) | {r["label"]}, r["label"], -1,
                     f"g{i}"))
    # a paraphrase's siblings share its fold, and a topic's sentences theirs: no near-duplicate leaks across folds
    rows += [(t, "paraphrase", {entry_codes[j]}, entry_codes[j], j, f"e{j}") for t, j in paraphrases]
    rows += [(t, k, set(), None, -1, f"{k}:{topic}")
             for k, bank in (("offtopic", offtopic), ("adjacent", adjacent), ("uncovered", uncovered))
             for topic, items in bank.items() for t in items]
    texts, kind, labels, primary, entry, group = (list(col) for col in zip(*rows, strict=True))
    names = sorted(set(group))
    fold_of = dict(zip(names, rng.permutation(len(names)) % _N_FOLDS, strict=True))
    return _Queries(texts, np.array(kind), labels, primary, np.array(entry), np.array([fold_of[g] for g in group]))


def _as_topics(bank: Sequence[str] | Mapping[str, Sequence[str]] | None, name: str) -> dict[str, list[str]]:
    """A bank as ``{topic: [sentences]}``; a plain list is one sentence per topic (each its own fold group)."""
    if bank is None:
        return {}
    if isinstance(bank, Mapping):
        return {str(k): [s for s in v if s.strip()] for k, v in bank.items()}
    if isinstance(bank, str):
        raise InvalidInputError(f"{name} must be a list of sentences or a {{topic: [sentences]}} mapping, got one str")
    return {f"{name}{i}": [s] for i, s in enumerate(bank) if s.strip()}


def _masked(keep: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.where(keep, x, -np.inf)


def _weights(group: np.ndarray, answerable_prior: float) -> np.ndarray:
    w = np.zeros(len(group))
    for shares, mass in ((_ANSWERABLE_SHARES, answerable_prior), (_UNANSWERABLE_SHARES, 1.0 - answerable_prior)):
        present = {g: s for g, s in shares.items() if (group == g).any()}
        total = sum(present.values())
        for g, s in present.items():
            m = group == g
            w[m] = mass * s / total / m.sum()
    return w * (len(w) / w.sum())


def _oof_proba(features: tuple[str, ...], feats: dict[str, np.ndarray], y: np.ndarray, w: np.ndarray,
               fold: np.ndarray, c: float) -> np.ndarray:
    """Out-of-fold probabilities ``[rows]``: each fold scored by a calibrator fitted on the other folds."""
    oof = np.zeros(len(y))
    for k in np.unique(fold):
        te = fold == k
        tr = ~te
        if y[tr].min() == y[tr].max():
            raise InvalidInputError(f"fold {k} leaves only one label to fit on; pass more queries of each kind")
        cal = AbstentionCalibrator(features, c=c, max_iter=3000).fit({f: v[tr] for f, v in feats.items()}, y[tr],
                                                                     sample_weight=w[tr])
        oof[te] = cal.proba({f: v[te] for f, v in feats.items()})
    return oof


def _cap_threshold(p: np.ndarray, w: np.ndarray, max_abstain: float) -> float:
    """The highest threshold at which at most ``max_abstain`` of the (weighted) ``p`` fall strictly below it."""
    order = np.argsort(p, kind="stable")
    ps, cw = p[order], np.cumsum(w[order]) / w.sum()
    return float(ps[min(int(np.searchsorted(cw, max_abstain, side="right")), len(ps) - 1)])


def _fit_variant(features: tuple[str, ...], feats: dict[str, np.ndarray], unans: np.ndarray, right: np.ndarray,
                 group: np.ndarray, w: np.ndarray, fold: np.ndarray, *, target_reject: float, max_abstain: float,
                 c: float) -> AbstentionCalibrator:
    y = (~unans).astype(int)
    oof = _oof_proba(features, feats, y, w, fold, c)
    cal = AbstentionCalibrator(features, c=c, max_iter=3000).fit(feats, y, sample_weight=w)
    t_reject = cal.pick_threshold(oof[unans], target_reject=target_reject, sample_weight=w[unans])
    caps = {g: _cap_threshold(oof[group == g], w[group == g], max_abstain)
            for g in _ANSWERABLE_SHARES if (group == g).sum() >= 20}
    t_cap = min(caps.values(), default=float("inf"))
    cal.threshold_ = min(t_reject, t_cap)
    abstain = oof < cal.threshold_
    assert cal.coef_ is not None
    cal.stats_ = {
        "coef": {f: round(float(v), 4) for f, v in zip(features, cal.coef_, strict=True)},
        "threshold_rule": "target_reject" if t_reject <= t_cap else "max_abstain",
        "threshold_target_reject": round(t_reject, 6),
        "threshold_max_abstain": None if not caps else round(t_cap, 6),
        "validation": "out of fold (folds by query, paraphrase entry and off-topic topic)",
        "unanswerable_rejected": round(float(np.average(abstain[unans], weights=w[unans])), 4),
        "answerable_abstained": round(float(np.average(abstain[~unans], weights=w[~unans])), 4),
        "abstained_by_group": {g: round(float(abstain[group == g].mean()), 4)
                               for g in (*_ANSWERABLE_SHARES, *_UNANSWERABLE_SHARES) if (group == g).any()},
        "answered_top_right": round(float(right[~unans & ~abstain].mean()), 4) if (~unans & ~abstain).any() else None,
    }
    return cal


def fit_no_answer_model(index: NoAnswerIndex | Sequence[NoAnswerIndex], records: Sequence[dict[str, Any]], *,
                        offtopic: Sequence[str] | Mapping[str, Sequence[str]],
                        adjacent: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
                        uncovered: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
                        category_model: CategoryModel | None = None, scope_model: ScopeScorer | None = None,
                        n_splits: int = 18, drop_share: float = 0.28, target_reject: float = 0.88,
                        max_abstain: float = 0.08, answerable_prior: float = 0.75, c: float = 1.0,
                        seed: int = 0, adapter: RetrievalAdapter | None = None,
                        view_fitted_codes: Sequence[Collection[str] | None] | None = None) -> NoAnswerModel:
    """Fit the no-answer model on generated queries with leave-codes-out splits of the indexed KB.

    Args:
        index: the KB indexed with the encoder the model is for (cosine features are encoder-specific) and,
            when ``category_model`` is given, with its entry profiles:
            ``FaqIndex.build(kb, encoder, category_model=clf, no_answer="none")``; or several *views* of the
            same entries in the same order (e.g. also without similar questions, without categories). The
            first view's entries carry the codes of ``records`` as ``category``. The first view's similar
            questions become queries (paraphrases, right answer = their entry) in views that lack them.
        records: ``{"text", "label"[, "labels"]}`` caller utterances (``CorpusGenerator(...).run()["records"]``).
        offtopic: off-topic sentences (never answerable), a list or ``{topic: [sentences]}``.
        adjacent: adjacent questions no telecom FAQ answers (other companies, public services, devices).
        uncovered: telecom questions outside the KB's codes (the operator's own services that no entry covers,
            e.g. special numbers, enterprise lines): in-domain queries that are never answerable here.
        category_model: the classifier giving query category probs; without it only the plain variants are fit.
        scope_model: the classifier's scope model; with it the scope variants are fit too.
        n_splits: random leave-codes-out splits (cycling through the views); drop_share: share of codes whose
            entries leave the KB per split.
        target_reject: share of the weighted unanswerable queries the threshold rejects (out of fold) ...
        max_abstain: ... unless a group of answerable queries would abstain more than this.
        answerable_prior: weight of answerable queries (the rest: unanswerable, see ``_UNANSWERABLE_SHARES``).
        c: inverse L2 strength of the logistic regressions. seed: split and fold randomness.
        adapter: the retrieval adapter an index uses with this model (recorded in ``info`` and attached). The
            views may each use another one, fitted on part of the codes (cross-fitting):
        view_fitted_codes: per view, the codes whose paraphrases that view's adapter was fitted on. Every split
            of the view drops their entries and never queries their paraphrases, so every kept entry is one the
            adapter never saw, as in a customer's own KB (its ``drop_share`` then applies to the other codes).

    Example:
        >>> index = FaqIndex.build(kb, encoder, category_model=clf, no_answer="none")  # doctest: +SKIP
        >>> model = fit_no_answer_model(index, records, offtopic=offtopic, category_model=clf)  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    if not 0.0 < drop_share < 1.0:
        raise InvalidInputError(f"drop_share must be in (0, 1), got {drop_share}")
    if not 0.0 < target_reject < 1.0:
        raise InvalidInputError(f"target_reject must be in (0, 1), got {target_reject}")
    if not 0.0 < max_abstain < 1.0:
        raise InvalidInputError(f"max_abstain must be in (0, 1), got {max_abstain}")
    if not 0.0 < answerable_prior < 1.0:
        raise InvalidInputError(f"answerable_prior must be in (0, 1), got {answerable_prior}")
    views = [index] if not isinstance(index, Sequence) else list(index)
    if not views:
        raise InvalidInputError("index must be an index or a non-empty list of views of one KB")
    ref = views[0]
    ids = [e.id for e in ref.kb.entries]
    for n, v in enumerate(views[1:], start=1):
        if [e.id for e in v.kb.entries] != ids:
            raise InvalidInputError(f"view {n} does not index the same entries in the same order as view 0; "
                                    "build every view from the same KB (only fields and categories may differ)")
    cats = [e.category for e in ref.kb.entries]
    codes = sorted({c_ for c_ in cats if c_})
    if len(codes) < 4 or any(c_ is None for c_ in cats):
        raise InvalidInputError("fit_no_answer_model needs a KB whose every entry has a category, over >= 4 codes; "
                                f"got {len(codes)} codes and {sum(c_ is None for c_ in cats)} entries without one")
    fitted_codes = [set(c_ or ()) for c_ in (view_fitted_codes or [None] * len(views))]
    if len(fitted_codes) != len(views):
        raise InvalidInputError(f"view_fitted_codes must hold one entry per view: got {len(fitted_codes)} for "
                                f"{len(views)} views")
    for n, fc in enumerate(fitted_codes):
        if len(set(codes) - fc) < 2:
            raise InvalidInputError(f"view {n}'s adapter was fitted on {len(fc & set(codes))} of the KB's "
                                    f"{len(codes)} codes, leaving fewer than 2 to test it on; fit it on fewer codes")
    for v in views if category_model is not None else []:
        if v.category_classes_ != list(category_model.classes_):
            have = ("no entry category profiles" if v.category_classes_ is None
                    else f"entry category profiles over {len(v.category_classes_)} other classes")
            raise InvalidInputError(
                f"category_model has {len(category_model.classes_)} classes but the index has {have}; build it with "
                "FaqIndex.build(kb, encoder, category_model=<this classifier>, no_answer='none')")
    recs = [r for r in records if r["label"] in set(codes)]
    if not recs:
        raise InvalidInputError("no record's label is a category of the KB; pass records generated for its codes")
    rng = np.random.default_rng(seed)
    bare = [not any(e.similar for e in v.kb.entries) for v in views]
    paraphrases = [(s, j) for j, e in enumerate(ref.kb.entries) for s in dict.fromkeys(e.similar)] if any(bare) else []
    off, adj = _as_topics(offtopic, "offtopic"), _as_topics(adjacent, "adjacent")
    unc = _as_topics(uncovered, "uncovered")
    q = _queries(recs, [str(c_) for c_ in cats], paraphrases, off, adj, unc, rng)
    qv = ref.encoder.encode_queries(q.texts)  # [n, dim], shared by the views
    qlen = np.array([len(t) for t in q.texts])
    qprobs = None
    aff_dicts: list[dict[str, float]] = []
    if category_model is not None:
        classes = list(category_model.classes_)
        qprobs = np.asarray(category_model.predict_proba(q.texts), dtype=np.float64)
        qprobs = np.where(qprobs >= 0.01, qprobs, 0.0)  # as the CLI and pipeline pass them
        aff_dicts = [{c_: float(p) for c_, p in zip(classes, row, strict=True) if p > 0} for row in qprobs]
    scope = None if scope_model is None else scope_features(scope_in_scope_proba(scope_model, q.texts))
    scored = []
    for v in views:
        cos, bm = v.entry_scores(q.texts, qv)  # [n, E] each
        scored.append((cos, bm, v.affinity(aff_dicts) if qprobs is not None else None))
    entry_code = np.array(cats)
    variants = ["plain"] + (["category"] if qprobs is not None else [])
    variants += [f"{v}_scope" for v in variants] if scope is not None else []
    parts: dict[str, list[dict[str, np.ndarray]]] = {v: [] for v in variants}
    right_l: dict[str, list[np.ndarray]] = {v: [] for v in variants}
    unans_l: list[np.ndarray] = []
    group_l: list[np.ndarray] = []
    fold_l: list[np.ndarray] = []
    for s in range(n_splits):
        vi = s % len(views)
        fitted = fitted_codes[vi]
        eligible = [c_ for c_ in codes if c_ not in fitted]
        n_drop = max(1, round(drop_share * len(eligible)))
        rows = np.flatnonzero(q.kind != "paraphrase") if not bare[vi] else np.arange(len(q.texts))
        if fitted:  # the adapter learnt from these paraphrases: they are no test of it
            rows = rows[np.array([not (q.kind[i] == "paraphrase" and cats[q.entry[i]] in fitted) for i in rows],
                                 dtype=bool)]
        dropped = fitted | set(rng.choice(eligible, size=n_drop, replace=False).tolist())
        per_code = int(rng.integers(1, 5)) if (s // len(views)) % 2 else 99  # every other round thins codes to 1-4
        keep = np.zeros(len(cats), dtype=bool)
        for code in codes:
            if code not in dropped:
                keep[rng.permutation(np.flatnonzero(entry_code == code))[:per_code]] = True
        kept_codes = set(codes) - dropped
        kind = q.kind[rows]
        unans = np.array([not keep[q.entry[i]] if q.kind[i] == "paraphrase"
                          else q.primary[i] is None or q.primary[i] not in kept_codes for i in rows])
        group = np.select([kind == "offtopic", kind == "adjacent", kind == "uncovered", kind == "paraphrase"],
                          ["offtopic", "adjacent", "uncovered", np.where(unans, "paraphrase_dropped", "paraphrase")],
                          np.where(unans, "dropped", "generated"))
        cos, bm, aff = (None if x is None else _masked(keep, x[rows]) for x in scored[vi])
        assert cos is not None and bm is not None
        fused_nb = fuse(cos, bm, ref.weights)
        for v in variants:
            with_cat = v.startswith("category")
            fused = fused_nb
            if with_cat and aff is not None and ref.weights.category:
                fused = fused_nb + ref.weights.category * z_log_affinity(aff)
            top = fused.argmax(axis=1)
            f = na_features(cos, fused, bm, top, qlen[rows], aff=aff if with_cat else None,
                            qprobs=qprobs[rows] if with_cat and qprobs is not None else None)
            if v.endswith("_scope") and scope is not None:
                f[SCOPE_FEATURE] = scope[SCOPE_FEATURE][rows]
            parts[v].append({k: f[k] for k in _FEATURES_OF[v]})
            right_l[v].append(np.array([not u and (top[n] == q.entry[i] if q.kind[i] == "paraphrase"
                                                   else entry_code[top[n]] in q.labels[i])
                                        for n, (u, i) in enumerate(zip(unans, rows, strict=True))]))
        unans_l.append(unans)
        group_l.append(group)
        fold_l.append(q.fold[rows])
    unans, group, fold = np.concatenate(unans_l), np.concatenate(group_l), np.concatenate(fold_l)
    w = _weights(group, answerable_prior)
    cals: dict[str, AbstentionCalibrator] = {}
    for v in variants:
        feats = {k: np.concatenate([p[k] for p in parts[v]]) for k in _FEATURES_OF[v]}
        cals[v] = _fit_variant(_FEATURES_OF[v], feats, unans, np.concatenate(right_l[v]), group, w, fold,
                               target_reject=target_reject, max_abstain=max_abstain, c=c)
    info = {
        "target": "the KB holds an answer: an entry of the query's code (generated) or its own entry (paraphrase)",
        "target_reject": target_reject, "max_abstain": max_abstain, "answerable_prior": answerable_prior,
        "shares": {"answerable": _ANSWERABLE_SHARES, "unanswerable": _UNANSWERABLE_SHARES},
        "n_splits": n_splits, "drop_share": drop_share, "seed": seed, "c": c,
        "views": [{"fields": list(getattr(v, "fields", ())), "similar": not b,
                   "categories": any(e.category for e in v.kb.entries)} for v, b in zip(views, bare, strict=True)],
        "n_queries": {k: int((q.kind == k).sum()) for k in ("generated", "paraphrase", "offtopic", "adjacent",
                                                             "uncovered")},
        "n_rows": int(len(unans)),
        "kb_source": ref.kb.source, "kb_entries": len(ids), "kb_codes": len(codes),
        "records_fingerprint": fingerprint(q.texts),
        "category_model": None if category_model is None else {
            "n_classes": len(category_model.classes_), "builder": getattr(category_model, "builder", None)},
        "scope_model": None if scope_model is None else scope_identity(scope_model),
        "adapter": None if adapter is None else adapter.describe(),
        "view_adapters": [None if getattr(v, "adapter", None) is None else v.adapter.identity for v in views],
        "view_fitted_codes": None if view_fitted_codes is None else [sorted(fc) for fc in fitted_codes],
        "fit_seconds": round(time.perf_counter() - t0, 1),
    }
    model = NoAnswerModel(cals["plain"], cals.get("category"), ref.encoder.name, info,
                          plain_scope=cals.get("plain_scope"), category_scope=cals.get("category_scope"))
    model.scope_model = scope_model
    model.adapter = adapter
    return model
