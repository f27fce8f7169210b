"""The verdict rows of a speed result."""

from __future__ import annotations

from hotline.eval.benchmarks.targets import TARGET_ASSIST_P99_MS, TARGET_SPEEDUP, flat_used, speed_targets
from hotline.index.vector import AUTO_HNSW_MIN


def test_each_ratio_and_the_absolute_latency_get_a_verdict():
    r = {"assist_kb_p99_ms": TARGET_ASSIST_P99_MS + 1,
         "ratios": {"classify": TARGET_SPEEDUP, "segment": TARGET_SPEEDUP - 0.1, "http": None}}
    rows = {t["name"]: t for t in speed_targets(r)}
    assert rows["assist p99 with the large KB (ms)"]["pass"] is False
    assert rows["speed-up vs peer: classify"]["pass"] is True
    assert rows["speed-up vs peer: segment"]["pass"] is False
    assert rows["speed-up vs peer: http"]["pass"] is None  # not measured: no verdict


def test_exact_search_above_the_flat_size_is_only_a_reference():
    big = AUTO_HNSW_MIN
    assert flat_used(big - 1) and not flat_used(big)
    r = {"index": [{"n": big}], "ratios": {f"index_{big}_exact": 0.5, f"index_{big}_approx": 5.0}}
    rows = speed_targets(r)
    assert rows[0]["target"] == "reference" and rows[0]["pass"] is None and "not used" in rows[0]["name"]
    assert rows[1]["pass"] is True
