"""hotline.training.build: corpus split, atomic link switching, and a real (small) default build."""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from hotline.core.settings import Settings
from hotline.training.build import build_default, is_built, split_corpus, switch_link


def _records(per_label: int = 20) -> list[dict]:
    return [{"text": f"{lab} {i}", "label": lab} for lab in ("a", "b", "c") for i in range(per_label)]


def test_split_is_per_label_deterministic_and_disjoint():
    recs = _records()
    train, held = split_corpus(recs, holdout=0.1, seed=7)
    assert Counter(r["label"] for r in held) == {"a": 2, "b": 2, "c": 2}
    assert len(train) + len(held) == len(recs)
    assert not {r["text"] for r in train} & {r["text"] for r in held}
    assert (train, held) == split_corpus(recs, holdout=0.1, seed=7)
    assert split_corpus(recs, holdout=0.1, seed=8)[1] != held


def test_switch_link_points_and_replaces_atomically(tmp_path):
    a, b = tmp_path / "builds" / "1" / "classifier", tmp_path / "builds" / "2" / "classifier"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    (a / "meta.json").write_text("1")
    (b / "meta.json").write_text("2")
    link = tmp_path / "classifier"
    switch_link(link, a)
    assert link.is_symlink() and (link / "meta.json").read_text() == "1"
    assert not os.path.isabs(os.readlink(link))  # relative: HOTLINE_HOME can move
    switch_link(link, b)
    assert (link / "meta.json").read_text() == "2"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary link left


def test_switch_link_refuses_a_real_folder(tmp_path):
    real = tmp_path / "classifier"
    real.mkdir()
    with pytest.raises(FileExistsError, match="real folder"):
        switch_link(real, tmp_path)


def test_is_built_needs_both_artefacts(tmp_path):
    s = Settings(home=tmp_path)
    assert not is_built(s)
    s.classifier_dir.mkdir()
    (s.classifier_dir / "meta.json").write_text("{}")
    assert not is_built(s)
    s.index_dir.mkdir()
    (s.index_dir / "meta.json").write_text("{}")
    assert is_built(s)


@pytest.mark.slow
def test_build_default_twice_keeps_the_first_build_and_switches(tmp_path):
    s = Settings(home=tmp_path)
    first = build_default(s, per_code=10, seed=3, call_per_code=4)
    assert is_built(s)
    b1 = (s.home / "classifier").resolve().parent
    assert str(b1) == first["build"]
    summary = json.loads((b1 / "build.json").read_text(encoding="utf-8"))
    assert summary["corpus"]["train"] + summary["corpus"]["heldout"] == 42 * 10
    assert set(summary["classifier"]["metrics"]) == {"heldout_generated", "handwritten", "work_orders"}
    assert summary["classifier"]["metrics"]["handwritten"]["accuracy"] > 0.5  # 10 per code is little, not nothing
    assert (b1 / "classifier" / "no_answer_model.json").is_file() and (b1 / "index" / "meta.json").is_file()
    # the retrieval adapter is fitted with the no-answer model, which names it, and the index scores through it
    na = json.loads((b1 / "classifier" / "no_answer_model.json").read_text(encoding="utf-8"))
    index_meta = json.loads((b1 / "index" / "meta.json").read_text(encoding="utf-8"))
    assert (b1 / "classifier" / "adapter" / "adapter.npz").is_file() and (b1 / "index" / "adapter" / "adapter.npz").is_file()
    assert na["info"]["adapter"]["identity"] == index_meta["adapter"]["identity"]
    assert index_meta["no_answer"]["source"] == "shipped"
    assert len(na["info"]["view_adapters"]) == 6 and len(set(na["info"]["view_adapters"])) == 2
    # the handling specs travel with the build; the index holds the store's live knowledge-base release
    assert (b1 / "index" / "specs.jsonl").is_file()
    assert summary["index"]["kb"] == "knowledge base release 1" and summary["index"]["specs"] > 0
    assert summary["source"] == "build" and summary["parent"] is None

    second = build_default(s, per_code=10, seed=4, call_per_code=4)
    b2 = (s.home / "index").resolve().parent
    assert str(b2) == second["build"] and b2 != b1
    assert (s.home / "classifier").resolve().parent == b2
    assert (b1 / "classifier" / "meta.json").is_file()  # builds are immutable: the old one stays for rollback
    assert json.loads((b2 / "build.json").read_text(encoding="utf-8"))["parent"] == b1.name
