"""Batch analysis benchmark: ``hotline bench batch [--json] [--calls N] [--workers N]``.

End-to-end ``hotline analyze`` (read → per-call analysis → aggregation → every output file) over a generated
file of whole calls, ``--turns`` (10) turns each: :class:`~hotline.training.dialogues.DialogueGenerator` writes
the calls (several seeds, so there are as many distinct calls as asked for), each trimmed to its first 10
turns, spread over 7 days, with agent ids and the caller's phone as customer metadata. The file is written
first and then streamed (it is never loaded whole).

Figures, per engine:

* ``calls_per_s`` (wall clock, everything included) and ``calls_per_s_per_core`` (÷ worker processes, each
  single-threaded), ``calls_per_cpu_s`` (÷ CPU seconds of this process and its workers: what a core does
  when the machine is shared);
* ``peak_rss_mb``: the largest sum of resident memory of this process and its workers, sampled every 0.2 s,
  beside ``max_rss_mb``, the largest of this process and of one worker;
* ``unique_turn_share`` (and ``unique_turn_share_by_speaker``): distinct turn texts / turns — the analyzer
  embeds each distinct text of a batch once (an agent's script lines repeat across calls), so this says how
  much of the encoder work the input really asked for;
* ``embedding_cache``: of those distinct-per-batch texts, how many the workers' sentence-vector LRU
  (``CallAnalyzer(embedding_cache=50_000)``) already held from earlier batches (``hit_rate``).

The ``ray`` slot: the same input through ``hotline analyze --engine ray`` on a local Ray with as many actors
(:mod:`~hotline.eval.benchmarks.batch_ray`), its calls/s per core over local's as ``vs_local``; ``not_run``
with the reason when Ray is not installed.

Example:
    >>> result = run_batch_benchmark(Settings(), n_calls=200, workers=1)  # doctest: +SKIP
    >>> result["engines"]["local"]["calls_per_s_per_core"]  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hotline.core.errors import InvalidInputError
from hotline.core.settings import Settings

__all__ = ["run_batch_benchmark", "write_calls", "render_batch", "main", "TARGETS"]

logger = logging.getLogger(__name__)

TARGETS = {"calls_per_s_per_core": 100.0, "peak_rss_mb": 2048.0, "ray_within_local": 0.25}
_T0 = datetime(2026, 11, 2, 0, 0, tzinfo=timezone(timedelta(hours=8)))
_DAYS = 7
_AGENTS = 60
_TEAM_SIZE = 10
_PER_CODE = 60  # calls per code and seed: ~2,800 calls per generator run


def write_calls(path: str | Path, n_calls: int, *, turns: int = 10, seed: int = 1000) -> dict[str, Any]:
    """Write ``n_calls`` generated calls of ``turns`` turns to a JSONL file, one seed's calls at a time.

    Returns:
        ``{"calls", "turns", "unique_turn_share", "unique_turn_share_by_speaker", "seconds"}``.
    """
    from hotline.training.dialogues import DialogueGenerator

    if n_calls < 1 or turns < 1:
        raise InvalidInputError(f"n_calls and turns must be >= 1, got {n_calls} and {turns}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    n = n_turns = 0
    distinct: set[int] = set()
    by_speaker: dict[str, set[int]] = {}
    said_by: dict[str, int] = {}
    span = _DAYS * 24 * 3600
    with path.open("w", encoding="utf-8") as f:
        s = seed
        while n < n_calls:
            gen = DialogueGenerator(seed=s, per_code=_PER_CODE)
            gen.warm_up()
            batch = [c for c in gen.run()["calls"] if len(c["turns"]) >= turns]
            if not batch:
                raise InvalidInputError(f"the generator writes no calls of {turns}+ turns; use --turns 10 or fewer")
            for c in batch:
                if n >= n_calls:
                    break
                said = [{"speaker": t["speaker"], "text": t["text"]} for t in c["turns"][:turns]]
                for t in said:
                    h = int.from_bytes(hashlib.blake2b(t["text"].encode(), digest_size=8).digest(), "big")
                    distinct.add(h)
                    by_speaker.setdefault(t["speaker"], set()).add(h)
                    said_by[t["speaker"]] = said_by.get(t["speaker"], 0) + 1
                started = _T0 + timedelta(seconds=(n * 7919) % span)  # spread evenly over the week
                agent = n % _AGENTS
                phone = (c.get("slots") or {}).get("phone")
                f.write(json.dumps({
                    "call_id": f"b{s}-{n:07d}", "region": c["region"], "started_at": started.isoformat(),
                    "agent_id": f"A{agent:03d}", "team": f"T{agent // _TEAM_SIZE}",
                    "customer": {"phone": phone} if phone else {}, "turns": said,
                }, ensure_ascii=False) + "\n")
                n += 1
                n_turns += len(said)
            s += 1
    return {"calls": n, "turns": n_turns, "unique_turn_share": round(len(distinct) / max(n_turns, 1), 4),
            "unique_turn_share_by_speaker": {k: round(len(v) / said_by[k], 4) for k, v in sorted(by_speaker.items())},
            "seconds": round(time.perf_counter() - t0, 2)}


class _MemorySampler:
    """Resident memory and CPU time of this process and all its descendants (the pool's workers are children of
    multiprocessing's fork server, so ``RUSAGE_CHILDREN`` would miss them), sampled in a thread.

    Attributes:
        peak_bytes: The largest sum of resident memory seen.
        peak_by_pid: The largest resident memory seen per process.
        cpu_s: CPU seconds (user + system) per process at its last sample.
    """

    def __init__(self, every_s: float = 0.2) -> None:
        import psutil

        self.every_s = every_s
        self.peak_bytes = 0
        self.peak_by_pid: dict[int, int] = {}
        self.cpu_s: dict[int, float] = {}
        self._proc = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        import psutil

        total = 0
        for p in [self._proc, *self._proc.children(recursive=True)]:
            try:
                with p.oneshot():
                    rss, cpu = p.memory_info().rss, p.cpu_times()
            except psutil.Error:  # a worker that just exited
                continue
            total += rss
            self.peak_by_pid[p.pid] = max(self.peak_by_pid.get(p.pid, 0), rss)
            self.cpu_s[p.pid] = cpu.user + cpu.system
        self.peak_bytes = max(self.peak_bytes, total)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.every_s)

    def __enter__(self) -> _MemorySampler:
        self._sample()
        self._cpu0 = dict(self.cpu_s)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds used since the start (a worker's last 0.2 s before it exited may be missed)."""
        return sum(v - self._cpu0.get(pid, 0.0) for pid, v in self.cpu_s.items())


def _run_local(calls_path: Path, out_dir: Path, settings: Settings, workers: int) -> dict[str, Any]:
    from hotline.pipeline.batch.engine import analyze

    stats: dict[str, Any] = {}
    with _MemorySampler() as procs:
        summary = analyze([calls_path], out_dir, settings, workers=workers, progress=False, stats=stats)
    cpu = procs.cpu_seconds
    n = summary["n_calls"]
    me = os.getpid()
    others = [v for pid, v in procs.peak_by_pid.items() if pid != me]
    return {
        "status": "ok", "workers": workers, "calls": n, "seconds": summary["seconds"],
        "map_seconds": summary["map_seconds"], "calls_per_s": summary["calls_per_s"],
        "calls_per_s_per_core": round(summary["calls_per_s"] / workers, 2) if summary["calls_per_s"] else None,
        "cpu_seconds": round(cpu, 2), "calls_per_cpu_s": round(n / cpu, 2) if cpu > 0 else None,
        "peak_rss_mb": round(procs.peak_bytes / 2**20, 1),
        "max_rss_mb": {"this_process": round(procs.peak_by_pid.get(me, 0) / 2**20, 1),
                       "largest_worker": round(max(others, default=0) / 2**20, 1)},
        "incidents": summary["incidents"], "repeats": summary["repeats"]["n"],
        "gap_drafts": summary["gaps"]["drafts"], "embedding_cache": stats.get("embedding_cache"),
    }


def run_batch_benchmark(settings: Settings, *, n_calls: int = 100_000, turns: int = 10, workers: int | None = None,
                        out: str | Path | None = None) -> dict[str, Any]:
    """Generate the input, run each engine on it, return the figures (see the module docstring)."""
    workers = workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="hotline-bench-batch-") as tmp:
        root = Path(out) if out else Path(tmp)
        calls_path = root / "calls.jsonl"
        logger.info("writing %d generated %d-turn calls to %s", n_calls, turns, calls_path)
        data = write_calls(calls_path, n_calls, turns=turns)
        logger.info("analyzing them with the local engine, %d worker(s)", workers)
        local = _run_local(calls_path, root / "local", settings, workers)
        from hotline.eval.benchmarks.batch_ray import ray_throughput

        logger.info("analyzing them with the Ray engine, %d actor(s)", workers)
        ray = ray_throughput(calls_path, root / "ray", settings, workers, memory_sampler=_MemorySampler, local=local)
        result = {
            "benchmark": "batch", "cores": os.cpu_count(), "input": {**data, "path": str(calls_path),
                                                                       "bytes": calls_path.stat().st_size},
            "engines": {"local": local, "ray": ray},
            "targets": TARGETS,
        }
    result["verdicts"] = {
        "local_calls_per_s_per_core": _verdict(local["calls_per_s_per_core"], TARGETS["calls_per_s_per_core"], True),
        "peak_rss_mb": _verdict(local["peak_rss_mb"], TARGETS["peak_rss_mb"], False),
        "ray_within_local": _verdict(ray.get("vs_local"), 1.0 - TARGETS["ray_within_local"], True),
    }
    return result


def _verdict(value: float | None, target: float, higher_is_better: bool) -> str:
    if value is None:
        return "not measured"
    ok = value >= target if higher_is_better else value <= target
    return "meets" if ok else "misses"


def render_batch(result: dict[str, Any]) -> str:
    """A plain-text table of the result."""
    inp = result["input"]
    lines = [f"batch analysis: {inp['calls']} generated calls, {inp['turns'] / max(inp['calls'], 1):.0f} turns each, "
             f"{inp['unique_turn_share']:.0%} distinct turn texts, {result['cores']} cores",
             f"{'engine':8s} {'workers':>7s} {'calls/s':>9s} {'/core':>8s} {'/cpu-s':>8s} {'peak MB':>8s}  status"]
    for name, e in result["engines"].items():
        if e.get("status") != "ok":
            lines.append(f"{name:8s} {'':>7s} {'':>9s} {'':>8s} {'':>8s} {'':>8s}  {e['status']}: {e.get('reason', '')}")
            continue
        lines.append(f"{name:8s} {e['workers']:>7d} {e['calls_per_s']:>9.1f} {e['calls_per_s_per_core']:>8.1f} "
                     f"{e['calls_per_cpu_s'] or 0:>8.1f} {e['peak_rss_mb']:>8.0f}  ok")
    cache = result["engines"]["local"].get("embedding_cache") or {}
    if cache.get("lookups"):
        by = inp.get("unique_turn_share_by_speaker") or {}
        lines.append(f"sentence vectors (local): {cache['hit_rate']:.1%} of {cache['lookups']} distinct-per-batch texts "
                     f"found in the LRU; distinct turn texts: agent {by.get('agent', 0):.0%}, "
                     f"customer {by.get('customer', 0):.0%}")
    t = result["targets"]
    lines.append(f"targets: >= {t['calls_per_s_per_core']:.0f} calls/s per core ({result['verdicts']['local_calls_per_s_per_core']}), "
                 f"peak < {t['peak_rss_mb']:.0f} MB ({result['verdicts']['peak_rss_mb']}), "
                 f"Ray within {t['ray_within_local']:.0%} of local per core "
                 f"({result['engines']['ray'].get('vs_local', '—')}: {result['verdicts']['ray_within_local']})")
    return "\n".join(lines)


def main(args: Any, settings: Settings) -> int:
    """``hotline bench batch``: print the table; with ``--json`` also one JSON line, last."""
    result = run_batch_benchmark(settings, n_calls=int(getattr(args, "calls", 100_000)),
                                 turns=int(getattr(args, "turns", 10)), workers=getattr(args, "workers", None),
                                 out=getattr(args, "out", None))
    sys.stdout.write(render_batch(result) + "\n")
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
    return 0
