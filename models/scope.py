"""Is an utterance a telecom complaint or inquiry at all? A scope model for the classifier's abstention.

The complaint classifier spreads its probability over the taxonomy's leaves and has no way to say "none of
these": off-topic speech (another company's app, a public service, daily life) gets a confident wrong leaf.
:class:`ScopeModel` is a binary logistic regression over character n-grams and (with ``encoder``) the
sentence embedding, trained on the classifier's own training utterances (in scope) against off-topic
sentences written separately from that corpus (out of scope). The embedding carries meaning beyond shared
words ("电费交了还没来电" shares words with a telecom complaint but not its sense); the encoder's query cache
makes it free on the live path, where the classifier has just embedded the same text. Its threshold comes from out-of-fold probabilities: the lowest that rejects ``target_reject`` of the
off-topic sentences, and the in-scope utterances it would reject are reported beside it.

Example:
    >>> scope = ScopeModel().fit(in_scope_texts, off_topic_texts)  # doctest: +SKIP
    >>> scope.in_scope(["明天天气怎么样", "宽带连不上"])  # doctest: +SKIP
    array([False,  True])
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from hotline.core.artifacts import fingerprint, load_joblib, read_meta, write_meta
from hotline.core.errors import InvalidInputError, NotFittedError

__all__ = ["ScopeModel", "BUILDER"]

logger = logging.getLogger(__name__)

KIND = "scope_model"
BUILDER = "scope.char_embed_lr.v1"


class ScopeModel:
    """P(in scope) for utterances, with a fitted rejection threshold.

    Args:
        c: inverse regularisation of the logistic regression.
        target_reject: share of off-topic sentences the threshold must reject (out of fold).
        folds: folds for the out-of-fold probabilities the threshold is chosen on.
        seed: random seed of the folds.
    """

    def __init__(self, *, c: float = 4.0, target_reject: float = 0.9, folds: int = 5, seed: int = 0,
                 encoder: str | None = None, embed_weight: float = 1.0) -> None:
        if not 0.0 < target_reject < 1.0:
            raise InvalidInputError(f"target_reject must be in (0, 1), got {target_reject}")
        if folds < 2:
            raise InvalidInputError(f"folds must be ≥ 2, got {folds}")
        self.c = c
        self.target_reject = target_reject
        self.folds = folds
        self.seed = seed
        self.encoder = encoder
        self.embed_weight = embed_weight
        self._encoder_obj: Any = None

    def get_config(self) -> dict[str, Any]:
        return {"c": self.c, "target_reject": self.target_reject, "folds": self.folds, "seed": self.seed,
                "encoder": self.encoder, "embed_weight": self.embed_weight}

    def _embed(self, texts: list[str]) -> np.ndarray | None:
        if self.encoder is None:
            return None
        if self._encoder_obj is None:
            from hotline.models.encoders import load_encoder

            self._encoder_obj = load_encoder(self.encoder)
        return self._encoder_obj.encode_queries(list(texts))  # [n, dim], the classifier's own query encoding

    def _matrix(self, vectorizer: Any, texts: list[str], emb: np.ndarray | None, *, fit: bool = False):
        from scipy import sparse

        tf = vectorizer.fit_transform(texts) if fit else vectorizer.transform(texts)
        if emb is None:
            return tf
        return sparse.hstack([tf, sparse.csr_matrix(self.embed_weight * emb)], format="csr")

    @staticmethod
    def _vectorizer():
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1, dtype=np.float32)

    def _lr(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.c, class_weight="balanced", max_iter=2000, random_state=self.seed)

    def fit(self, in_scope: list[str], out_of_scope: list[str]) -> ScopeModel:
        """Fit on in-scope utterances and off-topic sentences (both PII-masked like live text)."""
        from sklearn.model_selection import StratifiedKFold

        if len(out_of_scope) < self.folds or len(in_scope) < self.folds:
            raise InvalidInputError(f"need at least {self.folds} texts of each kind, got {len(in_scope)} in scope and "
                                    f"{len(out_of_scope)} out of scope")
        t0 = time.perf_counter()
        x = list(in_scope) + list(out_of_scope)
        y = np.array([1] * len(in_scope) + [0] * len(out_of_scope))
        emb = self._embed(x)
        oof = np.zeros(len(x))
        for tr, te in StratifiedKFold(self.folds, shuffle=True, random_state=self.seed).split(x, y):
            vec = self._vectorizer()
            lr = self._lr().fit(self._matrix(vec, [x[i] for i in tr], None if emb is None else emb[tr], fit=True), y[tr])
            oof[te] = lr.predict_proba(self._matrix(vec, [x[i] for i in te], None if emb is None else emb[te]))[:, 1]
        neg = np.sort(oof[y == 0])
        # reject P(in scope) < threshold: the target share of negatives falls below it
        k = min(len(neg) - 1, int(np.ceil(self.target_reject * len(neg))) - 1)
        self.threshold_ = float(np.nextafter(neg[k], 1.0))
        self.oof_metrics_ = {
            "out_of_scope_rejected": float(np.mean(oof[y == 0] < self.threshold_)),
            "in_scope_rejected": float(np.mean(oof[y == 1] < self.threshold_)),
            "n_in_scope": int(len(in_scope)), "n_out_of_scope": int(len(out_of_scope)),
        }
        self.vectorizer_ = self._vectorizer()
        self.lr_ = self._lr().fit(self._matrix(self.vectorizer_, x, emb, fit=True), y)
        self.data_fingerprint_ = fingerprint([f"{t}\t{v}" for t, v in zip(x, y)])
        self.fit_seconds_ = round(time.perf_counter() - t0, 2)
        logger.info("fitted %s: threshold %.3f, out of fold %s", BUILDER, self.threshold_, self.oof_metrics_)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "lr_"):
            raise NotFittedError("This ScopeModel is not fitted yet. Call 'fit' first.")

    def proba(self, texts: list[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        """``[n]`` P(in scope). ``embeddings``: the texts' ``encode_queries`` vectors when already computed."""
        self._check_fitted()
        texts = list(texts)
        emb = self._embed(texts) if embeddings is None or self.encoder is None else embeddings
        if len(texts) <= 8:  # the live path, without scikit-learn's per-call overhead
            if getattr(self, "_fast", None) is None:
                from hotline.models.fast_tfidf import FastTfidf

                self._fast = FastTfidf([self.vectorizer_], self.lr_.coef_, self.lr_.intercept_)
            z = self._fast.scores(texts, extra=None if emb is None else self.embed_weight * emb)[:, 0]
            p1 = 1.0 / (1.0 + np.exp(-z))
            return p1 if list(self.lr_.classes_) == [0, 1] else 1.0 - p1
        return self.lr_.predict_proba(self._matrix(self.vectorizer_, texts, emb))[:, 1]

    def in_scope(self, texts: list[str]) -> np.ndarray:
        """``[n]`` bool: at or above the threshold."""
        return self.proba(texts) >= self.threshold_

    def save(self, directory: str | Path) -> Path:
        import joblib

        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump({"vectorizer_": self.vectorizer_, "lr_": self.lr_, "threshold_": self.threshold_},
                    directory / "model.joblib", compress=3)
        (directory / "config.json").write_text(json.dumps(self.get_config(), indent=2), encoding="utf-8")
        write_meta(directory, kind=KIND, builder=BUILDER, encoder=self.encoder, threshold=self.threshold_,
                   metrics=self.oof_metrics_,
                   data_fingerprint=self.data_fingerprint_, fit_seconds=self.fit_seconds_)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ScopeModel:

        directory = Path(directory)
        meta = read_meta(directory, kind=KIND)
        model = cls(**json.loads((directory / "config.json").read_text(encoding="utf-8")))
        model.__dict__.update(load_joblib(directory / "model.joblib"))
        model.oof_metrics_ = meta.get("metrics", {})
        model.data_fingerprint_ = meta.get("data_fingerprint")
        model.fit_seconds_ = meta.get("fit_seconds")
        model.meta_ = meta
        return model
