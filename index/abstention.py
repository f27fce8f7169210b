"""One abstention calibrator: a standardised logistic regression over named features, and its threshold.

``P(answer is right) = σ(((x − mean) / scale) · coef + intercept)`` where ``x`` stacks the named features in
:attr:`AbstentionCalibrator.features` order; a result whose probability is below ``threshold_`` abstains.
The threshold is usually chosen to reject a target share of (weighted) unanswerable queries
(:meth:`~AbstentionCalibrator.pick_threshold`). The state is plain numbers (:meth:`~AbstentionCalibrator.to_dict`),
never a pickle, so it lives in JSON: the shipped no-answer model (:mod:`hotline.index.no_answer`) and the
per-KB self-supervised calibrators in an index's ``meta.json`` (:mod:`hotline.index.calibration`).

Example:
    >>> x = {"margin": np.array([0.1, 0.2, 0.8, 0.9]), "cos": np.array([0.3, 0.2, 0.7, 0.9])}
    >>> cal = AbstentionCalibrator(["margin", "cos"]).fit(x, np.array([0, 0, 1, 1]))
    >>> bool(cal.proba(x)[3] > cal.proba(x)[0])
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hotline.core.errors import ArtifactError, InvalidInputError, NotFittedError

__all__ = ["AbstentionCalibrator"]

_SCALE_EPS = 1e-6  # added to each feature's std: a constant feature standardises to 0, not to NaN


class AbstentionCalibrator:
    """Standardised logistic regression over named features with an abstention threshold.

    Args:
        features: the feature names, in the order of ``coef_``.
        c: inverse L2 strength of the logistic regression.
        max_iter: solver iterations.

    Attributes (after :meth:`fit` or :meth:`from_dict`):
        mean_, scale_: ``[n_features]`` standardisation.
        coef_: ``[n_features]`` weights on the standardised features; intercept_: the bias.
        threshold_: answer when ``proba >= threshold_`` (0.5 until :meth:`pick_threshold`).
        stats_: free-form fit statistics saved with the numbers.
    """

    def __init__(self, features: Sequence[str], *, c: float = 1.0, max_iter: int = 1000) -> None:
        if isinstance(features, str) or not features:
            raise InvalidInputError(f"features must be a non-empty list of names, got {features!r}")
        self.features = tuple(features)
        self.c = c
        self.max_iter = max_iter
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.coef_: np.ndarray | None = None
        self.intercept_: float = 0.0
        self.threshold_: float = 0.5
        self.stats_: dict[str, Any] = {}

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, feats: Mapping[str, np.ndarray], y: np.ndarray, *,
            sample_weight: np.ndarray | None = None) -> AbstentionCalibrator:
        """Fit on named features (each ``[n]``) and labels ``y`` ``[n]`` (1: the answer is right)."""
        from sklearn.linear_model import LogisticRegression

        x = self._matrix(feats)
        self.mean_, self.scale_ = self._standardisation(x)
        m = LogisticRegression(C=self.c, max_iter=self.max_iter).fit((x - self.mean_) / self.scale_, y,
                                                                     sample_weight=sample_weight)
        self.coef_ = m.coef_[0].astype(np.float64)
        self.intercept_ = float(m.intercept_[0])
        return self

    def cross_val_proba(self, feats: Mapping[str, np.ndarray], y: np.ndarray, *,
                        sample_weight: np.ndarray | None = None, n_splits: int = 5, seed: int = 0) -> np.ndarray:
        """Out-of-fold probabilities ``[n]`` of the same model (stratified folds, standardised over all of ``x``).

        For choosing a threshold on probabilities the model did not see; does not change this calibrator.
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        y = np.asarray(y)
        k = int(min(n_splits, y.sum(), (1 - y).sum()))
        if k < 2:
            raise InvalidInputError(f"cross_val_proba needs >= 2 examples of each label, got {int(y.sum())} right "
                                    f"and {int((1 - y).sum())} wrong; pass more examples")
        x = self._matrix(feats)
        mean, scale = self._standardisation(x)
        z = (x - mean) / scale
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight)
        oof = np.zeros(len(y))
        for tr, te in StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(z, y):
            m = LogisticRegression(C=self.c, max_iter=self.max_iter).fit(z[tr], y[tr], sample_weight=w[tr])
            oof[te] = m.predict_proba(z[te])[:, 1]
        return oof

    def pick_threshold(self, p_unanswerable: np.ndarray, *, target_reject: float,
                       sample_weight: np.ndarray | None = None) -> float:
        """Set (and return) the threshold that rejects ``target_reject`` of the weighted unanswerable queries.

        ``p_unanswerable`` are the probabilities of queries that should abstain; the threshold is their
        weighted ``target_reject`` quantile, so queries strictly below it (that share, up to one query's
        weight) abstain.
        """
        if not 0.0 < target_reject < 1.0:
            raise InvalidInputError(f"target_reject must be in (0, 1), got {target_reject}")
        p = np.asarray(p_unanswerable, dtype=np.float64)
        if len(p) == 0:
            raise InvalidInputError("p_unanswerable is empty; the threshold needs at least one unanswerable query")
        w = np.ones(len(p)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        order = np.argsort(p)
        cw = np.cumsum(w[order]) / w.sum()
        self.threshold_ = float(p[order][min(np.searchsorted(cw, target_reject), len(p) - 1)])
        return self.threshold_

    # -- predicting ----------------------------------------------------------------------------
    def proba(self, feats: Mapping[str, np.ndarray]) -> np.ndarray:
        """``[n]`` probability that each answer is right, from named features (each ``[n]``)."""
        if self.coef_ is None or self.mean_ is None or self.scale_ is None:
            raise NotFittedError("This AbstentionCalibrator is not fitted yet. Call 'fit' first.")
        z = ((self._matrix(feats) - self.mean_) / self.scale_) @ self.coef_ + self.intercept_
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def abstain(self, feats: Mapping[str, np.ndarray]) -> np.ndarray:
        """``[n]`` bool: the probability is below ``threshold_``."""
        return self.proba(feats) < self.threshold_

    # -- persistence ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain numbers: ``features``, ``mean``, ``scale``, ``coef``, ``intercept``, ``threshold`` (+ ``stats``)."""
        if self.coef_ is None or self.mean_ is None or self.scale_ is None:
            raise NotFittedError("This AbstentionCalibrator is not fitted yet. Call 'fit' first.")
        d: dict[str, Any] = {"features": list(self.features), "mean": self.mean_.tolist(),
                             "scale": self.scale_.tolist(), "coef": self.coef_.tolist(),
                             "intercept": self.intercept_, "threshold": self.threshold_}
        if self.stats_:
            d["stats"] = self.stats_
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, valid_features: Sequence[str] | None = None,
                  fix: str = "refit it") -> AbstentionCalibrator:
        """Rebuild from :meth:`to_dict`; ``valid_features`` (the names this code computes) are checked.

        Raises:
            ArtifactError: unknown features or inconsistent lengths; the message ends with ``fix``.
        """
        feats = tuple(d.get("features") or ())
        if valid_features is not None:
            unknown = [f for f in feats if f not in valid_features]
            if unknown or not feats:
                raise ArtifactError(f"the abstention calibrator uses features {list(feats)}, unknown here: "
                                    f"{unknown}; this Hotline computes {list(valid_features)}; {fix}")
        try:
            cal = cls(feats)
            cal.mean_, cal.scale_, cal.coef_ = (np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "coef"))
            cal.intercept_, cal.threshold_ = float(d["intercept"]), float(d["threshold"])
        except (KeyError, TypeError, ValueError, InvalidInputError) as e:
            raise ArtifactError(f"abstention calibrator numbers are missing or malformed ({e!r}); {fix}") from None
        if not (cal.mean_.shape == cal.scale_.shape == cal.coef_.shape == (len(feats),)):
            raise ArtifactError(f"abstention calibrator has {len(feats)} features but mean/scale/coef of lengths "
                                f"{cal.mean_.size}/{cal.scale_.size}/{cal.coef_.size}; {fix}")
        cal.stats_ = dict(d.get("stats") or {})
        return cal

    # -- helpers -------------------------------------------------------------------------------
    def _matrix(self, feats: Mapping[str, np.ndarray]) -> np.ndarray:
        missing = [f for f in self.features if f not in feats]
        if missing:
            raise InvalidInputError(f"features {missing} were not computed; got {sorted(feats)}, "
                                    f"this calibrator needs {list(self.features)}")
        return np.column_stack([feats[f] for f in self.features])

    @staticmethod
    def _standardisation(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x.mean(0), x.std(0) + _SCALE_EPS

    def __repr__(self) -> str:
        state = "unfitted" if self.coef_ is None else f"threshold={self.threshold_:.4f}"
        return f"AbstentionCalibrator(features={list(self.features)}, {state})"
