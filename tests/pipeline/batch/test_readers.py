"""Readers: JSONL, CSV and Parquet give the same calls; errors name file and line; reading is streamed."""

from __future__ import annotations

import csv
import json
import tracemalloc
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hotline.core.errors import InvalidInputError
from hotline.pipeline.batch.readers import CallReader, read_store, validate_call

CST = timezone(timedelta(hours=8))
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=CST)


def _calls(n: int = 3) -> list[dict]:
    out = []
    for i in range(n):
        out.append({"call_id": f"c{i:03d}", "region": "杭州市西湖区", "started_at": (T0 + timedelta(minutes=i)).isoformat(),
                    "agent_id": f"A{i % 2}", "team": "T1", "customer": {"phone": "13812345678", "vip": True} if i == 1 else {},
                    "turns": [{"speaker": "agent", "text": "您好，工号1086，请问有什么可以帮您？"},
                              {"speaker": "customer", "text": f"我家宽带连不上了，第{i}次了"}]})
    return out


def _jsonl(path, calls):
    path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in calls), encoding="utf-8")
    return path


def _csv(path, calls):
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["call_id", "region", "started_at", "agent_id", "team", "customer", "turns"])
        w.writeheader()
        for c in calls:
            w.writerow({**c, "customer": json.dumps(c["customer"], ensure_ascii=False) if c["customer"] else "",
                        "turns": json.dumps(c["turns"], ensure_ascii=False)})
    return path


def _parquet(path, calls, *, native_turns=False, row_group_size=None):
    rows = [{**c, "customer": json.dumps(c["customer"], ensure_ascii=False),
             "turns": c["turns"] if native_turns else json.dumps(c["turns"], ensure_ascii=False)} for c in calls]
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=row_group_size)
    return path


def test_jsonl_csv_and_parquet_give_the_same_calls(tmp_path):
    calls = _calls()
    got = [list(CallReader([p])) for p in (_jsonl(tmp_path / "c.jsonl", calls), _csv(tmp_path / "c.csv", calls),
                                           _parquet(tmp_path / "c.parquet", calls),
                                           _parquet(tmp_path / "n.parquet", calls, native_turns=True))]
    assert got[0] == got[1] == got[2] == got[3]
    first = got[0][1]
    assert first["started_at"] == T0 + timedelta(minutes=1) and first["started_at"].utcoffset() == timedelta(hours=8)
    assert first["customer"] == {"phone": "13812345678", "vip": "true"} and first["agent_id"] == "A1"
    assert first["turns"][1] == {"speaker": "customer", "text": "我家宽带连不上了，第1次了"}
    assert got[0][0]["customer"] == {} and got[0][0]["team"] == "T1"


def test_several_files_are_one_input_and_call_ids_must_be_unique_across_them(tmp_path):
    a = _jsonl(tmp_path / "a.jsonl", _calls(2))
    b = _csv(tmp_path / "b.csv", _calls(3)[2:])
    assert [c["call_id"] for c in CallReader([a, b])] == ["c000", "c001", "c002"]
    with pytest.raises(InvalidInputError, match=r"b\.csv:2: field 'call_id' = 'c000' was already read"):
        list(CallReader([a, _csv(tmp_path / "b.csv", _calls(1))]))


def test_errors_name_the_file_line_and_field_and_skip_counts_them(tmp_path):
    calls = _calls(4)
    calls[1]["turns"][0]["speaker"] = "robot"
    calls[2]["started_at"] = "2024-05-01 09:00"  # no offset
    path = _jsonl(tmp_path / "c.jsonl", calls)
    with path.open("a", encoding="utf-8") as f:
        f.write("{not json\n")
    with pytest.raises(InvalidInputError, match=r"c\.jsonl:2: field 'turns\[0\]\.speaker' must be 'agent' or 'customer', got 'robot'"):
        list(CallReader([path]))
    reader = CallReader([path], on_error="skip")
    assert [c["call_id"] for c in reader] == ["c000", "c003"]
    assert reader.n_read_ == 5 and reader.n_skipped_ == 3
    assert "c.jsonl:3: field started_at must carry a UTC offset" in reader.errors_[1]
    assert reader.errors_[2].startswith(f"{path}:5: not valid JSON")


def test_csv_and_parquet_errors_name_line_and_row(tmp_path):
    calls = _calls(3)
    calls[2]["turns"] = "[{\"speaker\": \"customer\"}]"  # JSON text without the text
    with pytest.raises(InvalidInputError, match=r"c\.csv:4: field 'turns'"):
        list(CallReader([_csv(tmp_path / "c.csv", calls)]))
    rows = [{**c, "customer": "", "turns": c["turns"] if isinstance(c["turns"], str) else json.dumps(c["turns"])}
            for c in calls]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "c.parquet")
    with pytest.raises(InvalidInputError, match=r"c\.parquet:row 3: field 'turns\[0\]\.text' must be a non-empty string"):
        list(CallReader([tmp_path / "c.parquet"]))
    pq.write_table(pa.table({"call_id": ["x"], "turns": ["[]"]}), tmp_path / "bad.parquet")
    with pytest.raises(InvalidInputError, match=r"lacks the column\(s\) \['started_at'\]"):
        list(CallReader([tmp_path / "bad.parquet"]))


def test_unknown_kind_missing_file_and_bad_policy_are_refused_before_reading(tmp_path):
    (tmp_path / "c.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"unknown kind '\.txt'; use one of"):
        CallReader([tmp_path / "c.txt"]).check()
    with pytest.raises(InvalidInputError, match="does not exist"):
        CallReader([tmp_path / "nope.jsonl"]).check()
    with pytest.raises(InvalidInputError, match=r"on_error must be one of \['fail', 'skip'\], got 'ignore'"):
        CallReader([], on_error="ignore")
    with pytest.raises(InvalidInputError, match="no calls to read"):
        CallReader([]).check()


def test_validate_call_limits():
    base = _calls(1)[0]
    with pytest.raises(InvalidInputError, match=r"w: field 'turns' has 3 turns, the limit is 2"):
        validate_call({**base, "turns": base["turns"] + base["turns"][:1]}, "w", max_turns=2)
    with pytest.raises(InvalidInputError, match=r"is 30 characters, the limit is 10"):
        validate_call({**base, "turns": [{"speaker": "customer", "text": "宽" * 30}]}, "w", max_chars=10)
    with pytest.raises(InvalidInputError, match=r"field 'customer\['vip'\]' must be a string"):
        validate_call({**base, "customer": {"vip": ["a"]}}, "w")
    with pytest.raises(InvalidInputError, match=r"field 'region' must be a string of at most 64"):
        validate_call({**base, "region": "区" * 65}, "w")
    assert validate_call({**base, "region": None, "agent_id": 1017}, "w")["agent_id"] == "1017"


def test_jsonl_is_read_line_by_line(tmp_path):
    """A 20 MB file: the first call comes before the rest is read, and memory does not grow with the file."""
    path = tmp_path / "big.jsonl"
    call = _calls(1)[0]
    with path.open("w", encoding="utf-8") as f:
        for i in range(40_000):
            f.write(json.dumps({**call, "call_id": f"c{i}"}, ensure_ascii=False) + "\n")
        f.write("{broken\n")  # only reached at the very end
    assert path.stat().st_size > 10_000_000
    tracemalloc.start()
    try:
        it = iter(CallReader([path]))
        first = next(it)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert first["call_id"] == "c0"
    assert peak < 2_000_000  # a few lines, not the file


def test_parquet_is_read_in_row_batches(tmp_path):
    calls = [{**_calls(1)[0], "call_id": f"c{i}"} for i in range(20_000)]
    path = _parquet(tmp_path / "big.parquet", calls, row_group_size=1000)
    base = pa.total_allocated_bytes()
    it = iter(CallReader([path], batch_rows=200))
    assert next(it)["call_id"] == "c0"
    in_use = pa.total_allocated_bytes() - base
    whole = pq.read_table(path)
    assert in_use < whole.nbytes / 10  # one batch in Arrow memory, not the table
    assert sum(1 for _ in it) == 19_999


def test_store_pages_through_ended_calls_in_order(tmp_path):
    from hotline.store.calls import CallRepo
    from hotline.store.db import open_database

    db = open_database(f"sqlite:///{tmp_path / 's.sqlite3'}")
    repo = CallRepo(db)
    ended = T0 + timedelta(hours=1)
    for i in range(7):  # four end at the same instant: paging must get past a full page of ties
        turns = [{"idx": 0, "speaker": "customer", "text": f"宽带断了{i}", "ts": T0.isoformat()}]
        repo.end(f"s{i}", owner="key_1", region="杭州市", started_at=T0 + timedelta(minutes=i),
                 ended_at=ended if i < 4 else ended + timedelta(minutes=i), label=None,
                 record={"status": "ended", "customer": {"phone": "138****5678"}, "state": {"turns": turns}})
    got = list(read_store(repo, page=2))
    assert [w for w, _ in got] == [f"store:s{i}" for i in range(7)]
    calls = list(CallReader(store=repo))
    assert calls[0]["turns"] == [{"speaker": "customer", "text": "宽带断了0"}] and calls[0]["agent_id"] == "key_1"
    assert calls[0]["started_at"] == T0
    since = [c["call_id"] for c in CallReader(store=repo, since=ended + timedelta(minutes=5))]
    assert since == ["s5", "s6"]
    db.dispose()


def test_a_stored_callers_hash_passes_through_and_a_bad_one_is_refused(tmp_path):
    from hotline.store.calls import CallRepo
    from hotline.store.db import open_database

    db = open_database(f"sqlite:///{tmp_path / 's.sqlite3'}")
    repo = CallRepo(db)
    turns = [{"idx": 0, "speaker": "customer", "text": "宽带断了", "ts": T0.isoformat()}]
    repo.end("s1", owner="key_1", region="杭州市", started_at=T0, ended_at=T0 + timedelta(minutes=3), label=None,
             record={"status": "ended", "caller": "0123456789abcdef" * 2, "state": {"turns": turns}})
    assert next(iter(CallReader(store=repo)))["caller"] == "0123456789abcdef" * 2
    db.dispose()
    with pytest.raises(InvalidInputError, match="32-hex keyed hash"):
        validate_call({**_calls(1)[0], "caller": "13812345678"}, "x.jsonl:1")
