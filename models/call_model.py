"""The call-level complaint classifier: reads the conversation so far and gives the category of the whole call.

A call is a sequence of turns, each with a speaker, a position and a text. Two learned parts:

1. **Turn roles** (``call.role_pooled_lr.v1`` part one): a logistic regression over character n-grams of the
   turn's text plus its speaker and position bucket gives each turn a distribution over roles — the opening,
   identity checks, the complaint, details, the agent's questions, the agent's diagnosis, a deferred second
   issue, resolution talk, closings, off-topic speech … (whatever role labels the training calls carry).
2. **Call category** (part two): every turn also has the utterance classifier's distribution over categories.
   The turns are pooled per role — ``pooled[r] = Σ_i role_i[r] · probs_i / (Σ_i role_i[r] + 1)`` — with the
   log mass of each role, and a multinomial logistic regression maps the pooled vectors to the call's
   category, plus a ``none`` class for calls that are not a telecom complaint at all.

What counts is learned from whole generated calls, not set by hand: the model learns that pooled resolution
talk says little about the category, that a deferred issue is not the call's issue, and that the agent's
diagnosis can decide it. Pooling is a running sum, so the live path adds one turn in microseconds
(:class:`CallEvidence`); the evidence turns of a conclusion are the turns whose pooled contributions raise
the shown label's score most.

Example:
    >>> model = CallModel().fit(calls, turn_probs, classes)  # doctest: +SKIP
    >>> ev = model.new_evidence()  # doctest: +SKIP
    >>> ev.add("customer", 0, probs_of_turn, "我交了话费怎么还停机")  # doctest: +SKIP
    >>> model.predict_proba_evidence(ev)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hotline.core.artifacts import fingerprint, load_joblib, read_meta, write_meta
from hotline.core.errors import ArtifactError, InvalidInputError, NotFittedError

__all__ = ["CallModel", "CallEvidence", "NONE_LABEL", "position_bucket", "BUILDER"]

logger = logging.getLogger(__name__)

KIND = "call_model"
BUILDER = "call.role_pooled_lr.v1"
NONE_LABEL = "__none__"  # the call is not a telecom complaint (off-topic speech)
_SPEAKERS = ("agent", "customer")
# turn index → bucket: the opening, the first exchanges, early, middle, late (known live, unlike the call length)
_BUCKETS = (0, 1, 2, 3, 5, 8, 12)  # lower edges


def position_bucket(idx: int) -> int:
    """Coarse position of turn ``idx`` (0-based): 0, 1, 2, 3–4, 5–7, 8–11, 12+ → 0…6."""
    return int(np.searchsorted(_BUCKETS, max(idx, 0), side="right")) - 1


@dataclass
class CallEvidence:
    """Running per-role sums of one call's turns, for the live path (one :meth:`CallModel.add_turn` a turn).

    Attributes:
        sums: ``[n_roles, n_classes]`` Σ of role probability × turn class probabilities.
        mass: ``[n_roles]`` Σ of role probabilities.
        turns: per turn ``(idx, role_probs [n_roles], class_probs [n_classes])``, for the evidence turns.
    """

    sums: np.ndarray
    mass: np.ndarray
    oos: np.ndarray | None = None  # [n_roles] Σ role probability × P(turn is not telecom speech), with a scope model
    turns: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)


class CallModel:
    """Call category from turn texts, speakers and positions (see the module docstring).

    Args:
        c_role: inverse regularisation of the turn-role logistic regression.
        c_call: inverse regularisation of the call-category logistic regression.
        max_features: vocabulary size of the role model's character n-grams.
        seed: random seed.
    """

    def __init__(self, *, c_role: float = 4.0, c_call: float = 2.0, max_features: int = 60_000, seed: int = 0) -> None:
        if c_role <= 0 or c_call <= 0:
            raise InvalidInputError(f"c_role and c_call must be > 0, got {c_role} and {c_call}")
        self.c_role = c_role
        self.c_call = c_call
        self.max_features = max_features
        self.seed = seed

    def get_config(self) -> dict[str, Any]:
        return {"c_role": self.c_role, "c_call": self.c_call, "max_features": self.max_features, "seed": self.seed}

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, calls: Sequence[dict[str, Any]], turn_probs: Sequence[np.ndarray], classes: Sequence[str],
            turn_scope: Sequence[np.ndarray] | None = None) -> CallModel:
        """Fit on generated calls.

        Args:
            calls: ``{"turns": [{"speaker", "text", "role"}], "label": code | None}`` (texts already masked).
            turn_probs: per call, the utterance classifier's ``[n_turns, n_classes]`` probabilities of its turns.
            classes: the utterance classifier's classes (column order of ``turn_probs``).
            turn_scope: per call, ``[n_turns]`` P(the turn is telecom speech) from a scope model, or None; with
                it, the pooled out-of-scope share per role is a feature too (the ``none`` class learns from it).
        """
        from sklearn.linear_model import LogisticRegression

        if len(calls) != len(turn_probs):
            raise InvalidInputError(f"calls and turn_probs differ in length: {len(calls)} vs {len(turn_probs)}")
        if not calls:
            raise InvalidInputError("CallModel.fit needs at least one call")
        t0 = time.perf_counter()
        self.classes_ = [str(c) for c in classes]
        texts, speakers, idxs, roles = [], [], [], []
        for call in calls:
            for i, turn in enumerate(call["turns"]):
                texts.append(turn["text"])
                speakers.append(turn["speaker"])
                idxs.append(i)
                if not turn.get("role"):
                    raise InvalidInputError(f"call {call.get('call_id')!r} turn {i} has no 'role'; the call model "
                                            "trains on generated calls with turn roles (hotline.training.dialogues)")
                roles.append(str(turn["role"]))
        self.roles_ = sorted(set(roles))
        self._fit_roles(texts, speakers, idxs, roles)
        role_probs = self.role_proba(texts, speakers, idxs)  # [n_turns_total, n_roles]
        self.uses_scope_ = turn_scope is not None
        feats, off = [], 0
        for k, (call, probs) in enumerate(zip(calls, turn_probs)):
            n = len(call["turns"])
            probs = np.asarray(probs, dtype=np.float64)
            if probs.shape != (n, len(self.classes_)):
                raise InvalidInputError(f"turn_probs of call {call.get('call_id')!r} has shape {probs.shape}, "
                                        f"expected {(n, len(self.classes_))}")
            scope = None if turn_scope is None else np.asarray(turn_scope[k], dtype=np.float64)
            feats.append(self._features(role_probs[off : off + n], probs, scope))
            off += n
        self.labels_ = [*self.classes_, NONE_LABEL]
        index = {c: i for i, c in enumerate(self.labels_)}
        y = np.array([index[NONE_LABEL if c.get("label") is None else str(c["label"])] for c in calls])
        unknown = {c.get("label") for c in calls if c.get("label") is not None and str(c["label"]) not in index}
        if unknown:
            raise InvalidInputError(f"call labels {sorted(unknown)[:5]} are not classes of the utterance classifier")
        lr = LogisticRegression(C=self.c_call, class_weight="balanced", max_iter=2000, random_state=self.seed)
        lr.fit(np.vstack(feats), y)
        # [n_labels, n_features]; classes absent from the calls keep zero weights and a very low bias
        self.coef_ = np.zeros((len(self.labels_), lr.coef_.shape[1]))
        self.intercept_ = np.full(len(self.labels_), -20.0)
        self.coef_[lr.classes_] = lr.coef_
        self.intercept_[lr.classes_] = lr.intercept_
        self.temperature_ = 1.0
        self.n_calls_ = len(calls)
        self.data_fingerprint_ = fingerprint(
            [json.dumps([c.get("label"), [t["text"] for t in c["turns"]]], ensure_ascii=False) for c in calls])
        self.fit_seconds_ = round(time.perf_counter() - t0, 2)
        logger.info("fitted %s on %d calls (%d turns, %d roles) in %.1fs", BUILDER, len(calls), len(texts),
                    len(self.roles_), self.fit_seconds_)
        return self

    def _fit_roles(self, texts: list[str], speakers: list[str], idxs: list[int], roles: list[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vectorizer_ = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2,
                                           max_features=self.max_features, dtype=np.float32)
        x = self._role_matrix(texts, speakers, idxs, fit=True)
        index = {r: i for i, r in enumerate(self.roles_)}
        self.role_lr_ = LogisticRegression(C=self.c_role, max_iter=2000, random_state=self.seed)
        self.role_lr_.fit(x, np.array([index[r] for r in roles]))

    def _role_matrix(self, texts: list[str], speakers: list[str], idxs: list[int], *, fit: bool = False):
        from scipy import sparse

        tf = self.vectorizer_.fit_transform(texts) if fit else self.vectorizer_.transform(texts)
        return sparse.hstack([tf, self._position_onehot(speakers, idxs)], format="csr")

    @staticmethod
    def _position_onehot(speakers: list[str], idxs: list[int]):
        """One-hot speaker × position bucket, so "agent at turn 0" (the opening) is its own feature."""
        from scipy import sparse

        n_pos = len(_BUCKETS)
        cols = [(_SPEAKERS.index(s) if s in _SPEAKERS else 1) * n_pos + position_bucket(i) for s, i in zip(speakers, idxs)]
        return sparse.csr_matrix((np.ones(len(cols), dtype=np.float32), (np.arange(len(cols)), cols)),
                                 shape=(len(cols), len(_SPEAKERS) * n_pos))

    # -- inference ---------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("This CallModel is not fitted yet. Call 'fit' first.")

    def role_proba(self, texts: list[str], speakers: list[str], idxs: list[int]) -> np.ndarray:
        """``[n, n_roles]`` role probabilities of turns (columns follow ``roles_``)."""
        p = np.zeros((len(texts), len(self.roles_)))
        if len(texts) <= 8:  # the live path: one turn at a time, without scikit-learn's per-call overhead
            if getattr(self, "_fast", None) is None:
                from hotline.models.fast_tfidf import FastTfidf

                self._fast = FastTfidf([self.vectorizer_], self.role_lr_.coef_, self.role_lr_.intercept_)
            z = self._fast.scores(list(texts), extra=self._position_onehot(speakers, idxs).toarray())
            if z.shape[1] == 1:
                z = np.hstack([-z, z]) / 2
            z -= z.max(axis=1, keepdims=True)
            e = np.exp(z)
            p[:, self.role_lr_.classes_] = e / e.sum(axis=1, keepdims=True)
            return p
        x = self._role_matrix(texts, speakers, idxs)
        p[:, self.role_lr_.classes_] = self.role_lr_.predict_proba(x)
        return p

    def _features(self, role_probs: np.ndarray, class_probs: np.ndarray, scope: np.ndarray | None) -> np.ndarray:
        sums = role_probs.T @ class_probs  # [n_roles, n_classes]
        mass = role_probs.sum(axis=0)  # [n_roles]
        oos = None if scope is None else role_probs.T @ (1.0 - scope)  # [n_roles]
        return self._features_from(sums, mass, oos)

    def _features_from(self, sums: np.ndarray, mass: np.ndarray, oos: np.ndarray | None = None) -> np.ndarray:
        pooled = sums / (mass[:, None] + 1.0)  # the +1 shrinks a role seen in little mass towards nothing
        parts = [pooled.ravel(), np.log1p(mass)]
        if getattr(self, "uses_scope_", False):
            parts.append((np.zeros_like(mass) if oos is None else oos) / (mass + 1.0))
        return np.concatenate(parts)

    def predict_proba(self, calls: Sequence[dict[str, Any]], turn_probs: Sequence[np.ndarray],
                      turn_scope: Sequence[np.ndarray] | None = None) -> np.ndarray:
        """``[n_calls, n_labels]`` probabilities over ``labels_`` (the classes plus :data:`NONE_LABEL`)."""
        self._check_fitted()
        out = []
        for k, (call, probs) in enumerate(zip(calls, turn_probs)):
            out.append(self.predict_proba_evidence(self._fold(call, probs, None if turn_scope is None else turn_scope[k])))
        return np.vstack(out) if out else np.zeros((0, len(self.labels_)))

    def calibrate(self, calls: Sequence[dict[str, Any]], turn_probs: Sequence[np.ndarray],
                  turn_scope: Sequence[np.ndarray] | None = None) -> CallModel:
        """Fit the temperature of the call probabilities on held-out calls (minimum log loss)."""
        from scipy.optimize import minimize_scalar

        self._check_fitted()
        index = {c: i for i, c in enumerate(self.labels_)}
        y = np.array([index.get(NONE_LABEL if c.get("label") is None else str(c["label"]), -1) for c in calls])
        keep = y >= 0
        self.temperature_ = 1.0
        logits = []
        for k, (call, probs) in enumerate(zip(calls, turn_probs)):
            ev = self._fold(call, probs, None if turn_scope is None else turn_scope[k])
            logits.append(self.coef_ @ self._features_from(ev.sums, ev.mass, ev.oos) + self.intercept_)
        z, y = np.vstack(logits)[keep], y[keep]

        def nll(t: float) -> float:
            zt = z / t
            zt = zt - zt.max(axis=1, keepdims=True)
            return float(-np.mean(zt[np.arange(len(y)), y] - np.log(np.exp(zt).sum(axis=1))))

        self.temperature_ = float(minimize_scalar(nll, bounds=(0.05, 10.0), method="bounded").x)
        logger.info("call model temperature %.3f on %d held-out calls", self.temperature_, len(y))
        return self

    def new_evidence(self) -> CallEvidence:
        self._check_fitted()
        return CallEvidence(sums=np.zeros((len(self.roles_), len(self.classes_))), mass=np.zeros(len(self.roles_)),
                            oos=np.zeros(len(self.roles_)) if getattr(self, "uses_scope_", False) else None)

    def _fold(self, call: dict[str, Any], probs: np.ndarray, scope: np.ndarray | None) -> CallEvidence:
        ev = self.new_evidence()
        turns = call["turns"]
        if turns:
            rp = self.role_proba([t["text"] for t in turns], [t["speaker"] for t in turns], list(range(len(turns))))
            for i, p in enumerate(np.asarray(probs, dtype=np.float64)):
                self._accumulate(ev, i, rp[i], p, None if scope is None else float(scope[i]))
        return ev

    def add_turn(self, ev: CallEvidence, speaker: str, idx: int, text: str, class_probs: np.ndarray,
                 scope_prob: float | None = None) -> np.ndarray:
        """Fold one turn into ``ev``; returns its role probabilities ``[n_roles]``.

        ``scope_prob``: P(the turn is telecom speech), when the model was fitted with a scope model.
        """
        rp = self.role_proba([text], [speaker], [idx])[0]
        self._accumulate(ev, idx, rp, np.asarray(class_probs, dtype=np.float64), scope_prob)
        return rp

    @staticmethod
    def _accumulate(ev: CallEvidence, idx: int, role_probs: np.ndarray, class_probs: np.ndarray,
                    scope_prob: float | None = None) -> None:
        ev.sums += np.outer(role_probs, class_probs)
        ev.mass += role_probs
        if ev.oos is not None and scope_prob is not None:
            ev.oos += role_probs * (1.0 - scope_prob)
        ev.turns.append((idx, role_probs, class_probs))

    def predict_proba_evidence(self, ev: CallEvidence) -> np.ndarray:
        """``[n_labels]`` call-level probabilities from the turns folded into ``ev`` so far."""
        self._check_fitted()
        z = (self.coef_ @ self._features_from(ev.sums, ev.mass, ev.oos) + self.intercept_) / getattr(self, "temperature_", 1.0)
        z -= z.max()
        e = np.exp(z)
        return e / e.sum()

    def evidence_turns(self, ev: CallEvidence, label: str, *, share: float = 0.2,
                       roles: frozenset[str] | set[str] | None = None) -> list[int]:
        """The turns whose pooled terms raise ``label``'s score most: each at least ``share`` of the total rise.

        ``roles`` keeps only turns whose likeliest role is one of them (e.g. the complaint and the agent's
        diagnosis: a deferred issue also raises the other label's score, by counting against its own, but it
        is not what the agent should be shown as evidence).
        """
        self._check_fitted()
        if label not in self.labels_ or not ev.turns:
            return []
        k = self.labels_.index(label)
        n_r, n_c = len(self.roles_), len(self.classes_)
        w = self.coef_[:, : n_r * n_c].reshape(len(self.labels_), n_r, n_c)  # [n_labels, n_roles, n_classes]
        rp = np.array([r for _, r, _ in ev.turns]) * (1.0 / (ev.mass + 1.0))  # [n_turns, n_roles]
        cp = np.array([c for _, _, c in ev.turns])  # [n_turns, n_classes]
        # each turn's pooled term of every label's score, all turns in one contraction; its evidence for
        # `label` is the lead over the mean
        terms = np.einsum("tr,lrc,tc->tl", rp, w, cp)  # [n_turns, n_labels]
        contrib = terms[:, k] - terms.mean(axis=1)
        if roles is not None:
            contrib[[self.roles_[int(np.argmax(r))] not in roles for _, r, _ in ev.turns]] = 0.0
        pos = np.clip(contrib, 0.0, None)
        total = pos.sum()
        if total <= 0:
            return []
        return [ev.turns[i][0] for i in np.flatnonzero(pos / total >= share)]

    def top_role(self, role_probs: np.ndarray) -> str:
        return self.roles_[int(np.argmax(role_probs))]

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: str | Path, *, metrics: dict[str, Any] | None = None) -> Path:
        """Write an artefact folder: meta.json, config.json, model.joblib."""
        import joblib

        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v for k, v in self.__dict__.items() if k.endswith("_") and not k.startswith("_")}
        joblib.dump(state, directory / "model.joblib", compress=3)
        (directory / "config.json").write_text(json.dumps(self.get_config(), indent=2), encoding="utf-8")
        write_meta(directory, kind=KIND, builder=BUILDER, labels=list(self.labels_), roles=list(self.roles_),
                   n_train=self.n_calls_, data_fingerprint=self.data_fingerprint_, fit_seconds=self.fit_seconds_,
                   metrics=metrics or {})
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> CallModel:
        """Load a folder written by :meth:`save`; refuses other kinds and incompatible versions."""

        directory = Path(directory)
        meta = read_meta(directory, kind=KIND)
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        model = cls(**config)
        state = load_joblib(directory / "model.joblib")
        model.__dict__.update(state)
        model.meta_ = meta
        if list(meta.get("labels", [])) != list(model.labels_):
            raise ArtifactError(f"{directory}: meta.json labels differ from the model's; the folder is damaged, rebuild it")
        return model
