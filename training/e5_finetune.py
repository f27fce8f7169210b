"""Fine-tune :class:`~hotline.models.e5_classifier.E5FinetuneClassifier` on labelled texts (CPU, PyTorch).

The recipe of the CIC study (``hotline.eval.benchmarks.cic_finetune``, ``BENCHMARKS.md``): AdamW, learning rate
1.5e-4 on the body and 2e-3 on the head, linear warm-up (6 %) and decay, label smoothing 0.1, gradient clipping
at 1, batches of similar length, the word-embedding matrix frozen. With a held-out split the model is scored
after every epoch and the best epoch's weights are kept; the temperature and abstain thresholds are then fitted
on that split. Small data gets more epochs (at least ``min_steps`` optimiser steps, at most ``max_epochs``).

Example:
    >>> clf = fit_e5_classifier(texts, labels, held=(held_texts, held_labels))  # doctest: +SKIP
    >>> clf.save("/tmp/e5clf")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from hotline.core.artifacts import fingerprint
from hotline.core.errors import InvalidInputError
from hotline.models.e5_classifier import E5FinetuneClassifier

__all__ = ["E5FinetuneConfig", "fit_e5_classifier", "estimate_fit_seconds", "choose_max_length", "length_batches",
           "optimiser"]

logger = logging.getLogger(__name__)


@dataclass
class E5FinetuneConfig:
    """Optimiser settings (the CIC study's: lr 1.5e-4 for 5 epochs, batch 32)."""

    epochs: int = 5
    min_steps: int = 300  # small data: more epochs, up to max_epochs, so the head and body get enough updates
    max_epochs: int = 15
    batch_size: int = 32
    lr: float = 1.5e-4
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: float = 0.06
    label_smoothing: float = 0.1
    seed: int = 0
    threads: int | None = None  # None: every core this process may use

    def __post_init__(self) -> None:
        for name in ("epochs", "min_steps", "max_epochs", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < (0 if name == "min_steps" else 1):
                raise InvalidInputError(f"{name} must be a positive int, got {v!r}")
        if not self.lr > 0 or not self.head_lr > 0:
            raise InvalidInputError(f"lr and head_lr must be > 0, got {self.lr}, {self.head_lr}")

    def epochs_for(self, n: int) -> int:
        """Epochs for ``n`` training texts: ``epochs``, raised to reach ``min_steps`` (capped at ``max_epochs``)."""
        per_epoch = max(1, math.ceil(n / self.batch_size))
        return max(self.epochs, min(self.max_epochs, math.ceil(self.min_steps / per_epoch)))


def _threads(cfg: E5FinetuneConfig) -> int:
    import torch

    n = cfg.threads or max(1, len(os.sched_getaffinity(0)))
    torch.set_num_threads(n)
    return n


def choose_max_length(clf: E5FinetuneClassifier, texts: list[str], *, cap: int = 128, quantile: float = 0.95) -> int:
    """A token budget that fits ``quantile`` of ``texts`` (at least 16, at most ``cap``)."""
    lengths = [len(ids) for ids in clf.encode(texts)]
    return int(min(cap, max(16, np.quantile(lengths, quantile)))) if lengths else cap


def length_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (sorted within pools of 50 batches): less padding, still random."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches: list[list[int]] = []
    for i in range(0, len(order), pool):
        chunk = sorted(order[i : i + pool], key=lambda j: lengths[j])
        batches += [chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def optimiser(net: Any, cfg: Any, steps: int):
    """AdamW over a network with a ``bert`` body and a ``head`` (weight decay on the body's matrices only, the
    head at ``cfg.head_lr``) and a linear warm-up (``cfg.warmup`` of ``steps``) then linear decay schedule.
    ``cfg`` needs ``lr``, ``head_lr``, ``weight_decay`` and ``warmup`` (:class:`E5FinetuneConfig`, or the CIC
    study's config). Returns ``(optimiser, scheduler)``."""
    import torch

    decay, no_decay = [], []
    for p in net.bert.parameters():
        if p.requires_grad:
            (no_decay if p.ndim == 1 else decay).append(p)
    optim = torch.optim.AdamW([
        {"params": decay, "lr": cfg.lr, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "lr": cfg.lr, "weight_decay": 0.0},
        {"params": net.head.parameters(), "lr": cfg.head_lr, "weight_decay": 0.0},
    ])
    warm = max(1, int(cfg.warmup * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: (s + 1) / warm if s < warm else max(0.0, (steps - s) / max(1, steps - warm)))
    return optim, sched


def _train_step(clf, enc, yb, optim, sched, loss_fn) -> float:
    import torch

    loss = loss_fn(clf.net_(**enc), yb)
    optim.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(clf.net_.parameters(), 1.0)
    optim.step()
    if sched is not None:
        sched.step()
    return float(loss.item())


def estimate_fit_seconds(texts: list[str], labels: list[str], *, clf: E5FinetuneClassifier | None = None,
                         config: E5FinetuneConfig | None = None, n_held: int = 0, probe_batches: int = 2
                         ) -> dict[str, Any]:
    """Estimate the fine-tune's wall time on this machine by timing ``probe_batches`` real training steps.

    The probe copies nothing back: the network it trains is thrown away. Returns ``seconds`` (training for
    the epochs :meth:`E5FinetuneConfig.epochs_for` gives, plus scoring ``n_held`` texts each epoch; from the
    smaller of the probe's wall time and its CPU time per thread, so a moment of load from other jobs does not
    multiply the estimate), ``busy_seconds`` (the same from the wall time alone: what it takes if the machine
    stays as loaded as during the probe), ``epochs``, ``max_length``, ``per_text_token_s`` and ``load_seconds``.
    """
    import torch

    cfg = config or E5FinetuneConfig()
    t0 = time.perf_counter()
    clf = clf or E5FinetuneClassifier()
    classes = sorted(set(labels))
    probe = clf.clone()
    probe.init_network(classes, seed=cfg.seed)
    load_s = time.perf_counter() - t0
    threads = _threads(cfg)
    ids = probe.encode(texts)
    lengths = [len(s) for s in ids]
    rng = random.Random(cfg.seed)
    sample = [rng.randrange(len(ids)) for _ in range(cfg.batch_size * probe_batches)]
    index = {c: i for i, c in enumerate(classes)}
    y = torch.tensor([index[lab] for lab in labels])
    optim, _ = optimiser(probe.net_, cfg, 10)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    probe.net_.train()
    first = sample[: cfg.batch_size]
    _train_step(probe, probe.tokenizer.pad_batch([ids[j] for j in first]), y[first], optim, None,
                loss_fn)  # warm-up step (allocations), not timed
    t1, c1 = time.perf_counter(), time.process_time()
    tokens = 0
    for b in range(probe_batches):
        batch = sorted(sample[b * cfg.batch_size : (b + 1) * cfg.batch_size], key=lambda j: lengths[j])
        enc = probe.tokenizer.pad_batch([ids[j] for j in batch])
        tokens += int(enc["input_ids"].numel())
        _train_step(probe, enc, y[batch], optim, None, loss_fn)
    wall, cpu = time.perf_counter() - t1, time.process_time() - c1
    # Wall time says what the steps took just now; on a machine other jobs are loading, a few seconds of it
    # say little about hours. CPU time ÷ threads is what they cost on the cores this process can have (an
    # optimistic bound: threads never scale perfectly, hence × 1.25); the smaller of the two decides.
    idle = cpu / threads * 1.25
    per_token = min(wall, idle) / max(1, tokens)
    epochs = cfg.epochs_for(len(texts))
    mean_len = float(np.mean(lengths)) * 1.1  # padding within length-sorted batches
    scale = epochs * (len(texts) + n_held / 3.0) * mean_len  # held-out scoring: forward only, ~1/3 of a step
    del probe
    return {"seconds": round(load_s + scale * per_token, 1), "epochs": epochs, "max_length": clf.max_length,
            "per_text_token_s": per_token, "load_seconds": round(load_s, 1),
            "busy_seconds": round(load_s + scale * wall / max(1, tokens), 1)}


def fit_e5_classifier(texts: list[str], labels: list[str], *, held: tuple[list[str], list[str]] | None = None,
                      clf: E5FinetuneClassifier | None = None, config: E5FinetuneConfig | None = None,
                      classes: list[str] | None = None,
                      progress: Callable[[str], None] | None = None) -> E5FinetuneClassifier:
    """Fine-tune on ``texts``/``labels``; with ``held``, keep the best held-out epoch and calibrate on it.

    Args:
        clf: an unfitted classifier carrying the network settings (default: ``E5FinetuneClassifier()``).
        classes: the label set (default: the sorted labels of ``texts``); ``held`` labels must be among them.
        progress: called with one line per epoch (and every 50 batches); default: the module logger.

    Returns:
        The fitted ``clf`` (``history_`` holds per-epoch loss, held-out accuracy and seconds).
    """
    import torch

    if len(texts) != len(labels):
        raise InvalidInputError(f"texts and labels differ in length: {len(texts)} vs {len(labels)}")
    cfg = config or E5FinetuneConfig()
    say = progress or logger.info
    t_start = time.perf_counter()
    classes = list(classes) if classes is not None else sorted(set(labels))
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted((set(labels) | set(held[1] if held else [])) - set(index))
    if unknown:
        raise InvalidInputError(f"labels {unknown[:5]} are not in classes; pass every label in classes")
    clf = clf or E5FinetuneClassifier()
    clf.init_network(classes, seed=cfg.seed)
    threads = _threads(cfg)
    rng = random.Random(cfg.seed)
    ids = clf.encode(list(texts))
    y = torch.tensor([index[lab] for lab in labels])
    epochs = cfg.epochs_for(len(ids))
    steps = epochs * math.ceil(len(ids) / cfg.batch_size)
    optim, sched = optimiser(clf.net_, cfg, steps)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    held_ids = clf.encode(list(held[0])) if held else None
    held_y = np.array([index[lab] for lab in held[1]]) if held else None
    n_params = sum(p.numel() for p in clf.net_.parameters() if p.requires_grad)
    say(f"fine-tuning e5 ({n_params:,} trainable parameters, {threads} threads) on {len(ids)} texts, "
        f"{len(classes)} labels: {epochs} epochs, {steps} steps, max {clf.max_length} tokens")

    history: list[dict[str, Any]] = []
    best: tuple[float, float, dict[str, Any] | None, np.ndarray | None] = (-1.0, 0.0, None, None)
    for epoch in range(1, epochs + 1):
        clf.net_.train()
        t0 = time.perf_counter()
        total, seen = 0.0, 0
        for b, batch in enumerate(length_batches([len(s) for s in ids], cfg.batch_size, rng)):
            enc = clf.tokenizer.pad_batch([ids[j] for j in batch])
            total += _train_step(clf, enc, y[batch], optim, sched, loss_fn) * len(batch)
            seen += len(batch)
            if b and b % 50 == 0:
                say(f"  epoch {epoch}/{epochs} batch {b} loss {total / seen:.4f} ({time.perf_counter() - t0:.0f}s)")
        row: dict[str, Any] = {"epoch": epoch, "train_loss": round(total / seen, 4),
                               "seconds": round(time.perf_counter() - t0, 1)}
        if held_ids is not None and len(held_ids):
            logits = clf._forward(held_ids)
            acc = float((logits.argmax(1) == held_y).mean())
            row["held_accuracy"] = round(acc, 4)
            if acc > best[0] or (acc == best[0] and row["train_loss"] < best[1]):
                best = (acc, row["train_loss"], {k: v.detach().clone() for k, v in clf.net_.state_dict().items()},
                        logits)
        history.append(row)
        say(f"epoch {epoch}/{epochs}: " + ", ".join(f"{k} {v}" for k, v in row.items() if k != "epoch"))
    if best[2] is not None:
        clf.net_.load_state_dict(best[2])
        clf.calibrate(best[3], held_y)
        say(f"kept epoch {max(history, key=lambda r: (r['held_accuracy'], -r['train_loss']))['epoch']} "
            f"(held-out accuracy {best[0]:.4f}); temperature {clf.temperature_:.2f}")
    clf.net_.eval()
    clf.history_ = history
    clf.train_config_ = asdict(cfg)
    clf.n_train_ = len(ids)
    clf.data_fingerprint_ = fingerprint([f"{a}\t{b}" for a, b in zip(texts, labels)])
    clf.fit_seconds_ = round(time.perf_counter() - t_start, 1)
    return clf
