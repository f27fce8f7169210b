"""What the speed and load benchmarks are judged against, and the verdict rows of a speed result.

Example:
    >>> speed_targets({"assist_kb_p99_ms": 8.0, "ratios": {"classify": 4.2}})[1]["pass"]
    True
"""

from __future__ import annotations

from typing import Any

__all__ = ["TARGET_SPEEDUP", "TARGET_ASSIST_P99_MS", "TARGET_P99_MS", "flat_used", "speed_targets"]

TARGET_SPEEDUP = 3.0  # Hotline should be ≥ 3× the naive peer on every speed row
TARGET_ASSIST_P99_MS = 10.0  # assist p99 with a 10k-entry KB, in process
TARGET_P99_MS = 100.0  # live calls: per-utterance p99 over HTTP under load (issue 12: 400 calls at ~1 turn/s)


def flat_used(n_vectors: int) -> bool:
    """Whether Hotline's VectorIndex searches this many vectors exactly (flat); above, exact is only a reference."""
    from hotline.index.vector import AUTO_HNSW_MIN

    return n_vectors < AUTO_HNSW_MIN


def speed_targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """``{"name", "value", "target", "pass"}`` per judged figure of a speed result (``pass`` None = reference)."""
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float | None, ok: bool | None, target: str) -> None:
        rows.append({"name": name, "value": value, "target": target, "pass": ok})

    ratios = r.get("ratios", {})
    if "assist_kb_p99_ms" in r:
        v = r["assist_kb_p99_ms"]
        add("assist p99 with the large KB (ms)", v, v <= TARGET_ASSIST_P99_MS, f"≤ {TARGET_ASSIST_P99_MS:g} ms")
    unused = {f"index_{ix['n']}_exact" for ix in r.get("index", []) if not flat_used(ix["n"])}
    for key, val in ratios.items():
        if key in unused:  # Hotline searches that many vectors approximately; exact flat is a reference
            add(f"speed-up vs peer: {key} (exact search, not used at this size)", val, None, "reference")
            continue
        add(f"speed-up vs peer: {key}", val, None if val is None else val >= TARGET_SPEEDUP, f"≥ {TARGET_SPEEDUP:g}×")
    return rows
