"""What the retrieval adapter buys: dense ranking with and without it, on data it never saw.

    hotline bench adapter [--folds 5] [--no-cic] [--json]     # a table, then one JSON line, last

Three measurements, each of the dense score alone (the index's own formula: best question row, blended with
the answer row; :meth:`hotline.index.faq_index.FaqIndex.entry_scores`), without BM25 or category affinity:

1. ``leave_codes_out``: the shipped KB (``data/kb/faq.jsonl``) split by code into ``folds`` groups; for each,
   an adapter is fitted (:func:`hotline.training.adapter.fit_adapter`) on the other codes' paraphrases, and
   the held-out codes' paraphrases are ranked against the held-out entries (question and answer only, as in a
   customer's KB without paraphrases): entries and wording the adapter never saw.
2. ``check_kb``: ``data/checks/retrieval_kb.jsonl`` with the answerable queries of
   ``retrieval_queries.jsonl`` (written separately from the shipped KB; measured on, never fitted on), through
   the live build's adapter (``<classifier>/adapter``; fitted on the shipped KB when the build has none).
3. ``cic`` (when ``../shared/datasets`` has DataCLUE CIC): its 118 label descriptions as a KB, its test texts
   as queries: another domain (e-commerce customer service) and another writer.

Each row gives recall@1 / recall@5 / MRR@10 for the encoder's own space and the adapted one.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["adapter_benchmark", "main"]

logger = logging.getLogger(__name__)


def _ranking(index: Any, queries: list[str], gold: list[str]) -> dict[str, float]:
    from hotline.models.metrics import mean_ranking_metrics

    cos, _ = index.entry_scores(queries)
    ids = [e.id for e in index.kb.entries]
    order = np.argsort(-cos, axis=1, kind="stable")[:, :10]
    m = mean_ranking_metrics([[ids[j] for j in row] for row in order], [[g] for g in gold])
    return {k: round(float(m[k]), 4) for k in ("recall@1", "recall@5", "mrr@10")}


def _both(kb: Any, encoder: Any, adapter: Any, queries: list[str], gold: list[str]) -> dict[str, Any]:
    from hotline.index.faq_index import FaqIndex

    out = {}
    for name, a in (("encoder", None), ("adapted", adapter)):
        index = FaqIndex.build(kb, encoder, no_answer="none", adapter=a)
        out[name] = _ranking(index, queries, gold)
    return out


def _mean(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {space: {k: round(float(np.mean([r[space][k] for r in rows])), 4) for k in rows[0][space]}
            for space in rows[0]}


def adapter_benchmark(settings: Any, *, folds: int = 5, datasets_dir: str | Path | None = None,
                      seed: int = 0) -> dict[str, Any]:
    """The three measurements of the module docstring; ``datasets_dir=None`` skips CIC."""
    from hotline.core.jsonl import read_jsonl
    from hotline.core.resources import data_path
    from hotline.index.adapter import ADAPTER_DIR, RetrievalAdapter
    from hotline.index.kb import FaqEntry, KnowledgeBase
    from hotline.models.encoders import load_encoder
    from hotline.training.adapter import code_groups, fit_adapter

    t0 = time.perf_counter()
    encoder = load_encoder(settings.encoder)
    shipped = KnowledgeBase.from_jsonl(data_path("kb", "faq.jsonl"))
    groups = code_groups(shipped, folds, seed=seed)
    codes = set().union(*groups)
    lco = []
    for f, held in enumerate(groups):
        adapter = fit_adapter(shipped, encoder, codes=codes - held)
        entries = [e for e in shipped.entries if e.category in held]
        bare = KnowledgeBase([FaqEntry(e.id, e.question, e.answer, e.category, []) for e in entries])
        qs = [(s, e.id) for e in entries for s in dict.fromkeys(e.similar)]
        lco.append(_both(bare, encoder, adapter, [q for q, _ in qs], [g for _, g in qs]))
        logger.info("adapter leave-codes-out fold %d/%d: %s", f + 1, folds, lco[-1])
    out: dict[str, Any] = {"encoder": encoder.name, "leave_codes_out": {**_mean(lco), "folds": folds}}

    live = Path(settings.classifier_dir) / ADAPTER_DIR
    adapter = RetrievalAdapter.load(live) if (live / "meta.json").is_file() else fit_adapter(shipped, encoder)
    check = KnowledgeBase.from_jsonl(data_path("checks", "retrieval_kb.jsonl"))
    queries = [q for q in read_jsonl(data_path("checks", "retrieval_queries.jsonl")) if q.get("relevant")]
    out["check_kb"] = {**_both(check, encoder, adapter, [q["query"] for q in queries],
                               [q["relevant"][0] for q in queries]),
                       "adapter": str(live) if (live / "meta.json").is_file() else "fitted on data/kb/faq.jsonl"}
    if datasets_dir is not None:
        from hotline.eval.benchmarks.datasets import load_cic

        data = load_cic(datasets_dir, smoke=False, seed=seed)
        kb = KnowledgeBase([FaqEntry(id=k, question=v, answer=v, category=k)
                            for k, v in sorted(data.label_des.items())], source="DataCLUE_CIC/labels.json")
        out["cic"] = {**_both(kb, encoder, adapter, list(data.test_texts), [str(x) for x in data.test_labels]),
                      "n_queries": len(data.test_texts)}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def main(argv: list[str] | None = None, settings: Any = None) -> int:
    from hotline.core.settings import Settings

    p = argparse.ArgumentParser(prog="hotline bench adapter", description=__doc__.split("\n")[0])
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--datasets", default=None, help="DataCLUE CIC's parent folder (default ../shared/datasets)")
    p.add_argument("--no-cic", action="store_true", help="skip the CIC measurement")
    p.add_argument("--json", action="store_true", help="only the JSON line")
    args = p.parse_args(argv)
    settings = settings or Settings()
    datasets = None
    if not args.no_cic:
        from hotline.eval.benchmarks.datasets import default_datasets_dir

        datasets = Path(args.datasets) if args.datasets else default_datasets_dir()
        if not (datasets / "DataCLUE_CIC").is_dir():
            logger.warning("no DataCLUE_CIC under %s: skipping the CIC measurement", datasets)
            datasets = None
    res = adapter_benchmark(settings, folds=args.folds, datasets_dir=datasets)
    if not args.json:
        print(f"{'set':<18} {'space':<9} recall@1 recall@5 mrr@10")
        for name in ("leave_codes_out", "check_kb", "cic"):
            for space in ("encoder", "adapted"):
                if name in res:
                    r = res[name][space]
                    print(f"{name:<18} {space:<9} {r['recall@1']:8.3f} {r['recall@5']:8.3f} {r['mrr@10']:6.3f}")
    print(json.dumps(res, ensure_ascii=False))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
