"""The live-call load benchmark: a few concurrent calls from several client processes, its JSON, the ramp."""

from __future__ import annotations

import json

import pytest

from hotline.core.errors import InvalidInputError
from hotline.core.settings import Settings
from hotline.eval.benchmarks.load import _aggregate, _crossing, _header, main, run_load, run_ramp

# the fields issue 12 asks of every load result (and of every ramp step)
_FIELDS = ("calls", "utterances", "offered_rate", "achieved_rate", "client_p50_ms", "client_p95_ms", "client_p99_ms",
           "server_p50_ms", "server_p99_ms", "errors", "dropped", "generator_cpu", "server_cpu_ms_per_utt")


@pytest.mark.parametrize("client", ["aiohttp", "httpx"])
def test_run_load_from_two_client_processes(tiny_home, client):
    r = run_load(tiny_home, calls=4, utterances_per_call=3, think_s=(0.0, 0.05), server="thread", workers=2,
                 client=client)
    assert set(_FIELDS) <= r.keys()
    assert r["errors"] == 0, r["error_samples"]
    assert r["utterances_posted"] == 12 and r["utterances_accepted"] == 12 and r["utterances"] == 12
    assert r["dropped"] == 0, r["mismatches"]
    assert r["ws_errors"] == 0, r["ws_error_samples"]
    assert r["ws_dropped"] == 0
    assert r["workers"] == 2 and r["calls_run"] == 4 and r["client"] == client
    assert r["utterance_ms"]["n"] == 12 and r["client_p50_ms"] > 0
    # every utterance answer carried the benchmark server's Server-Timing header
    assert r["server_utterance_ms"]["n"] == 12 and r["server_p50_ms"] > 0
    assert r["generator_cpu"] > 0 and r["server_cpu_ms_per_utt"] > 0 and 0 <= r["machine_cpu_busy"] <= 1


def test_a_duration_runs_call_after_call_in_each_slot(tiny_home):
    r = run_load(tiny_home, calls=2, utterances_per_call=2, think_s=(0.05, 0.1), duration_s=1.0,
                 server="thread", workers=1, stream=False)
    assert r["errors"] == 0, r["error_samples"]
    assert r["dropped"] == 0, r["mismatches"]
    # a call lasts at most 0.2 s of its 2 turns plus the ring gap: each slot runs several in 1 s
    assert r["calls_run"] > 2
    assert r["utterances_accepted"] == r["utterances_posted"] >= r["calls_run"]


def test_main_prints_table_and_json(tiny_home, capsys, monkeypatch):
    monkeypatch.setenv("HOTLINE_HOME", str(tiny_home.home))
    rc = main(["--calls", "2", "--utterances", "2", "--think-min", "0", "--think-max", "0.01",
               "--server", "thread", "--no-stream", "--header", "X-Bench: 1"])
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0
    assert out[0].startswith("requests") and "server-side p50/p99" in "\n".join(out)
    r = json.loads(out[-1])
    assert set(_FIELDS) <= r.keys() and r["dropped"] == 0


def test_ramp_stops_where_p99_crosses_and_prints_json(tiny_home, capsys, monkeypatch):
    monkeypatch.setenv("HOTLINE_HOME", str(tiny_home.home))
    # a 1 µs line: the first step is over it, so the ramp stops there whatever this machine's speed
    rc = main(["--ramp", "--ramp-start", "2", "--ramp-step", "2", "--ramp-max", "6", "--p99-ms", "0.001",
               "--utterances", "2", "--duration", "0.5", "--think-min", "0.05", "--think-max", "0.1",
               "--server", "thread", "--no-stream"])
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0
    r = json.loads(out[-1])
    assert r["mode"] == "ramp" and r["stopped_by"] == "p99" and r["crossed"] is True
    assert len(r["steps"]) == 1 and r["first_over"]["calls"] == 2 and r["last_within"] is None
    assert r["crossing_rate"] is None  # crossed at the first step: no rate within the line to interpolate from
    assert set(_FIELDS) <= r["steps"][0].keys()
    assert "already at the first step" in "\n".join(out)


def test_run_ramp_reports_no_crossing_when_p99_stays_within_the_line(tiny_home):
    r = run_ramp(tiny_home, start_calls=1, step_calls=1, max_calls=2, p99_ms=1e9, utterances_per_call=2,
                 duration_s=0.5, think_s=(0.05, 0.1), server="thread", stream=False)
    assert [s["calls"] for s in r["steps"]] == [1, 2]
    assert r["stopped_by"] == "max_calls" and r["crossed"] is False and r["crossing_rate"] is None
    assert r["last_within"]["calls"] == 2


def _step(calls: int, rate: float, p99: float) -> dict:
    return {"calls": calls, "offered_rate": rate, "client_p99_ms": p99}


def test_crossing_interpolates_the_rate_between_the_last_step_within_and_the_first_over():
    c = _crossing([_step(100, 100.0, 20.0), _step(200, 200.0, 60.0), _step(300, 300.0, 160.0)], 100.0)
    assert c["crossed"] is True
    assert c["crossing_rate"] == pytest.approx(240.0) and c["crossing_calls"] == 240  # 60→160 ms: 40 % of the way
    assert c["last_within"]["calls"] == 200 and c["first_over"]["calls"] == 300
    never = _crossing([_step(100, 100.0, 20.0)], 100.0)
    assert never["crossed"] is False and never["crossing_rate"] is None and never["first_over"] is None


def _part(*, dues: tuple[float, float, int], sends: tuple[float, float], utt_ms: list[float], cpu_s: float,
          wall_s: float, refused: int = 0) -> dict:
    return {"utt_ms": utt_ms, "utt_due_ms": utt_ms, "lag_ms": [0.0] * len(utt_ms), "server_ms": [1.0] * len(utt_ms),
            "create_ms": [], "get_ms": [], "end_ms": [], "loop_lag_ms": [0.1], "first_send": sends[0],
            "last_done": sends[1], "due_min": dues[0], "due_max": dues[1], "n_due": dues[2], "calls_run": 1,
            "failed_calls": 0, "posted": len(utt_ms) + refused, "accepted": len(utt_ms), "dropped": 0,
            "mismatches": [], "errors": refused, "error_samples": [], "ws_events": 0, "ws_errors": 0, "ws_error_samples": [],
            "ws_dropped": 0, "unsent": 0, "unchecked_calls": 0, "cpu_s": cpu_s, "wall_s": wall_s}


def test_aggregate_rates_and_generator_cpu_from_the_workers_parts():
    parts = [_part(dues=(0.5, 10.5, 50), sends=(0.5, 10.6), utt_ms=[5.0] * 50, cpu_s=1.0, wall_s=10.0),
             _part(dues=(1.0, 10.0, 50), sends=(1.0, 10.1), utt_ms=[15.0] * 40, cpu_s=9.5, wall_s=10.0,
                   refused=10)]
    r = _aggregate(parts, calls=20, utterances_per_call=5, think_s=(1.0, 3.0), duration_s=10.0, stream=False,
                   server="process", workers=2, server_cpu_s=2.7, machine_busy=0.5)
    assert r["offered_rate"] == 10.0  # 100 turns due over 10 s of schedule
    assert r["achieved_rate"] == pytest.approx(90 / 10.1, abs=0.05)  # 90 answered between first send and last answer
    assert r["nominal_rate"] == 10.0  # 20 calls, a turn every 2 s on average
    assert r["generator_cpu"] == 1.05 and r["generator_worker_cpu_max"] == 0.95
    assert r["generator_bottleneck"] is True  # one worker used 95 % of a core
    assert r["utterances"] == 100 and r["errors"] == 10
    assert r["server_cpu_ms_per_utt"] == 30.0  # 2.7 s over the 90 answered, not the 100 posted
    assert r["client_p50_ms"] == 5.0 and r["server_p50_ms"] == 1.0


def test_run_load_rejects_bad_arguments(tmp_path):
    settings = Settings(home=tmp_path)  # checked before any server starts: no models needed
    with pytest.raises(InvalidInputError, match="calls"):
        run_load(settings, calls=0)
    with pytest.raises(InvalidInputError, match="server"):
        run_load(settings, server="cluster")
    with pytest.raises(InvalidInputError, match="think_s"):
        run_load(settings, think_s=(0.3, 0.1))
    with pytest.raises(InvalidInputError, match="profile"):
        run_load(settings, server="thread", profile=tmp_path / "p.svg")
    with pytest.raises(InvalidInputError, match="duration_s"):
        run_load(settings, duration_s=0)
    with pytest.raises(InvalidInputError, match="workers"):
        run_load(settings, workers=0)
    with pytest.raises(InvalidInputError, match="client"):
        run_load(settings, client="curl")
    with pytest.raises(InvalidInputError, match="max_calls"):
        run_ramp(settings, start_calls=200, max_calls=100)
    with pytest.raises(InvalidInputError, match="p99_ms"):
        run_ramp(settings, p99_ms=0)


def test_header_option_parses_name_and_value():
    assert _header("Authorization: Bearer k:1") == ("Authorization", "Bearer k:1")
    with pytest.raises(Exception, match="Name: value"):
        _header("Bearer k")
