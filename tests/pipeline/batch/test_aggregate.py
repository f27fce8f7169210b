"""The aggregation pass: records in any order → outputs in started_at order, repeats, incidents, grades, QA."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone

import pyarrow.parquet as pq
import pytest

from hotline.core.settings import Settings
from hotline.pipeline.batch.aggregate import OUTPUTS, BatchAggregator, read_records
from hotline.pipeline.batch.repeats import caller_key

CST = timezone(timedelta(hours=8))
T0 = datetime(2024, 5, 8, 19, 0, tzinfo=CST)
KINDS = ("location", "phone")
KEY = b"k" * 32


def _rec(call_id: str, minutes: float, *, label="coverage.outage", region="南京市江宁区", phone=None, agent="A1",
         greeting=True, escalation=None, customer=None, gaps=()) -> dict:
    started = T0 + timedelta(minutes=minutes)
    esc = escalation or []
    return {
        "call_id": call_id, "label": label, "service": label.split(".")[0] if label else None, "phenomenon": None,
        "confidence": 0.9, "abstain": False, "level": "leaf" if label else None,
        "is_complaint": bool(label) and not label.startswith("inquiry."), "region": region, "sub_area": None,
        "started_at": started.isoformat(), "date": started.date().isoformat(), "hour": started.hour,
        "agent_id": agent, "team": "T1" if agent else None, "customer": customer or {},
        "caller": caller_key(phone, KEY), "slots": {"location": "双龙大道", "phone": None}, "missing_fields": [],
        "qa": {"passed": greeting, "flags": [{"flag": "greeting", "passed": greeting, "turn": 0, "evidence": "",
                                              "component": None}]},
        "escalation": any(r["type"] == "regulator" for r in esc), "escalation_level": "high" if esc else "none",
        "escalation_reason": esc[0]["type"] if esc else None, "escalation_turn": esc[0]["turn"] if esc else None,
        "escalation_reasons": esc, "grade": "普通", "grade_reasons": [], "time_limit_h": 2.0,
        "deadline": (started + timedelta(hours=2)).isoformat(), "repeat_of": None, "mass_incident": False,
        "onset": "recent", "kb_gaps": [{"turn": 1, "text": t, "confidence": 0.01} for t in gaps], "evidence": [1],
        "n_turns": 2, "turns": [{"speaker": "agent", "text": "您好"}, {"speaker": "customer", "text": "没信号了"}],
    }


@pytest.fixture
def settings(tmp_path):
    return Settings(home=tmp_path / "home", incident_threshold=3, incident_window_min=30)


def test_outputs_in_started_at_order_with_repeats_incidents_and_grades(tmp_path, settings):
    records = [
        _rec("c3", 10, phone="13900001111"),
        _rec("c1", 0, phone="13812345678", customer={"vip": "true"}),
        _rec("c2", 5, region="南京市江宁区"),
        _rec("c4", 600, label="billing.invoice", region="杭州市", phone="13700000000"),
        _rec("c5", 24 * 60, label="voice.cannot_call", region="杭州市", phone="13812345678"),  # next day: repeat of c1
        _rec("c6", 24 * 60 + 5, label="billing.invoice", region="杭州市", agent=None,
             escalation=[{"type": "regulator", "match": "工信部", "turn": 1}]),
    ]
    agg = BatchAggregator(settings, tmp_path / "out", kinds=KINDS, gap_encoder=None, hotspot_min_count=1)
    agg.add_many(records)
    summary = agg.finish(n_skipped=0)
    out = tmp_path / "out"
    calls = [json.loads(line) for line in (out / "calls.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [c["call_id"] for c in calls] == ["c1", "c2", "c3", "c4", "c5", "c6"]
    by = {c["call_id"]: c for c in calls}
    assert by["c5"]["repeat_of"] == "c1" and by["c3"]["repeat_of"] is None
    assert [by[c]["mass_incident"] for c in ("c1", "c2", "c3", "c4")] == [True, True, True, False]
    assert (by["c1"]["grade"], by["c1"]["grade_reasons"]) == ("紧急", ["mass_incident", "vip"])
    assert (by["c2"]["grade"], by["c5"]["grade"], by["c4"]["grade"]) == ("重要", "重要", "普通")
    assert (by["c6"]["grade"], by["c6"]["grade_reasons"]) == ("紧急", ["threat:regulator"])
    assert by["c1"]["deadline"] == records[1]["deadline"]  # the per-call deadline is kept
    incidents = [json.loads(line) for line in (out / "incidents.jsonl").read_text(encoding="utf-8").splitlines()]
    assert incidents == [{"type": "mass_incident", "code": "coverage.outage", "region": "南京市江宁区",
                          "call_ids": ["c1", "c2", "c3"], "first": T0.isoformat(),
                          "last": (T0 + timedelta(minutes=10)).isoformat(), "family": "mobile_network",
                          "sub_area": "双龙大道"}]
    # the Parquet file holds the same records (a map column reads as key/value pairs)
    table = pq.read_table(out / "calls.parquet").to_pylist()
    for row, rec in zip(table, calls):
        assert {**row, "customer": dict(row["customer"])} == rec
    assert summary["n_calls"] == 6 and summary["incidents"] == 1 and summary["repeats"]["n"] == 1
    assert summary["grades"] == {"重要": 3, "紧急": 2, "普通": 1}
    assert set(summary["outputs"]) == set(OUTPUTS) and all((out / f).is_file() for f in OUTPUTS.values())
    assert not (out / ".stage").exists()
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["n_skipped"] == 0


def test_qa_roll_up_per_flag_agent_and_team(tmp_path, settings):
    records = [_rec(f"a{i}", i, label="billing.invoice", region="杭州市", agent="A1", greeting=True) for i in range(4)]
    records += [_rec(f"b{i}", i, label="billing.invoice", region="杭州市", agent="A2", greeting=i == 0) for i in range(4)]
    records += [_rec(f"c{i}", i, label="billing.invoice", region="杭州市", agent="A3", greeting=True) for i in range(4)]
    records.append(_rec("n0", 9, label="billing.invoice", region="杭州市", agent=None, greeting=False))
    agg = BatchAggregator(settings, tmp_path / "out", kinds=KINDS, gap_encoder=None)
    agg.add_many(records)
    agg.finish()
    qa = json.loads((tmp_path / "out" / "qa.json").read_text(encoding="utf-8"))
    assert qa["flags"] == [{"flag": "greeting", "calls": 13, "passed": 9, "pass_rate": round(9 / 13, 4)}]
    assert qa["calls_without_agent"] == 1
    agents = {a["agent_id"]: a for a in qa["agents"]}
    assert agents["A2"]["flags"][0]["verdict"] == "individual" and agents["A1"]["flags"][0]["verdict"] == "ok"
    assert qa["teams"][0]["team"] == "T1" and qa["teams"][0]["flags"][0]["individual"] == ["A2"]


def test_gaps_hotspots_and_a_baseline_run(tmp_path, settings):
    day1 = [_rec(f"d{i}", -24 * 60 + i, label="data.slow", region="杭州市滨江区") for i in range(2)]
    agg = BatchAggregator(settings, tmp_path / "base", kinds=KINDS, gap_encoder=None)
    agg.add_many(day1)
    agg.finish()
    today = [_rec(f"t{i}", i, label="data.slow", region="杭州市滨江区",
                  gaps=["携号转网要多少钱手续费"] if i % 2 else ["携号转网手续费是多少钱"]) for i in range(6)]
    agg = BatchAggregator(settings, tmp_path / "out", kinds=KINDS, gap_encoder=None,
                          baseline=[tmp_path / "base" / "calls.parquet"])
    agg.add_many(today)
    summary = agg.finish()
    with (tmp_path / "out" / "hotspots.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["region"] == "杭州市滨江区" and rows[0]["count"] == "6" and rows[0]["baseline_days"] == "1"
    assert float(rows[0]["score"]) > 1 and summary["hotspots"]["baseline_records"] == 2
    gaps = [json.loads(line) for line in (tmp_path / "out" / "gaps.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(gaps) == 1 and gaps[0]["count"] == 6 and gaps[0]["category"] == "data.slow"
    assert summary["gaps"] == {"questions": 6, "drafts": 1}
    assert [r["call_id"] for r in read_records(tmp_path / "out" / "calls.jsonl")] == [f"t{i}" for i in range(6)]


def test_no_records_still_writes_every_output(tmp_path, settings):
    summary = BatchAggregator(settings, tmp_path / "out", kinds=KINDS, gap_encoder=None).finish()
    assert summary["n_calls"] == 0 and summary["incidents"] == 0
    assert pq.read_table(tmp_path / "out" / "calls.parquet").num_rows == 0
    assert (tmp_path / "out" / "calls.jsonl").read_text(encoding="utf-8") == ""


def test_the_outputs_do_not_depend_on_the_order_records_arrive_in(tmp_path, settings):
    import random

    records = [_rec(f"c{i}", i // 3, phone=f"1380000{i % 4:04d}", label=("coverage.outage", "voice.cannot_call",
                                                                            "billing.invoice")[i % 3]) for i in range(30)]
    shuffled = records[:]
    random.Random(1).shuffle(shuffled)
    for name, recs in (("a", records), ("b", shuffled)):
        agg = BatchAggregator(settings, tmp_path / name, kinds=KINDS, gap_encoder=None)
        agg.add_many(recs)
        agg.finish()
    for f in ("calls.jsonl", "incidents.jsonl", "hotspots.csv", "qa.json", "gaps.jsonl"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    calls = [json.loads(line) for line in (tmp_path / "a" / "calls.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sum(c["repeat_of"] is not None for c in calls) > 0  # ties in start time, decided the same way
