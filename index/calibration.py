"""Self-supervised no-answer calibration of one index, at build time and without labelled queries.

Positives are each entry's similar questions searched with their own row held out (pseudo-queries cut from
the question when an entry has none); negatives are the KB's own questions searched with their entry removed
(an in-domain question the KB cannot answer) plus off-topic Chinese sentences (``data/kb/offtopic.txt``).
Two :class:`~hotline.index.abstention.AbstentionCalibrator` are fitted on the top hit's features
(:data:`~hotline.index.fusion.FEATURES`; with a classifier also one over
:data:`~hotline.index.fusion.CATEGORY_FEATURES`), and the threshold, chosen on out-of-fold probabilities,
rejects ``target_reject`` (default 80 %) of the simulated unanswerable queries: pseudo-queries are easier than
real callers' wording, so a precision target on them abstains on most real answerable queries (measured: 94 %).

The index is passed in (anything shaped like :class:`CalibrationIndex`, i.e. a ``FaqIndex`` being built), so
this module does not import :mod:`hotline.index.faq_index`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from hotline.core.resources import data_path
from hotline.index.abstention import AbstentionCalibrator
from hotline.index.fusion import (
    CATEGORY_FEATURES,
    FEATURES,
    CategoryModel,
    FusionWeights,
    fuse,
    hit_features,
    z_log_affinity,
)
from hotline.index.lexical import Bm25Index
from hotline.index.rows import ANSWER, Segmenter, doc_texts, entry_rows, lex_tokens

if TYPE_CHECKING:
    from hotline.index.kb import KnowledgeBase
    from hotline.models.encoders import Encoder

__all__ = ["CalibrationIndex", "fit_self_calibrators", "calibration_features", "default_offtopic_path",
           "read_offtopic"]

logger = logging.getLogger(__name__)

_N_FOLDS = 4  # BM25 folds hiding the held-out similar questions
_NEG_SHARE = {"leave_out": 0.6, "offtopic": 0.4}  # of the unanswerable mass, when both kinds are present


class CalibrationIndex(Protocol):
    """What calibration reads of an index (a :class:`hotline.index.faq_index.FaqIndex`)."""

    kb: KnowledgeBase
    encoder: Encoder
    segmenter: Segmenter
    bm25: Bm25Index
    fields: tuple[str, ...]
    bm25_fields: tuple[str, ...]
    row_entry: np.ndarray  # [rows] entry number of each vector row
    row_field: np.ndarray  # [rows] index into rows.FIELDS
    weights: FusionWeights
    entry_probs_: np.ndarray | None
    category_classes_: list[str] | None

    def adapt(self, qv: np.ndarray) -> np.ndarray: ...


def default_offtopic_path() -> Path:
    """The shipped off-topic sentences, ``data/kb/offtopic.txt``."""
    return data_path("kb", "offtopic.txt")


def read_offtopic(path: str | Path | None = None) -> list[str]:
    """Non-empty, non-comment lines of an off-topic file (default :func:`default_offtopic_path`); [] if missing."""
    path = Path(path) if path is not None else default_offtopic_path()
    if not path.is_file():
        logger.warning("off-topic sentences file %s is missing; calibrating without off-topic negatives", path)
        return []
    return [s.strip() for s in path.read_text(encoding="utf-8").splitlines() if s.strip() and not s.startswith("#")]


def calibration_features(cos: np.ndarray, fused: np.ndarray, bm: np.ndarray, cov: np.ndarray, top: np.ndarray, *,
                         aff: np.ndarray | None = None, query_conf: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """:func:`~hotline.index.fusion.hit_features` with term coverage zeroed, as the calibrators see them.

    Pseudo-queries cut from the FAQ's own question overlap it word for word, so on them coverage separates
    right from wrong almost perfectly and the model leaned on it (coefficient ~4); real callers reword, their
    coverage is low, and that model abstained on 86 % of answerable check queries (59-64 % without it).
    The feature stays (as zeros) so stored layouts hold. Raw BM25 stays: on small KBs it is what tells
    off-topic sentences apart.
    """
    feats = hit_features(cos, fused, bm, cov, top, aff=aff, query_conf=query_conf)
    feats["coverage_top"] = np.zeros_like(feats["coverage_top"])
    return feats


# -- calibration queries ------------------------------------------------------------------------
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


def _calibration_queries(index: CalibrationIndex, offtopic: list[str], *, max_queries: int, n_folds: int,
                         rng: random.Random) -> list[_CalQuery]:
    entries = index.kb.entries
    # row of each (entry, text) so a similar question can be hidden from itself
    row_of: dict[tuple[int, str], int] = {}
    texts, _, _ = entry_rows(entries, index.fields)
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


def _calibration_scores(index: CalibrationIndex, emb: np.ndarray, docs: list[list[list[str]]],
                        cqs: list[_CalQuery], n_folds: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense, BM25 and coverage scores ``[q, E]`` of each calibration query, with its own text held out."""
    n_entries = len(docs)
    qv = index.adapt(index.encoder.encode_queries([q.text for q in cqs]))  # in the space of the rows
    toks = [lex_tokens(index.segmenter, q.text) for q in cqs]
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
            fold_docs = []
            for j, e in enumerate(index.kb.entries):
                parts = doc_texts(e, index.bm25_fields)
                fold_docs.append([t for (txt, part) in zip(parts, docs[j], strict=False) if (j, txt) not in held
                                  for t in part])
            lex = Bm25Index(k1=index.bm25.k1, b=index.bm25.b)
            lex.index(fold_docs)
        sub = [toks[i] for i in idx]
        bm[idx] = lex.scores(sub)
        cov[idx] = lex.coverage(sub)
    cos = np.empty((len(cqs), n_entries), dtype=np.float32)
    q_rows = np.flatnonzero(index.row_field != ANSWER)
    a_rows = np.flatnonzero(index.row_field == ANSWER)
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


# -- fitting ----------------------------------------------------------------------------------
def fit_self_calibrators(
        index: CalibrationIndex, emb: np.ndarray, docs: list[list[list[str]]], offtopic: Sequence[str], *,
        target_precision: float = 0.9, target_reject: float | None = 0.8, min_answer_rate: float = 0.5,
        unanswerable_prior: float = 0.25, max_queries: int = 3000, seed: int = 0,
        category_model: CategoryModel | None = None,
) -> tuple[tuple[AbstentionCalibrator | None, AbstentionCalibrator | None], dict[str, Any]]:
    """The no-answer calibrators without and (given a classifier and entry profiles) with category features.

    Args:
        index: the index being built (its rows, BM25 and fusion weights; entry profiles for the category one).
        emb: ``[rows, dim]`` the index's row vectors (adapted, as stored).
        docs: per entry, the token lists of its BM25 parts (:func:`hotline.index.rows.doc_tokens`).
        offtopic: off-topic sentences (always unanswerable).
        target_precision, target_reject, min_answer_rate, unanswerable_prior, max_queries, seed: see
            :meth:`hotline.index.faq_index.FaqIndex.build`.
        category_model: the classifier whose probs the category calibrator sees.

    Returns:
        ``((plain, category), stats)``; a calibrator is ``None`` when there were too few examples to fit it.
    """
    rng = random.Random(seed)
    cqs = _calibration_queries(index, list(offtopic), max_queries=max_queries, n_folds=_N_FOLDS, rng=rng)
    cos, bm, cov = _calibration_scores(index, emb, docs, cqs, _N_FOLDS)
    target = np.array([q.target for q in cqs])
    answerable = target >= 0
    groups = np.array([q.group for q in cqs])
    w = _weights(answerable, groups, unanswerable_prior)
    n_pos = answerable.sum()
    stats: dict[str, Any] = {
        "n_queries": len(cqs),
        **{f"n_{g}": int((groups == g).sum()) for g in ("similar", "pseudo", "leave_out", "offtopic")},
    }
    fit = dict(answerable=answerable, groups=groups, w=w, target_precision=target_precision,
               target_reject=target_reject, min_answer_rate=min_answer_rate, seed=seed)
    fused = fuse(cos, bm, index.weights)
    top = fused.argmax(axis=1)
    y = (answerable & (top == target)).astype(int)
    cal, stats_base = _fit(calibration_features(cos, fused, bm, cov, top), y, FEATURES, **fit)
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
        fused_cat = fused + index.weights.category * z_log_affinity(aff)
        top_cat = fused_cat.argmax(axis=1)
        y_cat = (answerable & (top_cat == target)).astype(int)
        feats = calibration_features(cos, fused_cat, bm, cov, top_cat, aff=aff, query_conf=q.max(axis=1))
        cal_cat, stats_cat = _fit(feats, y_cat, CATEGORY_FEATURES, **fit)
        stats["category"] = {"self_recall@1": float(y_cat[answerable].mean()) if n_pos else None, **stats_cat}
    return (cal, cal_cat), stats


def _weights(answerable: np.ndarray, groups: np.ndarray, unanswerable_prior: float) -> np.ndarray:
    """Answerable queries carry 1 − prior of the mass, unanswerable ones the prior (split by :data:`_NEG_SHARE`,
    or all of it to one kind when the other is missing); normalised to mean 1."""
    w = np.zeros(len(answerable))
    n_pos = answerable.sum()
    if n_pos:
        w[answerable] = (1 - unanswerable_prior) / n_pos
    present = {g: int((groups == g).sum()) for g in _NEG_SHARE}
    total_share = sum(s for g, s in _NEG_SHARE.items() if present[g])
    for g, s in _NEG_SHARE.items():
        if present[g]:
            w[groups == g] = unanswerable_prior * (s / total_share) / present[g]
    return w * (len(w) / w.sum())


def _fit(feats: dict[str, np.ndarray], y: np.ndarray, features: tuple[str, ...], *, answerable: np.ndarray,
         groups: np.ndarray, w: np.ndarray, target_precision: float, target_reject: float | None,
         min_answer_rate: float, seed: int) -> tuple[AbstentionCalibrator | None, dict[str, Any]]:
    """Weighted logistic regression on ``feats`` and a threshold chosen on its out-of-fold probabilities."""
    stats: dict[str, Any] = {}
    if y.sum() < 3 or (1 - y).sum() < 3:
        logger.warning("too few calibration examples (%d right, %d wrong); the index will not abstain",
                       int(y.sum()), int((1 - y).sum()))
        stats["skipped"] = "too few calibration examples"
        return None, stats

    cal = AbstentionCalibrator(features, c=1.0, max_iter=1000)
    oof = cal.cross_val_proba(feats, y, sample_weight=w, n_splits=5, seed=seed)
    cal.fit(feats, y, sample_weight=w)
    thr, curve = _pick_threshold(oof, y, w, target_precision)
    neg = ~answerable
    if target_reject is not None and neg.any():
        # the unanswerable side is the better-simulated one: reject this (weighted) share of it
        thr = cal.pick_threshold(oof[neg], target_reject=target_reject, sample_weight=w[neg])
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
    cal.threshold_ = thr
    answered = oof >= thr
    assert cal.coef_ is not None
    stats.update({
        "features": list(features),
        "threshold": thr,
        "threshold_rule": rule,
        "target_reject": target_reject,
        "coef": dict(zip(features, [round(float(c), 4) for c in cal.coef_], strict=True)),
        "answered_precision": _wmean(y[answered], w[answered]),
        "answerable_answered_rate": _wmean(answered[answerable].astype(float), w[answerable]),
        "answerable_correct_answered_rate": _wmean((answered & (y == 1))[answerable].astype(float), w[answerable]),
        "unanswerable_abstain_rate": _wmean((~answered[~answerable]).astype(float), w[~answerable]),
        "offtopic_abstain_rate": _wmean((~answered[groups == "offtopic"]).astype(float), None),
        "leave_out_abstain_rate": _wmean((~answered[groups == "leave_out"]).astype(float), None),
        "precision_curve": curve,
    })
    return cal, stats


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
    thr = float(ps[ok[-1]]) if len(ok) else float(ps[0]) + 1e-9  # none reaches it: abstain on everything seen
    curve = []
    for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        m = ps >= t
        curve.append({"threshold": t, "answered": float(ws[m].sum() / ws.sum()),
                      "precision": float((ws[m] * ys[m]).sum() / max(ws[m].sum(), 1e-12)) if m.any() else None})
    return thr, curve
