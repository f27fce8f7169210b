"""A fine-tuned e5 classifier mixed with a linear one: builder ``complaint.e5_mix.v1``.

``p ∝ exp((w · log p_finetuned + (1 − w) · log p_linear) / T)``: the weight ``w`` and the temperature ``T`` are
fitted together on held-out data (negative log-likelihood over a grid of ``w``), the abstain thresholds on the
same held-out predictions. The artefact is a composite: ``meta.json`` + ``config.json`` (the manifest: component
folders and the mix) and the two components' own folders, ``finetuned/`` (an
:class:`~hotline.models.e5_classifier.E5FinetuneClassifier`) and ``linear/`` (a
:class:`~hotline.models.classifier.ComplaintClassifier`), each loadable alone.

Example:
    >>> mix = MixedComplaintClassifier(finetuned=e5_clf, linear=tfidf_clf)  # doctest: +SKIP
    >>> mix.calibrate(p_ft_held, p_lin_held, y_held).predict(["家里宽带又断了"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from hotline.core.artifacts import read_meta, write_meta
from hotline.core.errors import ArtifactError, InvalidInputError, NotFittedError

__all__ = ["MixedComplaintClassifier", "BUILDER", "mix_logits"]

BUILDER = "complaint.e5_mix.v1"
KIND = "complaint_classifier"
_PARTS = {"finetuned": "finetuned", "linear": "linear"}  # component → folder
_WEIGHTS = tuple(round(w / 10, 1) for w in range(11))


def mix_logits(p_ft: np.ndarray, p_lin: np.ndarray, w: float) -> np.ndarray:
    """``w · log p_ft + (1 − w) · log p_lin`` (``[n, C]`` each, same columns)."""
    return w * np.log(np.clip(p_ft, 1e-12, None)) + (1.0 - w) * np.log(np.clip(p_lin, 1e-12, None))


class MixedComplaintClassifier:
    """Log-linear mix of a fine-tuned e5 classifier and a linear classifier over the same labels.

    Args:
        finetuned: a fitted :class:`~hotline.models.e5_classifier.E5FinetuneClassifier`.
        linear: a fitted :class:`~hotline.models.classifier.ComplaintClassifier`; its labels are the mix's (the
            fine-tuned model may lack a label the linear one has: that column gets no fine-tuned vote).
        target_precision: precision the abstain thresholds aim for on held-out data.
    """

    builder = BUILDER
    uses_tfidf = False

    def __init__(self, *, finetuned: Any, linear: Any, target_precision: float = 0.9) -> None:
        if not set(finetuned.classes_) <= set(linear.classes_):
            raise InvalidInputError("the fine-tuned model has labels the linear one lacks: "
                                    f"{sorted(set(finetuned.classes_) - set(linear.classes_))[:5]}; fit both on "
                                    "the same data")
        if not 0.0 < target_precision <= 1.0:
            raise InvalidInputError(f"target_precision must be in (0, 1], got {target_precision}")
        self.finetuned = finetuned
        self.linear = linear
        self.target_precision = target_precision
        self.classes_ = list(linear.classes_)
        self._cols = [self.classes_.index(c) for c in finetuned.classes_]

    @property
    def uses_embeddings(self) -> bool:
        return bool(getattr(self.linear, "uses_embeddings", False))

    @property
    def encoder(self) -> str | None:
        return self.linear.encoder if self.uses_embeddings else None

    def warm_up(self) -> None:
        """Warm both components. Safe to call twice."""
        self.finetuned.warm_up()
        self.linear.warm_up()

    # -- mixing --------------------------------------------------------------------------------------------
    def finetuned_proba(self, texts: list[str]) -> np.ndarray:
        """The fine-tuned component's probabilities in the mix's column order ``[n, len(classes_)]``."""
        p = np.full((len(texts), len(self.classes_)), 1e-12)
        p[:, self._cols] = self.finetuned.predict_proba(texts)
        return p

    def calibrate(self, p_ft: np.ndarray, p_lin: np.ndarray, y: np.ndarray) -> MixedComplaintClassifier:
        """Fit ``w``, the temperature and the thresholds on held-out probabilities of both components."""
        from hotline.models.calibration import (
            calibration_summary,
            fit_temperature,
            nll,
            precision_thresholds,
            softmax,
        )

        if len(y) == 0:
            raise InvalidInputError("the mix needs held-out examples to fit its weight; got none")
        best = None
        for w in _WEIGHTS:
            z = mix_logits(p_ft, p_lin, w)
            t = fit_temperature(z, y)
            score = nll(softmax(z / t), y)
            if best is None or score < best[0] - 1e-9:
                best = (score, w, t)
        _, self.weight_, self.temperature_ = best
        probs = softmax(mix_logits(p_ft, p_lin, self.weight_) / self.temperature_)
        self.global_threshold_, self.thresholds_ = precision_thresholds(probs, y, self.classes_,
                                                                        self.target_precision)
        self.holdout_metrics_ = {**calibration_summary(probs, y), "weight_finetuned": float(self.weight_),
                                 "temperature": float(self.temperature_)}
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "weight_"):
            raise NotFittedError("This MixedComplaintClassifier is not fitted yet. Call 'calibrate' or 'load' first.")

    def predict_proba(self, texts: list[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        """Calibrated probabilities ``[n, n_classes]``; ``embeddings`` go to the linear component."""
        from hotline.models.calibration import softmax

        self._check_fitted()
        texts = list(texts)
        p_lin = self.linear.predict_proba(texts, embeddings=embeddings)
        return softmax(mix_logits(self.finetuned_proba(texts), p_lin, self.weight_) / self.temperature_)

    def predict(self, texts: list[str]) -> list[str]:
        return [self.classes_[i] for i in self.predict_proba(texts).argmax(1)]

    def threshold_for(self, label: str) -> float:
        return self.thresholds_.get(label, self.global_threshold_)

    # -- persistence ---------------------------------------------------------------------------------------
    def save(self, directory: str | Path, *, metrics: dict[str, Any] | None = None,
             selection: dict[str, Any] | None = None) -> Path:
        """Write the manifest (config.json), meta.json and both component folders."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.finetuned.save(directory / _PARTS["finetuned"])
        self.linear.save(directory / _PARTS["linear"])
        parts = {k: {"dir": v, "builder": str(getattr(getattr(self, k).builder, "value", getattr(self, k).builder))}
                 for k, v in _PARTS.items()}
        config = {"builder": BUILDER, "components": parts,
                  "weight_finetuned": self.weight_, "temperature": self.temperature_,
                  "target_precision": self.target_precision}
        (directory / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        write_meta(directory, kind=KIND, builder=BUILDER, labels=list(self.classes_),
                   encoder=self.encoder, n_train=getattr(self.linear, "n_train_", None),
                   data_fingerprint=getattr(self.linear, "data_fingerprint_", None),
                   thresholds={"global": self.global_threshold_, "per_label": self.thresholds_,
                               "target_precision": self.target_precision},
                   calibration=self.holdout_metrics_, manifest=config["components"], metrics=metrics or {},
                   selection=selection)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> MixedComplaintClassifier:
        """Load a folder written by :meth:`save`; refuses other builders and damaged composites."""
        from hotline.models.classifier import ComplaintClassifier
        from hotline.models.e5_classifier import E5FinetuneClassifier

        directory = Path(directory)
        meta = read_meta(directory, kind=KIND, builder=BUILDER)
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        mix = cls(finetuned=E5FinetuneClassifier.load(directory / _PARTS["finetuned"]),
                  linear=ComplaintClassifier.load(directory / _PARTS["linear"]),
                  target_precision=float(config.get("target_precision", 0.9)))
        if list(meta.get("labels", [])) != mix.classes_:
            raise ArtifactError(f"{directory}: meta.json labels differ from the linear component's; the folder is "
                                "damaged, retrain it")
        mix.weight_ = float(config["weight_finetuned"])
        mix.temperature_ = float(config["temperature"])
        th = meta.get("thresholds") or {}
        mix.global_threshold_ = float(th.get("global", 0.0))
        mix.thresholds_ = {str(k): float(v) for k, v in (th.get("per_label") or {}).items()}
        mix.holdout_metrics_ = meta.get("calibration") or {}
        mix.meta_ = meta
        return mix
