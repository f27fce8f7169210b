"""Smoke tests of the speed benchmark: tiny sizes on the tiny real models (one HTTP server too); no timed assertions."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math

import pytest

from hotline.eval.benchmarks import speed
from hotline.eval.benchmarks.render import render_speed
from hotline.eval.benchmarks.speed import SpeedConfig, run_speed_benchmark


def _tiny() -> SpeedConfig:
    return dataclasses.replace(
        SpeedConfig.smoke(), n_utterances=8, classify_n=64, classify_batch=32, segment_texts=60, segment_rounds=1,
        http_requests=6, http_clients=2, index_sizes=(500,), index_queries=8, kb_entries=84, kb_pool_per_code=1,
        kb_queries=4,
    )


@pytest.fixture(scope="module")
def tiny_result(tiny_home):
    return run_speed_benchmark(tiny_home, config=_tiny())


def test_smoke_result_has_the_contract_keys(tiny_result):
    r = tiny_result
    for key in ("assist_p50_ms", "assist_p99_ms", "classify_per_s", "segment_mb_per_s"):
        assert r[key] > 0, key
    for key in ("assist_p50_ms", "assist_p99_ms", "classify_per_s", "segment_mb_per_s"):
        assert r["peer"][key] > 0, key
    assert r["assist_p99_ms"] >= r["assist_p50_ms"]
    for key in ("assist_p50", "assist_p99", "classify", "segment", "assist_kb_p99", "index_500_exact"):
        assert r["ratios"][key] > 0, key
    assert r["http"]["errors"] == 0 and r["http"]["n"] == 4 and r["http"]["p50_ms"] > 0  # 6 requests: 2 + 4
    assert r["http"]["clients"] == 2 and r["http"]["single_client"]["n"] == 2
    (ix,) = r["index"]
    assert ix["n"] == 500 and 0.0 <= ix["approx"]["recall@10"] <= 1.0
    assert r["kb"]["entries"] == 84 and r["assist_kb_p99_ms"] > 0
    assert all(set(t) == {"name", "value", "target", "pass"} for t in r["targets"])
    # the JSON line the CLI prints must round-trip
    back = json.loads(json.dumps(r, ensure_ascii=False, default=str))
    assert math.isclose(back["peer"]["classify_per_s"], r["peer"]["classify_per_s"])


def test_markdown_table_names_every_row(tiny_result):
    md = render_speed(tiny_result)
    assert md.startswith("| measure | Hotline | naive peer |")
    for words in ("assist latency p50", "assist latency p99", "84-entry KB", "HTTP /v1/assist p99",
                  "classification, batch 32", "segmentation (MB/s)", "vector search 500×512", "recall@10"):
        assert words in md, words
    assert "FAIL" in md or "pass" in md


def test_sections_are_checked(tiny_home):
    with pytest.raises(Exception, match="sections must be a subset"):
        run_speed_benchmark(tiny_home, config=_tiny(), sections=["assist", "warp"])


def test_main_prints_the_table_then_one_json_line_last(tiny_home, monkeypatch, capsys):
    canned = {"assist_p50_ms": 5.0, "assist_p99_ms": 9.0, "classify_per_s": 100.0, "segment_mb_per_s": 1.0,
              "peer": {"assist_p50_ms": 1.0, "assist_p99_ms": 2.0, "classify_per_s": 50.0, "segment_mb_per_s": 1.0},
              "ratios": {"assist_p50": 0.2, "assist_p99": 0.22, "classify": 2.0, "segment": 1.0},
              "classify": {"batch": 256}, "segment_tokens_mb_per_s": 0.8, "env": {}, "seconds": 1.0}
    seen = {}

    def fake(settings, *, config=None, sections=None):
        seen["config"] = config
        return canned

    monkeypatch.setattr(speed, "run_speed_benchmark", fake)
    assert speed.main(argparse.Namespace(json=True, smoke=True), tiny_home) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1])["peer"]["assist_p99_ms"] == 2.0
    assert out[0].startswith("| measure |")
    assert seen["config"].smoke_mode
