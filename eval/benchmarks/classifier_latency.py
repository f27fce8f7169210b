"""Latency of one saved classifier: milliseconds per utterance at batch 1 and batch 32, on this CPU.

Any classifier folder (``hotline train classify``'s output, a build's ``classifier``, a mix's ``finetuned/``)
loads through :meth:`~hotline.models.classifier.ComplaintClassifier.load`. The utterances are the texts of a
JSONL file (default: the shipped hand-written check set; only its texts are read, for their lengths). Each
batch size runs over the texts once to warm up, then ``--repeat`` timed passes; the median pass is reported.
The last stdout line is JSON.

Example:
    python -m hotline.eval.benchmarks.classifier_latency --model /tmp/cic/auto/finetuned
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["measure_latency", "main"]


def measure_latency(model: Any, texts: list[str], *, batch_sizes: tuple[int, ...] = (1, 32), repeat: int = 3
                    ) -> dict[str, Any]:
    """``ms_per_utterance_batch{b}`` for each batch size: median over ``repeat`` passes over ``texts``."""
    out: dict[str, Any] = {"n_texts": len(texts), "mean_chars": round(sum(map(len, texts)) / max(1, len(texts)), 1)}
    for b in batch_sizes:
        batches = [texts[i : i + b] for i in range(0, len(texts), b)]
        for chunk in batches:  # warm-up pass (tokenizer caches, allocator)
            model.predict_proba(chunk)
        passes = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            for chunk in batches:
                model.predict_proba(chunk)
            passes.append((time.perf_counter() - t0) * 1000 / len(texts))
        out[f"ms_per_utterance_batch{b}"] = round(statistics.median(passes), 2)
    return out


def main(argv: list[str] | None = None) -> int:
    from hotline.core.jsonl import read_jsonl
    from hotline.core.resources import data_path
    from hotline.models.classifier import ComplaintClassifier

    p = argparse.ArgumentParser(prog="python -m hotline.eval.benchmarks.classifier_latency",
                                description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="a classifier folder")
    p.add_argument("--data", help="JSONL with a 'text' field (default: data/checks/classify_handwritten.jsonl)")
    p.add_argument("--n", type=int, default=128, help="how many of its texts (default 128)")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    path = Path(args.data) if args.data else data_path("checks", "classify_handwritten.jsonl")
    texts = [r["text"] for r in read_jsonl(path)][: args.n]
    t0 = time.perf_counter()
    model = ComplaintClassifier.load(args.model)
    model.warm_up()
    load_s = time.perf_counter() - t0
    res = {"model": str(args.model), "builder": model.meta_.get("builder"), "load_seconds": round(load_s, 1),
           "cpus": len(os.sched_getaffinity(0)), **measure_latency(model, texts, repeat=args.repeat)}
    torch = sys.modules.get("torch")  # only when the model itself imported it
    res["torch_threads"] = torch.get_num_threads() if torch is not None else None
    sys.stdout.write(json.dumps(res, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
