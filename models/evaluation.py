"""Evaluate a classifier on labelled texts: accuracy, macro-F1, top-3, service accuracy, calibration."""

from __future__ import annotations

from typing import Any

import numpy as np

from hotline.core.taxonomy import default_taxonomy
from hotline.models.metrics import classification_metrics

__all__ = ["evaluate_classifier"]


def evaluate_classifier(clf, texts: list[str], labels: list[str], *, batch_size: int = 256) -> dict[str, Any]:
    """Metrics of ``clf`` (a fitted ComplaintClassifier) on ``texts``/``labels``.

    ``service_accuracy`` is reported when every label is a taxonomy code: the predicted service is the
    service with the largest summed leaf probability.
    """
    probs = np.vstack([clf.predict_proba(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)])
    classes = list(clf.classes_)
    m = classification_metrics(labels, probs, classes)
    tax = default_taxonomy()
    if tax.covers(set(labels)) and tax.covers(set(classes)):
        services = sorted({tax.service_of(c) for c in classes})
        member = np.array([[tax.service_of(c) == s for s in services] for c in classes], dtype=float)
        sp = probs @ member
        pred_s = [services[i] for i in sp.argmax(1)]
        m["service_accuracy"] = float(np.mean([tax.service_of(y) == p for y, p in zip(labels, pred_s)]))
    m["predictions"] = [classes[i] for i in probs.argmax(1)]
    m["confidences"] = [float(x) for x in probs.max(1)]
    return m
