"""Smoke test of the live-call load benchmark: a few concurrent calls, nothing dropped, no errors."""

from __future__ import annotations

import pytest

from hotline.eval.benchmarks.load import CALL_SCRIPTS, _script_turns, main, run_load


def test_scripts_are_long_enough_and_cycle():
    for script in CALL_SCRIPTS:
        assert len(script["turns"]) >= 10
        assert {s for s, _ in script["turns"]} == {"a", "c"}
    turns = _script_turns(CALL_SCRIPTS[0], 20)
    assert len(turns) == 20 and turns[:12] == [("customer" if s == "c" else "agent", t)
                                               for s, t in CALL_SCRIPTS[0]["turns"]]


def test_run_load_smoke(tiny_home):
    r = run_load(tiny_home, calls=5, utterances_per_call=3, think_s=(0.0, 0.02), server="thread")
    assert r["errors"] == 0, r["error_samples"]
    assert r["utterances_posted"] == 15 and r["utterances_accepted"] == 15
    assert r["dropped"] == 0, r["mismatches"]
    assert r["ws_errors"] == 0, r["ws_error_samples"]
    assert r["ws_dropped"] == 0
    assert r["utterance_ms"]["n"] == 15 and r["utterance_ms"]["p50"] > 0


def test_run_load_rejects_bad_arguments(tiny_home):
    with pytest.raises(ValueError, match="calls"):
        run_load(tiny_home, calls=0)
    with pytest.raises(ValueError, match="server"):
        run_load(tiny_home, server="cluster")
    with pytest.raises(ValueError, match="think_s"):
        run_load(tiny_home, think_s=(0.3, 0.1))


def test_main_prints_table_and_json(tiny_home, capsys, monkeypatch):
    monkeypatch.setenv("HOTLINE_HOME", str(tiny_home.home))
    rc = main(["--calls", "2", "--utterances", "2", "--think-min", "0", "--think-max", "0.01",
               "--server", "thread", "--no-stream"])
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0
    assert out[0].startswith("requests") and "utterance" in "\n".join(out)
    import json

    assert json.loads(out[-1])["dropped"] == 0
