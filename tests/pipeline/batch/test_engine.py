"""The local engine: input streamed in bounded batches, the same records with one worker or a pool."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from hotline.core.errors import InvalidInputError
from hotline.core.settings import Settings
from hotline.pipeline.batch.analyze import CallAnalyzer
from hotline.pipeline.batch.engine import LocalEngine, analyze

CST = timezone(timedelta(hours=8))
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=CST)
KEY = b"k" * 32


def _calls(n: int):
    for i in range(n):
        yield {"call_id": f"c{i:04d}", "region": "杭州市西湖区", "started_at": T0 + timedelta(minutes=i),
               "turns": [{"speaker": "customer", "text": "我家宽带连不上了，光猫亮红灯"},
                         {"speaker": "agent", "text": "好的，马上为您报修"}]}


def test_the_input_is_consumed_a_batch_at_a_time(fake_pipeline):
    analyzer = CallAnalyzer(Settings(), pipeline=fake_pipeline, repeat_key=KEY)
    pulled = []

    def source():
        for call in _calls(1000):
            pulled.append(call["call_id"])
            yield call

    batches = LocalEngine(Settings(), workers=1, batch_calls=10, repeat_key=KEY, analyzer=analyzer).map(source())
    first = next(batches)
    assert [r["call_id"] for r in first] == [f"c{i:04d}" for i in range(10)]
    assert len(pulled) == 10  # not the whole input
    assert sum(len(b) for b in batches) == 990


def test_bad_engine_settings_are_refused(fake_pipeline, tmp_path):
    with pytest.raises(InvalidInputError, match="workers and batch_calls must be >= 1, got 0"):
        LocalEngine(Settings(), workers=0)
    with pytest.raises(InvalidInputError, match="needs workers=1"):
        LocalEngine(Settings(), workers=2, analyzer=object())
    with pytest.raises(InvalidInputError, match=r"engine must be one of \['local', 'ray'\], got 'spark'"):
        analyze([], tmp_path, Settings(), engine="spark")


def test_analyze_with_a_stand_in_pipeline_writes_the_outputs(fake_pipeline, tmp_path):
    src = tmp_path / "calls.jsonl"
    src.write_text("".join(json.dumps({**c, "started_at": c["started_at"].isoformat()}, ensure_ascii=False) + "\n"
                           for c in _calls(25)) + "{bad\n", encoding="utf-8")
    settings = Settings(home=tmp_path / "home", incident_threshold=5)
    analyzer = CallAnalyzer(settings, pipeline=fake_pipeline, repeat_key=KEY)
    summary = analyze([src], tmp_path / "out", settings, analyzer=analyzer, on_error="skip", batch_calls=7,
                      gap_encoder=None, progress=False)
    assert summary["n_calls"] == 25 and summary["n_skipped"] == 1 and summary["skipped"][0].endswith(
        "each line must be one JSON object")
    assert summary["incidents"] == 1 and summary["calls_per_s"] > 0 and summary["workers"] == 1
    with pytest.raises(InvalidInputError, match=r"calls\.jsonl:26: not valid JSON"):
        analyze([src], tmp_path / "out2", settings, analyzer=analyzer, gap_encoder=None, progress=False)


def test_a_pool_of_workers_gives_the_same_records(tiny_home, tmp_path):
    src = tmp_path / "calls.jsonl"
    lines = [line for p in ("data/checks/calls_outages.jsonl",) for line in open(p, encoding="utf-8")][:12]
    src.write_text("".join(lines), encoding="utf-8")
    one = analyze([src], tmp_path / "one", tiny_home, workers=1, batch_calls=4, gap_encoder=None, progress=False)
    two = analyze([src], tmp_path / "two", tiny_home, workers=2, batch_calls=4, gap_encoder=None, progress=False)
    assert one["n_calls"] == two["n_calls"] == 12 and two["workers"] == 2
    for name in ("calls.jsonl", "incidents.jsonl", "hotspots.csv", "qa.json", "gaps.jsonl"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_progress_is_a_bar_on_a_terminal_and_log_lines_otherwise(caplog, capsys):
    import logging

    from hotline.pipeline.batch.engine import _Progress

    caplog.set_level(logging.INFO, logger="hotline.pipeline.batch.engine")
    plain = _Progress(every_s=0.0, tty=False)
    plain.update(64)
    plain.update(64)
    plain.close()
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == ["analyzed 64 calls", "analyzed 128 calls"]
    bar = _Progress(tty=True)
    bar.update(5)
    bar.close()
    err = capsys.readouterr().err
    assert "analyze" in err and "5" in err and "call" in err
