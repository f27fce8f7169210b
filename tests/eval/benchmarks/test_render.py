"""Renderers only format: canned results in, the rows and verdicts out."""

from __future__ import annotations

from hotline.eval.benchmarks.render import render_encoders, render_load, render_speed


def test_speed_table_has_a_row_per_measure_and_a_verdict():
    r = {"assist_p50_ms": 5.0, "assist_p99_ms": 9.0, "classify_per_s": 100.0, "segment_mb_per_s": 1.0,
         "segment_tokens_mb_per_s": 0.8, "n_kb_entries": 169,
         "peer": {"assist_p50_ms": 1.0, "assist_p99_ms": 2.0, "classify_per_s": 20.0, "segment_mb_per_s": 1.0},
         "ratios": {"assist_p50": 0.2, "assist_p99": 0.22, "classify": 5.0, "segment": 1.0},
         "classify": {"batch": 256}, "env": {"cpu_count": 2}, "seconds": 1.0}
    md = render_speed(r)
    assert md.splitlines()[0] == "| measure | Hotline | naive peer | speed-up (×) | target | result |"
    assert "| assist latency p50, 169-entry KB (ms) | 5.00 | 1.00 | 0.20 | ≥ 3× | FAIL |" in md
    assert "| classification, batch 256 (utterances/s) | 100.00 | 20.00 | 5.00 | ≥ 3× | pass |" in md
    assert "Run: 2 CPUs" in md


def _load_result(**kw) -> dict:
    lat = {"n": 4, "p50": 10.0, "p95": 20.0, "p99": 30.0, "max": 31.0, "mean": 12.0}
    base = {"utterance_ms": lat, "create_ms": lat, "get_ms": {"n": 0}, "end_ms": lat, "calls": 2,
            "utterances_per_call": 2, "think_s": [0.0, 0.1], "server": "thread", "stream": True, "cpu_count": 2,
            "utterances_posted": 4, "utterances_accepted": 4, "errors": 0, "dropped": 0, "ws_dropped": 0,
            "ws_errors": 0, "utterances_per_s": 8.0, "wall_s": 0.5, "target_p99_ms": 50.0, "meets_target": True}
    return {**base, **kw}


def test_load_table_lists_request_kinds_and_says_whether_the_target_is_met():
    text = render_load(_load_result())
    lines = text.splitlines()
    assert lines[0].split() == ["requests", "n", "p50", "ms", "p95", "ms", "p99", "ms", "max", "ms"]
    assert any(line.startswith("utterance") for line in lines) and not any(line.startswith("get ") for line in lines)
    assert "meets the 50 ms target" in text and "server CPU" not in text
    slow = render_load(_load_result(meets_target=False, server_cpu_ms_per_utterance=3.0, server_cpu_utilisation=0.2,
                                    client_cpu_utilisation=0.1))
    assert "MISSES the 50 ms target" in slow and "server CPU 3.0 ms/utterance" in slow


def test_encoder_table_has_one_column_per_encoder():
    md = render_encoders({"usem3": {"dim": 512, "recall@1": 0.6}, "e5": {"dim": 384, "recall@1": 0.7}})
    assert md.splitlines() == ["| metric | usem3 | e5 |", "|---|---|---|", "| dim | 512 | 384 |",
                               "| recall@1 | 0.6 | 0.7 |"]
