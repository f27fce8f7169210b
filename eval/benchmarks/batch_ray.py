"""The Ray figure of ``hotline bench batch``: the same input through ``hotline analyze --engine ray``.

A local Ray on this machine (``workers`` CPUs, one analyzer actor each), started and stopped inside the timed
run, so ``seconds`` is end to end as for the local engine: Ray's start-up, reading, the actors' warm-up, the
analysis, the Parquet round trip and the aggregation. ``calls_per_s_per_core`` divides by the actors;
``peak_rss_mb`` sums this process and every process under it (Ray's raylet, GCS and workers are its
children). ``vs_local`` is Ray's calls/s per core over the local engine's (the target: within 25%).

Example:
    >>> ray_throughput(Path("calls.jsonl"), Path("out/ray"), Settings(), 2, memory_sampler=sampler)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hotline.core.settings import Settings

__all__ = ["ray_throughput"]


def ray_throughput(calls_path: Path, out_dir: Path, settings: Settings, workers: int, *,
                   memory_sampler: Callable[[], Any], local: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the Ray engine on ``calls_path``; the benchmark's per-engine figures (``status`` ``not_run`` when Ray
    is not installed), with ``vs_local`` when the local engine's figures are given.

    Args:
        memory_sampler: The benchmark's sampler: a context manager with ``peak_bytes`` (the same for both engines).
    """
    from hotline.pipeline.batch.ray_engine import analyze_ray, ray_available

    if not ray_available():
        return {"status": "not_run", "reason": "Ray is not installed: pip install 'hotline[ray]'"}
    with memory_sampler() as mem:
        summary = analyze_ray([calls_path], out_dir, settings, workers=workers)
    per_core = round(summary["calls_per_s"] / workers, 2) if summary["calls_per_s"] else None
    out = {
        "status": "ok", "workers": workers, "calls": summary["n_calls"], "seconds": summary["seconds"],
        "map_seconds": summary["map_seconds"], "calls_per_s": summary["calls_per_s"],
        "calls_per_s_per_core": per_core, "calls_per_cpu_s": None,  # Ray's workers are not this process's to rusage
        "peak_rss_mb": round(mem.peak_bytes / 2**20, 1), "incidents": summary["incidents"],
        "repeats": summary["repeats"]["n"], "gap_drafts": summary["gaps"]["drafts"],
    }
    if local and local.get("calls_per_s_per_core") and per_core:
        out["vs_local"] = round(per_core / local["calls_per_s_per_core"], 3)
    return out
