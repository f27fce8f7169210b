"""Fit the call-level model for a classifier on whole generated calls (``hotline build`` step 3).

The calls come from :class:`~hotline.training.dialogues.DialogueGenerator` (complete dialogues with turn
roles, a tenth of them off-topic). Each turn is normalised and PII-masked exactly as the live engine does, the
classifier gives its class probabilities, and :class:`~hotline.models.call_model.CallModel` learns the turn
roles and the call category from them on nine tenths of the calls; the held-out tenth (whole calls) fits the
temperature of its probabilities and measures it. The model is saved beside the classifier it reads
(``<classifier>/call_model/``).
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["fit_call_model", "prepare_calls"]

logger = logging.getLogger(__name__)


def prepare_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turn texts as the live engine sees them: normalised, then PII-masked."""
    from hotline.core.mask import masked_text

    return [{**c, "turns": [{**t, "text": masked_text(t["text"])} for t in c["turns"]]} for c in calls]


def _turn_probs(clf: Any, calls: list[dict[str, Any]], *, batch: int = 512) -> list[np.ndarray]:
    texts = [t["text"] for c in calls for t in c["turns"]]
    probs = np.vstack([clf.predict_proba(texts[i : i + batch]) for i in range(0, len(texts), batch)])
    out, off = [], 0
    for c in calls:
        n = len(c["turns"])
        out.append(probs[off : off + n])
        off += n
    return out


def _turn_scope(scope: Any, calls: list[dict[str, Any]], *, batch: int = 512) -> list[np.ndarray] | None:
    if scope is None:
        return None
    texts = [t["text"] for c in calls for t in c["turns"]]
    s = np.concatenate([scope.proba(texts[i : i + batch]) for i in range(0, len(texts), batch)])
    out, off = [], 0
    for c in calls:
        out.append(s[off : off + len(c["turns"])])
        off += len(c["turns"])
    return out


def fit_call_model(clf: Any, out: str | Path, *, seed: int = 13, per_code: int = 60, holdout: float = 0.1,
                   scope: Any = None, **params: Any) -> dict[str, Any]:
    """Generate calls, fit a :class:`CallModel` for ``clf`` and save it to ``out``; returns its metrics.

    ``scope``: the :class:`~hotline.models.scope.ScopeModel` fitted beside ``clf`` (its per-turn P(telecom
    speech) becomes a feature), or None.
    """
    from hotline.models.call_model import NONE_LABEL, CallModel
    from hotline.training.dialogues import DialogueGenerator

    t0 = time.perf_counter()
    gen = DialogueGenerator(seed=seed, per_code=per_code)
    gen.warm_up()
    calls = prepare_calls(gen.run()["calls"])
    rng = random.Random(seed)
    order = list(range(len(calls)))
    rng.shuffle(order)
    n_held = int(len(calls) * holdout)
    held_i, train_i = order[:n_held], order[n_held:]
    probs = _turn_probs(clf, calls)
    scopes = _turn_scope(scope, calls)
    logger.info("call model: %d generated calls (%d turns), turn probabilities in %.0fs", len(calls),
                sum(len(c["turns"]) for c in calls), time.perf_counter() - t0)
    train = [calls[i] for i in train_i]
    model = CallModel(seed=seed, **params).fit(train, [probs[i] for i in train_i], list(clf.classes_),
                                               None if scopes is None else [scopes[i] for i in train_i])
    metrics: dict[str, Any] = {}
    if held_i:
        held, held_p = [calls[i] for i in held_i], [probs[i] for i in held_i]
        held_s = None if scopes is None else [scopes[i] for i in held_i]
        model.calibrate(held, held_p, held_s)  # the temperature, on calls the model has not seen
        p = model.predict_proba(held, held_p, held_s)
        pred = [model.labels_[j] for j in p.argmax(1)]
        gold = [NONE_LABEL if c["label"] is None else c["label"] for c in held]
        metrics["heldout_generated_calls"] = {"n": len(held), "accuracy": float(np.mean([a == b for a, b in zip(pred, gold)])),
                                              "temperature": model.temperature_}
        logger.info("call model held-out generated calls: %s", metrics["heldout_generated_calls"])
    model.save(out, metrics=metrics)
    metrics["seconds"] = round(time.perf_counter() - t0, 1)
    return metrics
