"""The Ray engine: the same per-call records as the local engine, on a small local Ray (2 CPUs, 200 MB store)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from hotline.core.errors import InvalidInputError
from hotline.core.settings import Settings
from hotline.pipeline.batch.engine import analyze

pytest.importorskip("ray.data", reason="the Ray engine needs the [ray] extra: pip install -e '.[ray]'")

TIMING = {"seconds", "map_seconds", "calls_per_s", "outputs", "engine", "workers", "ray_address"}


def _records(path: Path) -> list[dict]:
    return sorted((json.loads(line) for line in path.open(encoding="utf-8")), key=lambda r: r["call_id"])


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(num_cpus=2, object_store_memory=200 * 2**20, include_dashboard=False, ignore_reinit_error=True,
             log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_gives_the_local_records(tiny_home, tmp_path, ray_local):
    src = tmp_path / "calls.jsonl"
    lines = [line for line in open("data/checks/calls_outages.jsonl", encoding="utf-8")][:10]
    bad = "{\"call_id\": \"bad-1\", \"region\": \"杭州市\", \"started_at\": \"2024-05-01T09:00:00\", \"turns\": []}\n"
    src.write_text("".join(lines[:5]) + bad + "".join(lines[5:]), encoding="utf-8")
    local = analyze([src], tmp_path / "local", tiny_home, workers=1, batch_calls=4, on_error="skip", gap_encoder=None,
                    progress=False)
    ray = analyze([src], tmp_path / "ray", tiny_home, engine="ray", workers=2, batch_calls=3, on_error="skip",
                  gap_encoder=None)
    assert ray["engine"] == "ray" and ray["workers"] == 2 and ray["n_calls"] == local["n_calls"] == 10
    assert ray["n_skipped"] == local["n_skipped"] == 1 and ray["skipped"] == local["skipped"]
    one, two = _records(tmp_path / "local" / "calls.jsonl"), _records(tmp_path / "ray" / "calls.jsonl")
    assert [r["call_id"] for r in one] == [r["call_id"] for r in two]
    for a, b in zip(one, two):
        assert a == b, a["call_id"]
    for name in ("incidents.jsonl", "hotspots.csv", "qa.json", "gaps.jsonl"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes(), name
    assert {k: v for k, v in local.items() if k not in TIMING} == {k: v for k, v in ray.items() if k not in TIMING}
    assert not (tmp_path / "ray" / ".ray").exists()  # the intermediate Parquet is cleaned up


@pytest.mark.slow
def test_ray_refuses_a_bad_record_and_a_repeated_id_as_local_does(tiny_home, tmp_path, ray_local):
    first = open("data/checks/calls_outages.jsonl", encoding="utf-8").readline()
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(first, encoding="utf-8")
    b.write_text(first, encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"b\.jsonl:1: field 'call_id' = .* was already read"):
        analyze([a, b], tmp_path / "out", tiny_home, engine="ray", workers=1, gap_encoder=None)
    with pytest.raises(InvalidInputError, match="does not exist"):
        analyze([tmp_path / "missing.jsonl"], tmp_path / "out", tiny_home, engine="ray", gap_encoder=None)


def test_ray_is_not_imported_by_serving_or_the_local_engine(tmp_path):
    import subprocess

    code = ("import sys, hotline.serve.app, hotline.pipeline.batch.engine, hotline.pipeline.batch.ray_engine; "
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_ray_rejects_the_store_input(tmp_path):
    with pytest.raises(InvalidInputError, match="--engine ray reads calls files only"):
        analyze([], tmp_path, Settings(), engine="ray", store=object())
    with pytest.raises(InvalidInputError, match="--ray-address needs --engine ray, got engine 'local'"):
        analyze([], tmp_path, Settings(), ray_address="ray://head:10001")


def test_ray_engine_without_ray_says_how_to_install(tmp_path, monkeypatch):
    import hotline.pipeline.batch.ray_engine as ray_engine

    src = tmp_path / "calls.jsonl"
    shutil.copy("data/checks/calls_outages.jsonl", src)
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    with pytest.raises(InvalidInputError, match=r"pip install 'hotline\[ray\]'"):
        ray_engine.analyze_ray([src], tmp_path / "out", Settings())


def test_ray_output_files_merge_back_into_input_order(tmp_path):
    import random

    import pyarrow as pa
    import pyarrow.parquet as pq

    from hotline.pipeline.batch.ray_engine import _in_input_order

    seqs = list(range(100))
    # files as Ray may write them: unsorted inside, one overlapping the next, one of a single row, one empty
    for k, chunk in enumerate([seqs[0:30], seqs[30:31], seqs[31:70] + [99], seqs[70:99], []]):
        chunk = chunk[:]
        random.Random(k).shuffle(chunk)
        pq.write_table(pa.table({"seq": pa.array(chunk, pa.int64()), "x": [str(v) for v in chunk]}),
                       tmp_path / f"part-{k}.parquet")
    rows = list(_in_input_order(tmp_path))
    assert [r["seq"] for r in rows] == seqs and rows[5]["x"] == "5"
