"""The Ray engine of batch analysis: ``hotline analyze --engine ray [--ray-address ADDR]``.

The same per-call function as the local engine (:meth:`CallAnalyzer.run <hotline.pipeline.batch.analyze.CallAnalyzer.run>`
on batches of calls), run by Ray Data:

1. **read** — a Ray Data datasource (:class:`_CallFiles`) with one read task per calls file (JSONL, CSV or
   Parquet) that reads it with the local engine's own readers (:func:`~hotline.pipeline.batch.readers.iter_records`
   and :func:`~hotline.pipeline.batch.readers.validate_call`: the same checks and ``file:line`` messages) and
   yields blocks of ``block_rows`` calls, so no file is ever loaded whole; a record that fails validation
   travels as an error row (the error policy is applied on the driver, in input order);
2. **map** — ``map_batches(_CallAnalyzerActor, concurrency=workers, batch_size=batch_calls)``: each actor builds
   and warms ONE :class:`~hotline.pipeline.batch.analyze.CallAnalyzer` in ``__init__`` (the models load once per
   worker, single-threaded BLAS as in the local pool) and turns a batch into JSON records;
3. **write** — ``write_parquet`` of ``(seq, call_id, record, error)`` rows to ``DIR/.ray/``;
4. **aggregate** — the driver reads those files back, merged into input order, checks call ids are unique,
   applies the error policy and hands the records to the same
   :class:`~hotline.pipeline.batch.aggregate.BatchAggregator` as the local engine; the folder is then removed.

So the per-call records equal the local engine's (``tests/pipeline/batch/test_ray_engine.py``). Ray starts
locally (``num_cpus=workers``, no dashboard) unless ``address`` names an existing cluster (``ray://…`` or
``host:port``); there the workers must have Hotline installed and see the same ``HOTLINE_HOME``. Ray is an
optional dependency (``pip install 'hotline[ray]'``), imported only inside functions.

Example:
    >>> summary = analyze_ray(["calls.jsonl"], "out", Settings(), workers=2)  # doctest: +SKIP
    >>> summary["engine"], summary["n_calls"]  # doctest: +SKIP
    ('ray', 1000)
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hotline.core.errors import InvalidInputError
from hotline.core.settings import Settings

__all__ = ["analyze_ray", "ray_available"]

logger = logging.getLogger(__name__)

_RAY_DIR = ".ray"
_MAX_ERRORS_KEPT = 20
_SEQ_SHIFT = 40  # seq = file index << 40 | record index: input order as one int64 (2**40 records a file)


def ray_available() -> bool:
    """Whether ``ray[data]`` is installed (the ``[ray]`` extra)."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None and importlib.util.find_spec("ray.data") is not None


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401  (the Data library is a separate extra of ray)
    except ImportError as e:
        raise InvalidInputError("--engine ray needs Ray Data: pip install 'hotline[ray]' (or "
                                "pip install 'ray[data]>=2.60,<3'), or use --engine local") from e
    return ray


_READ_SCHEMA = (("seq", "int64"), ("where", "string"), ("call_id", "string"), ("call", "string"), ("error", "string"))
_OUT_SCHEMA = (("seq", "int64"), ("where", "string"), ("call_id", "string"), ("record", "string"), ("error", "string"))


def _schema(fields: tuple[tuple[str, str], ...]) -> Any:
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, kind)()) for name, kind in fields])


def _call_row(seq: int, where: str, call: dict[str, Any]) -> dict[str, Any]:
    started = call["started_at"]
    return {"seq": seq, "where": where, "call_id": call["call_id"], "call": json.dumps(
        {**call, "started_at": started.isoformat() if hasattr(started, "isoformat") else started},
        ensure_ascii=False), "error": None}


def _read_file(index: int, path: str, max_chars: int, max_turns: int, block_rows: int) -> Iterator[Any]:
    """Blocks of ``(seq, call_id, call JSON, error)`` rows of one calls file (runs in a Ray read task)."""
    import pyarrow as pa

    from hotline.pipeline.batch.readers import iter_records, validate_call

    schema = _schema(_READ_SCHEMA)
    rows: list[dict[str, Any]] = []
    for n, (where, raw) in enumerate(iter_records(path)):
        seq = (index << _SEQ_SHIFT) | n
        try:
            if isinstance(raw, InvalidInputError):
                raise raw
            rows.append(_call_row(seq, where, validate_call(raw, where, max_chars=max_chars, max_turns=max_turns)))
        except InvalidInputError as e:
            rows.append({"seq": seq, "where": where, "call_id": None, "call": None, "error": str(e)})
        if len(rows) >= block_rows:
            yield pa.Table.from_pylist(rows, schema=schema)
            rows = []
    if rows:
        yield pa.Table.from_pylist(rows, schema=schema)


def _datasource(paths: list[Path], max_chars: int, max_turns: int, block_rows: int) -> Any:
    from ray.data import Datasource, ReadTask
    from ray.data.block import BlockMetadata

    class _CallFiles(Datasource):
        """One read task per calls file, through the local engine's readers."""

        def estimate_inmemory_data_size(self) -> int | None:
            return sum(p.stat().st_size for p in paths)

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                           data_context: Any = None) -> list[Any]:
            tasks = []
            for i, p in enumerate(paths):
                meta = BlockMetadata(num_rows=None, size_bytes=p.stat().st_size, exec_stats=None,
                                     input_files=(str(p),))
                tasks.append(ReadTask(lambda i=i, p=str(p): _read_file(i, p, max_chars, max_turns, block_rows), meta))
            return tasks

    return _CallFiles()


class _CallAnalyzerActor:
    """A Ray Data ``map_batches`` class: one warmed :class:`CallAnalyzer` per actor (worker process)."""

    def __init__(self, settings: Settings, repeat_key: bytes, gaps: bool) -> None:
        from threadpoolctl import threadpool_limits

        from hotline.pipeline.batch.analyze import CallAnalyzer

        threadpool_limits(1)  # one thread per actor, as the local pool: the actors are the parallelism
        self.analyzer = CallAnalyzer(settings, repeat_key=repeat_key, gaps=gaps)
        self.analyzer.warm_up()

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        rows = batch.to_pylist()
        good = [r for r in rows if r["error"] is None]
        records = iter(self.analyzer.run([json.loads(r["call"]) for r in good]))
        out = []
        for r in rows:
            rec = None if r["error"] is not None else json.dumps(next(records), ensure_ascii=False)
            out.append({"seq": r["seq"], "where": r["where"], "call_id": r["call_id"], "record": rec,
                        "error": r["error"]})
        return pa.Table.from_pylist(out, schema=_schema(_OUT_SCHEMA))


def _init_ray(ray: Any, address: str | None, workers: int, object_store_mb: int | None) -> bool:
    """Connect to ``address`` or start a local Ray; True when this call started it (so it shuts it down)."""
    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        return True
    kwargs: dict[str, Any] = {}
    if object_store_mb:
        kwargs["object_store_memory"] = int(object_store_mb) * 2**20
    # local only: no dashboard, no usage stats, bound to loopback
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=workers, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False,
             configure_logging=False, **kwargs)
    return True


def _in_input_order(folder: Path) -> Iterator[dict[str, Any]]:
    """Rows of the Ray output files merged by ``seq``, opening a file only when the merge reaches its first
    ``seq`` (files hold a few blocks each and rarely overlap, so memory is a file or two, not the output)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    spans = []
    for path in sorted(folder.rglob("*.parquet")):
        seq = pq.read_table(path, columns=["seq"]).column("seq")
        if len(seq):
            spans.append((pc.min(seq).as_py(), str(path)))
    spans.sort()
    heap: list[tuple[int, int, dict[str, Any], Iterator[dict[str, Any]]]] = []
    nxt = 0
    while heap or nxt < len(spans):
        while nxt < len(spans) and (not heap or spans[nxt][0] <= heap[0][0]):
            rows = iter(pq.read_table(spans[nxt][1]).sort_by("seq").to_pylist())  # one file, sorted
            first = next(rows)
            heapq.heappush(heap, (first["seq"], nxt, first, rows))
            nxt += 1
        _, i, row, rows = heapq.heappop(heap)
        yield row
        following = next(rows, None)
        if following is not None:
            heapq.heappush(heap, (following["seq"], i, following, rows))


def analyze_ray(paths: Iterable[str | Path], out_dir: str | Path, settings: Settings, *, workers: int | None = None,
                batch_calls: int = 256, on_error: str = "fail", baseline: Iterable[str | Path] = (),
                gaps: bool = True, gap_encoder: Any = "auto", address: str | None = None,
                object_store_mb: int | None = None, block_rows: int | None = None) -> dict[str, Any]:
    """``hotline analyze --engine ray``: the summary, as :func:`hotline.pipeline.batch.engine.analyze` returns it.

    Args:
        paths: Calls files (JSONL, CSV, Parquet).
        out_dir: Output folder.
        settings: Models, limits, incident settings.
        workers: Analyzer actors (None: one per CPU core of the Ray cluster, or of this machine).
        batch_calls: Calls per ``map_batches`` batch.
        on_error: ``fail`` or ``skip`` bad input records.
        baseline: Earlier runs' records as the hot-spot baseline.
        gaps: Mine knowledge gaps.
        gap_encoder: Encoder for clustering the questions (``"auto"``: ``settings.encoder``; None: TF-IDF).
        address: An existing Ray cluster (``ray://host:10001`` or ``host:6379``); None starts a local Ray.
        object_store_mb: Object store size of a local Ray (None: Ray's default).
        block_rows: Calls per read block (default ``4 * batch_calls``).

    Raises:
        InvalidInputError: Ray is not installed, a bad argument, file or record (``on_error="fail"``),
            or a call id repeated in the input.
    """
    from hotline.core.callers import load_repeat_key
    from hotline.pipeline.batch.aggregate import BatchAggregator
    from hotline.pipeline.batch.readers import CallReader, ErrorPolicy
    from hotline.pipeline.replay import field_kinds

    paths = [Path(p) for p in paths]
    reader = CallReader(paths, on_error=on_error)  # the same argument checks as the local engine
    reader.check()
    if workers is not None and workers < 1 or batch_calls < 1:
        raise InvalidInputError(f"workers and batch_calls must be >= 1, got {workers} and {batch_calls}")
    ray = _import_ray()
    out_dir = Path(out_dir)
    stage = out_dir / _RAY_DIR
    shutil.rmtree(stage, ignore_errors=True)
    t0 = time.perf_counter()
    started = _init_ray(ray, address, workers or os.cpu_count() or 1, object_store_mb)
    try:
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        key = load_repeat_key(settings)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        # the actors hold one CPU each; reading and writing are light and must not wait for a CPU the actors
        # hold (with ``workers`` = every CPU that would deadlock), so they ask for none
        ds = ray.data.read_datasource(_datasource(paths, settings.max_text_chars, settings.max_turns_per_call,
                                                  block_rows or 4 * batch_calls), num_cpus=0)
        ds = ds.map_batches(_CallAnalyzerActor, fn_constructor_args=(settings, key, gaps), batch_format="pyarrow",
                            batch_size=batch_calls, concurrency=workers, num_cpus=1)
        try:
            ds.write_parquet(str(stage), ray_remote_args={"num_cpus": 0})
        except Exception as e:  # a worker's error arrives wrapped (RayTaskError, UserCodeException)
            cause: BaseException | None = e
            while cause is not None and not isinstance(cause, InvalidInputError):
                cause = cause.__cause__ or cause.__context__
            if cause is not None:
                raise InvalidInputError(str(cause)) from None
            raise
        mapped = time.perf_counter() - t0
    finally:
        if started:
            ray.shutdown()
    kinds = field_kinds(settings.data_dir, settings.index_dir.resolve())  # the live build's specs
    aggregator = BatchAggregator(settings, out_dir, kinds=kinds, baseline=baseline,
                                 gap_encoder=gap_encoder if gaps else None)
    seen: set[int] = set()
    n_read = n_skipped = 0
    errors: list[str] = []
    policy = ErrorPolicy(on_error)
    for row in _in_input_order(stage):
        n_read += 1
        error = row["error"]
        if error is None:
            digest = int.from_bytes(hashlib.blake2b(row["call_id"].encode(), digest_size=8).digest(), "big")
            if digest in seen:
                error = (f"{row['where']}: field 'call_id' = {row['call_id']!r} was already read earlier in the "
                         "input; call ids must be unique across the input")
            seen.add(digest)
        if error is not None:
            if policy is ErrorPolicy.FAIL:
                shutil.rmtree(stage, ignore_errors=True)
                raise InvalidInputError(error)
            n_skipped += 1
            if len(errors) < _MAX_ERRORS_KEPT:
                errors.append(error)
            logger.warning("skipped: %s", error)
            continue
        aggregator.add(json.loads(row["record"]))
    shutil.rmtree(stage, ignore_errors=True)
    summary = aggregator.finish(n_read=n_read, n_skipped=n_skipped, skipped=errors, engine="ray", workers=workers,
                                map_seconds=round(mapped, 3), ray_address=address or "local")
    seconds = time.perf_counter() - t0
    summary.update(seconds=round(seconds, 3), calls_per_s=round(summary["n_calls"] / seconds, 2) if seconds else None)
    Path(summary["outputs"]["summary"]).write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    logger.info("analyzed %d calls with Ray (%d actors) in %.1fs (%.1f calls/s, %d skipped) → %s", summary["n_calls"],
                workers, seconds, summary["calls_per_s"] or 0.0, n_skipped, out_dir)
    return summary
