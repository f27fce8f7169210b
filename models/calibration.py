"""Calibration helpers shared by the classifiers that are not ComplaintClassifier's own linear builders.

A temperature fitted by held-out negative log-likelihood, per-label abstain thresholds that reach a target
precision on held-out predictions (the same rule as :class:`~hotline.models.classifier.ComplaintClassifier`), and
a summary of held-out accuracy, NLL and ECE.

Example:
    >>> logits = np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 0.0]]); y = np.array([0, 1, 1])
    >>> 0.05 <= fit_temperature(logits, y) <= 10.0
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["softmax", "nll", "fit_temperature", "threshold_for_precision", "precision_thresholds",
           "calibration_summary"]

_MIN_PER_LABEL = 10  # a label needs this many held-out predictions for its own threshold


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``[n, C]`` scores."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of label indices ``y`` under ``probs`` ``[n, C]``."""
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None))))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature in [0.05, 10] minimising held-out NLL of ``softmax(logits / T)`` (1.0 with no data)."""
    from scipy.optimize import minimize_scalar

    if len(y) == 0:
        return 1.0
    res = minimize_scalar(lambda t: nll(softmax(logits / t), y), bounds=(0.05, 10.0), method="bounded")
    return float(res.x)


def precision_thresholds(probs: np.ndarray, y: np.ndarray, classes: list[str], target: float
                         ) -> tuple[float, dict[str, float]]:
    """``(global, per_label)`` confidence thresholds whose accepted held-out predictions reach ``target``."""
    if len(y) == 0:
        return 0.0, {}
    pred, conf = probs.argmax(1), probs.max(1)
    per_label = {}
    for c, name in enumerate(classes):
        mask = pred == c
        if mask.sum() >= _MIN_PER_LABEL:
            per_label[name] = threshold_for_precision(conf[mask], y[mask] == c, target)
    return threshold_for_precision(conf, pred == y, target), per_label


def calibration_summary(probs: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Held-out ``n``, ``accuracy``, ``nll`` and ``ece`` of ``probs`` against label indices ``y``."""
    from hotline.models.metrics import expected_calibration_error

    if len(y) == 0:
        return {"n": 0}
    pred, conf = probs.argmax(1), probs.max(1)
    return {"n": int(len(y)), "accuracy": float((pred == y).mean()), "nll": nll(probs, y),
            "ece": float(expected_calibration_error(conf, pred == y))}


def threshold_for_precision(conf: np.ndarray, correct: np.ndarray, target: float) -> float:
    """Smallest confidence threshold whose accepted predictions reach ``target`` precision (0 if all do)."""
    order = np.argsort(-conf)
    c = correct[order].astype(float)
    precision = np.cumsum(c) / np.arange(1, len(c) + 1)
    ok = np.flatnonzero(precision >= target)
    if len(ok) == 0:
        return float(conf.max()) if len(conf) else 1.0
    last = ok.max()
    if last == len(c) - 1:
        return 0.0
    return float(conf[order][last])
