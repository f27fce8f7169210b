"""Hot spots: a synthetic spike in one place and hour ranks first against the earlier days' baseline."""

from __future__ import annotations

import csv
import json
import random

from hotline.pipeline.batch.aggregate import read_records
from hotline.pipeline.batch.hotspots import HOTSPOT_COLUMNS, HotspotCounter

_PLACES = ["杭州市西湖区", "杭州市滨江区", "南京市江宁区", "宁波市海曙区"]
_LABELS = [("broadband.cannot_connect", "broadband"), ("data.slow", "data"), ("billing.unexpected_charge", "billing")]


def _record(day: int, hour: int, place: str, label: str, service: str, sub: str | None = None) -> dict:
    return {"is_complaint": True, "label": label, "service": service, "region": place, "sub_area": sub,
            "date": f"2024-05-{day:02d}", "hour": hour}


def _background(rng: random.Random, days: range) -> list[dict]:
    """Every place, hour 8-20, each label: 0-3 calls a cell a day."""
    out = []
    for day in days:
        for place in _PLACES:
            for hour in range(8, 21):
                for label, service in _LABELS:
                    out.extend(_record(day, hour, place, label, service) for _ in range(rng.randint(0, 3)))
    return out


def test_a_spike_in_one_place_and_hour_ranks_first():
    rng = random.Random(3)
    counter = HotspotCounter(min_count=3)
    for r in _background(rng, range(1, 8)):  # a week of baseline, then the target day
        counter.add(r)
    for r in _background(rng, range(8, 9)):
        counter.add(r)
    for _ in range(14):  # today 19:00 in Jiangning: a broadband outage around one estate
        counter.add(_record(8, 19, "江苏省南京市江宁区", "broadband.cannot_connect", "broadband", sub="翠屏城"))
    rows = counter.rank()
    top = rows[0]
    assert counter.target_day == "2024-05-08"
    assert (top["code"], top["region"], top["hour"]) == ("broadband.cannot_connect", "南京市江宁区", 19)
    assert top["count"] >= 14 and top["baseline_days"] == 7 and top["baseline_mean"] <= 3
    assert top["score"] > 5 and top["z"] > 5
    # the sub-area cell is listed too, and the background cells are far below
    sub = next(r for r in rows if r["granularity"] == "sub_area")
    assert (sub["sub_area"], sub["count"]) == ("翠屏城", 14) and sub["rank"] <= 4
    background = [r for r in rows if not (r["region"] == "南京市江宁区" and r["hour"] == 19)]
    assert max(r["score"] for r in background) < top["score"] / 3
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))


def test_a_baseline_file_is_the_baseline_when_the_input_is_one_day(tmp_path):
    rng = random.Random(5)
    path = tmp_path / "calls.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _background(rng, range(1, 6))),
                    encoding="utf-8")
    today = [_record(9, 10, "杭州市滨江区", "data.slow", "data") for _ in range(9)]
    alone = HotspotCounter()
    for r in today:
        alone.add(r)
    no_base = alone.rank()
    assert no_base[0]["score"] is None and no_base[0]["baseline_days"] == 0  # nothing to compare with: counts only
    counter = HotspotCounter()
    assert counter.add_baseline(read_records(path)) > 100
    for r in today:
        counter.add(r)
    rows = counter.rank()
    assert rows[0]["baseline_days"] == 5 and rows[0]["score"] > 3 and rows[0]["region"] == "杭州市滨江区"
    out = counter.write_csv(tmp_path / "hotspots.csv", rows)
    with out.open(encoding="utf-8-sig") as f:
        read = list(csv.DictReader(f))
    from hotline.core.taxonomy import default_taxonomy

    names = {(r["level"], r["name"]) for r in read if r["code"] in ("data", "data.slow")}
    assert tuple(read[0]) == HOTSPOT_COLUMNS and int(read[0]["count"]) == 9
    assert names == {("leaf", default_taxonomy()["data.slow"].phenomenon), ("service", default_taxonomy().service_name("data"))}


def test_non_complaints_and_unlabelled_calls_do_not_count():
    counter = HotspotCounter(min_count=1)
    counter.add({**_record(1, 9, "杭州市", "inquiry.billing_info", "inquiry"), "is_complaint": False})
    counter.add({**_record(1, 9, "杭州市", "data.slow", "data"), "label": None})
    assert counter.rank() == []
