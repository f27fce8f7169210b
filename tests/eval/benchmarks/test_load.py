"""Smoke test of the live-call load benchmark: a few concurrent calls, nothing dropped, no errors."""

from __future__ import annotations

import json

import pytest

from hotline.core.errors import InvalidInputError
from hotline.core.settings import Settings
from hotline.eval.benchmarks.load import main, run_load


def test_run_load_smoke(tiny_home):
    r = run_load(tiny_home, calls=5, utterances_per_call=3, think_s=(0.0, 0.02), server="thread")
    assert r["errors"] == 0, r["error_samples"]
    assert r["utterances_posted"] == 15 and r["utterances_accepted"] == 15
    assert r["dropped"] == 0, r["mismatches"]
    assert r["ws_errors"] == 0, r["ws_error_samples"]
    assert r["ws_dropped"] == 0
    assert r["utterance_ms"]["n"] == 15 and r["utterance_ms"]["p50"] > 0


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


def test_main_prints_table_and_json(tiny_home, capsys, monkeypatch):
    monkeypatch.setenv("HOTLINE_HOME", str(tiny_home.home))
    rc = main(["--calls", "2", "--utterances", "2", "--think-min", "0", "--think-max", "0.01",
               "--server", "thread", "--no-stream"])
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0
    assert out[0].startswith("requests") and "utterance" in "\n".join(out)
    assert json.loads(out[-1])["dropped"] == 0
