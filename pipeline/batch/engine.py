"""The local engine of batch analysis: a pool of worker processes over calls streamed from the readers.

``analyze(...)`` is what ``hotline analyze`` runs: calls stream from the :class:`~hotline.pipeline.batch.readers.CallReader`
in batches of ``batch_calls``; each of ``workers`` processes warms ONE :class:`~hotline.pipeline.batch.analyze.CallAnalyzer`
(the models load once per worker) and turns batches into records; at most two batches per worker are in
flight, so memory stays flat however large the input; records come back in input order and go to the
:class:`~hotline.pipeline.batch.aggregate.BatchAggregator`, which writes the outputs. With one worker the
analyzer runs in this process (workers start from multiprocessing's fork server, so a script calling
``analyze(..., workers=2)`` needs the usual ``if __name__ == "__main__":`` guard). Progress: a tqdm bar on a
terminal, a plain log line every ``log_every_s`` seconds otherwise.

Another engine (Ray) reuses the same pieces: resolve the caller-hash key once
(:func:`~hotline.pipeline.batch.repeats.load_repeat_key`) and give it to every worker; per worker, one
``CallAnalyzer(settings, repeat_key=key)`` warmed once; per batch, ``analyzer.run(calls)`` on calls checked by
:func:`~hotline.pipeline.batch.readers.validate_call` (``run`` also takes ``started_at`` as ISO text); then one
:class:`~hotline.pipeline.batch.aggregate.BatchAggregator` fed every record, in any order (its outputs do not
depend on the order), and ``finish(**summary)``.

Example:
    >>> summary = analyze(["calls.jsonl"], "out", Settings(), workers=2)  # doctest: +SKIP
    >>> summary["n_calls"], summary["outputs"]["calls_parquet"]  # doctest: +SKIP
    (1000, 'out/calls.parquet')
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hotline.core.errors import InvalidInputError
from hotline.core.settings import Settings
from hotline.pipeline.batch.aggregate import BatchAggregator
from hotline.pipeline.batch.readers import CallReader

__all__ = ["analyze", "LocalEngine", "ENGINES"]

logger = logging.getLogger(__name__)

ENGINES = ("local", "ray")  # the engines `analyze` knows (ray: hotline.pipeline.batch.ray_engine)
_WORKER: Any = None  # the CallAnalyzer of a pool worker process


def _init_worker(settings: Settings, repeat_key: bytes, gaps: bool) -> None:
    global _WORKER
    from threadpoolctl import threadpool_limits

    from hotline.pipeline.batch.analyze import CallAnalyzer

    # one thread per worker: the pool is the parallelism (BLAS threads would fight over the same cores)
    threadpool_limits(1)
    _WORKER = CallAnalyzer(settings, repeat_key=repeat_key, gaps=gaps)
    _WORKER.warm_up()


def _run_batch(calls: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int, dict[str, int]]:
    return _WORKER.run(calls), os.getpid(), _WORKER.cache_stats()


class LocalEngine:
    """Maps batches of calls to records with ``workers`` processes (see the module docstring).

    Args:
        settings: Passed to each worker's analyzer.
        workers: Worker processes; 1 runs in this process; None: one per CPU core.
        batch_calls: Calls per batch (one encoder pass per batch).
        repeat_key: HMAC key for caller hashes (resolved once here, so every worker uses the same).
        gaps: Search the customers' questions against the KB (knowledge gaps).
        analyzer: An already warmed analyzer for ``workers=1`` (tests).
    """

    def __init__(self, settings: Settings, *, workers: int | None = 1, batch_calls: int = 256,
                 repeat_key: bytes | None = None, gaps: bool = True, analyzer: Any = None) -> None:
        workers = workers if workers is not None else (os.cpu_count() or 1)
        if workers < 1 or batch_calls < 1:
            raise InvalidInputError(f"workers and batch_calls must be >= 1, got {workers} and {batch_calls}")
        if analyzer is not None and workers != 1:
            raise InvalidInputError("an in-process analyzer needs workers=1; worker processes load their own")
        self.settings = settings
        self.workers = workers
        self.batch_calls = batch_calls
        self.repeat_key = repeat_key
        self.gaps = gaps
        self.analyzer = analyzer
        self._stats: dict[int, dict[str, int]] = {}  # worker pid → its analyzer's cumulative cache counters

    @property
    def embedding_cache(self) -> dict[str, Any]:
        """Texts the workers' analyzers looked up in their sentence-vector LRU, the hits, and the hit rate."""
        lookups = sum(s["lookups"] for s in self._stats.values())
        hits = sum(s["hits"] for s in self._stats.values())
        return {"lookups": lookups, "hits": hits, "hit_rate": round(hits / lookups, 4) if lookups else None}

    def map(self, calls: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """Records per batch, in input order."""
        from hotline.core.callers import load_repeat_key

        key = self.repeat_key if self.repeat_key is not None else load_repeat_key(self.settings)
        batches = _batched(calls, self.batch_calls)
        if self.workers == 1:
            from hotline.pipeline.batch.analyze import CallAnalyzer

            analyzer = self.analyzer or CallAnalyzer(self.settings, repeat_key=key, gaps=self.gaps)
            analyzer.warm_up()
            for batch in batches:
                records = analyzer.run(batch)
                self._stats[os.getpid()] = analyzer.cache_stats()
                yield records
            return
        # forkserver: workers start from a clean process (no threads or locks inherited from this one)
        ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
        with ctx.Pool(self.workers, initializer=_init_worker, initargs=(self.settings, key, self.gaps)) as pool:
            pending: deque[Any] = deque()
            for batch in batches:
                pending.append(pool.apply_async(_run_batch, (batch,)))
                if len(pending) >= 2 * self.workers:  # bounded: never more than two batches per worker in flight
                    yield self._collect(pending.popleft().get())
            while pending:
                yield self._collect(pending.popleft().get())

    def _collect(self, result: tuple[list[dict[str, Any]], int, dict[str, int]]) -> list[dict[str, Any]]:
        records, pid, stats = result
        self._stats[pid] = stats
        return records


def _batched(items: Iterable[dict[str, Any]], n: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


class _Progress:
    """A tqdm bar on a terminal; a log line every ``every_s`` seconds otherwise."""

    def __init__(self, *, every_s: float = 10.0, tty: bool | None = None) -> None:
        self.every_s = every_s
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.n = 0
        self._t0 = self._last = time.perf_counter()
        self._bar = None
        if self.tty:
            from tqdm import tqdm

            self._bar = tqdm(unit="call", desc="analyze", file=sys.stderr, dynamic_ncols=True)

    def update(self, k: int) -> None:
        self.n += k
        if self._bar is not None:
            self._bar.update(k)
            return
        now = time.perf_counter()
        if now - self._last >= self.every_s:
            self._last = now
            logger.info("analyzed %d calls (%.1f calls/s)", self.n, self.n / max(now - self._t0, 1e-9))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def analyze(paths: Iterable[str | Path], out_dir: str | Path, settings: Settings, *, engine: str = "local",
            workers: int | None = 1, batch_calls: int = 256, on_error: str = "fail", store: Any = None,
            since: Any = None, baseline: Iterable[str | Path] = (), gaps: bool = True, gap_encoder: Any = "auto",
            analyzer: Any = None, progress: bool | None = None, log_every_s: float = 10.0,
            ray_address: str | None = None, stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """Analyze recorded calls into ``out_dir``; returns the summary (``summary.json``) with ``n_calls``,
    ``seconds``, ``calls_per_s`` and the output paths.

    Args:
        paths: Calls files (JSONL, CSV, Parquet).
        out_dir: Output folder.
        settings: Models, limits, incident settings.
        engine: ``local`` (the worker pool) or ``ray`` (Ray Data, :mod:`~hotline.pipeline.batch.ray_engine`).
        workers: Worker processes (None: one per core).
        batch_calls: Calls per batch.
        on_error: ``fail`` or ``skip`` bad input records.
        store: A :class:`hotline.store.calls.CallRepo` to read ended calls from too, ``since`` a time.
        baseline: Earlier runs' ``calls.jsonl`` / ``calls.parquet`` as the hot-spot baseline.
        gaps: Mine knowledge gaps (one FAQ search per customer question).
        gap_encoder: Encoder for clustering the questions (``"auto"``: ``settings.encoder``; None: TF-IDF).
        analyzer: A warmed analyzer (tests; needs ``workers=1``).
        progress: Force the progress bar on or off (default: on when stderr is a terminal).
        log_every_s: Seconds between progress log lines (no terminal).
        ray_address: With ``engine="ray"``: an existing Ray cluster (default: a local Ray).
        stats: The local engine fills it with ``embedding_cache`` (``lookups``, ``hits``, ``hit_rate`` of the
            workers' sentence-vector LRU; ``hotline bench batch`` reports it).

    Raises:
        InvalidInputError: an unknown engine, a bad file or record (with ``on_error="fail"``).
    """
    if engine not in ENGINES:
        raise InvalidInputError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    if ray_address and engine != "ray":
        raise InvalidInputError(f"--ray-address needs --engine ray, got engine {engine!r}")
    if engine == "ray":  # the same per-call function and aggregation, mapped by Ray Data
        if store is not None or analyzer is not None:
            raise InvalidInputError("--engine ray reads calls files only; use --engine local for --store "
                                    "(or export the stored calls to JSONL first)")
        from hotline.pipeline.batch.ray_engine import analyze_ray

        return analyze_ray(paths, out_dir, settings, workers=workers, batch_calls=batch_calls, on_error=on_error,
                           baseline=baseline, gaps=gaps, gap_encoder=gap_encoder, address=ray_address)
    from hotline.pipeline.replay import field_kinds

    reader = CallReader(paths, on_error=on_error, max_chars=settings.max_text_chars,
                        max_turns=settings.max_turns_per_call, store=store, since=since)
    reader.check()
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    local = LocalEngine(settings, workers=workers, batch_calls=batch_calls, gaps=gaps, analyzer=analyzer)
    kinds = field_kinds(settings.data_dir, settings.index_dir.resolve())  # the live build's specs
    aggregator = BatchAggregator(settings, out_dir, kinds=kinds, baseline=baseline,
                                 gap_encoder=gap_encoder if gaps else None)
    bar = _Progress(every_s=log_every_s, tty=progress)
    try:
        for records in local.map(reader):
            aggregator.add_many(records)
            bar.update(len(records))
    finally:
        bar.close()
    mapped = time.perf_counter() - t0
    summary = aggregator.finish(n_read=reader.n_read_, n_skipped=reader.n_skipped_, skipped=reader.errors_,
                                engine=engine, workers=local.workers, map_seconds=round(mapped, 3))
    if stats is not None:  # the engine's own counters, beside the summary (which is the same for every engine)
        stats["embedding_cache"] = local.embedding_cache
    seconds = time.perf_counter() - t0
    summary.update(seconds=round(seconds, 3), calls_per_s=round(summary["n_calls"] / seconds, 2) if seconds else None)
    # the summary file gets the final timings too
    import json

    Path(summary["outputs"]["summary"]).write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    logger.info("analyzed %d calls in %.1fs (%.1f calls/s, %d skipped) → %s", summary["n_calls"], seconds,
                summary["calls_per_s"] or 0.0, reader.n_skipped_, out_dir)
    return summary
