"""`hotline bench batch`: the generated input and the fields of the result (no timing asserts)."""

from __future__ import annotations

import json

import pytest

from hotline.core.errors import InvalidInputError
from hotline.eval.benchmarks.batch import render_batch, run_batch_benchmark, write_calls
from hotline.pipeline.batch.readers import CallReader


def test_the_generated_input_has_the_asked_calls_and_turns(tmp_path):
    info = write_calls(tmp_path / "calls.jsonl", 120, turns=10)
    calls = list(CallReader([tmp_path / "calls.jsonl"]))
    assert info["calls"] == len(calls) == 120 and info["turns"] == 1200
    assert all(len(c["turns"]) == 10 for c in calls) and len({c["call_id"] for c in calls}) == 120
    assert 0 < info["unique_turn_share"] <= 1 and all(c["agent_id"] and c["team"] for c in calls)
    days = {c["started_at"].date() for c in calls}
    assert len(days) == 7  # spread over a week: hot spots have a baseline
    with pytest.raises(InvalidInputError, match="n_calls and turns must be >= 1"):
        write_calls(tmp_path / "x.jsonl", 0)


def test_the_result_has_every_figure(tiny_home, tmp_path):
    result = run_batch_benchmark(tiny_home, n_calls=24, workers=1, out=tmp_path)
    local = result["engines"]["local"]
    assert local["status"] == "ok" and local["calls"] == 24 and local["workers"] == 1
    for key in ("seconds", "calls_per_s", "calls_per_s_per_core", "calls_per_cpu_s", "peak_rss_mb", "cpu_seconds"):
        assert local[key] > 0, key
    assert set(local["max_rss_mb"]) == {"this_process", "largest_worker"}
    ray = result["engines"]["ray"]  # the same input through `analyze --engine ray` (the [ray] extra CI installs)
    assert ray["status"] == "ok" and ray["calls"] == 24 and ray["workers"] == 1, ray
    for key in ("seconds", "calls_per_s", "calls_per_s_per_core", "peak_rss_mb", "vs_local"):
        assert ray[key] > 0, key
    assert result["input"]["calls"] == 24 and result["input"]["turns"] == 240
    assert set(result["verdicts"]) == {"local_calls_per_s_per_core", "peak_rss_mb", "ray_within_local"}
    assert "calls/s" in render_batch(result) and json.dumps(result)
    assert (tmp_path / "local" / "calls.parquet").is_file()
    assert (tmp_path / "ray" / "calls.parquet").is_file()
