"""Feedback store: SQLite persistence across reopen, masking, validation, export for training."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from hotline.core.errors import InvalidInputError
from hotline.core.results import Feedback, FeedbackKind
from hotline.pipeline.live.feedback import FeedbackStore


def test_rows_survive_a_reopen_and_text_is_masked(tmp_path):
    path = tmp_path / "fb.sqlite3"
    store = FeedbackStore(path)
    row = store.add(kind="category_wrong", call_id="c1", target="data.slow", correct_label="data.cannot_connect",
                    text="我手机号13812345678，流量开着上不了网")
    assert isinstance(row, Feedback) and row.kind is FeedbackKind.CATEGORY_WRONG
    assert row.id == 1 and "13812345678" not in row.text and "138****5678" in row.text
    store.add(kind="suggestion_used", call_id="c1", target="kb-001")
    store.close()

    reopened = FeedbackStore(path)
    rows = reopened.list()
    assert [r.kind for r in rows] == ["suggestion_used", "category_wrong"]  # newest first
    assert reopened.list(kind="category_wrong")[0].correct_label == "data.cannot_connect"
    assert reopened.count() == 2
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert "13812345678" not in json.dumps(conn.execute("SELECT * FROM feedback").fetchall(), ensure_ascii=False)
    reopened.close()


def test_export_writes_training_rows(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    store.add(kind="category_wrong", target="data.slow", correct_label="data.cannot_connect", text="流量开着上不了网")
    store.add(kind="category_right", target="broadband.slow", text="宽带网速特别慢")
    store.add(kind="category_right", target="broadband.slow")  # no text: skipped
    store.add(kind="suggestion_unhelpful", target="kb-002", text="没用")
    n = store.export_jsonl(tmp_path / "out" / "corrections.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "out" / "corrections.jsonl").read_text(encoding="utf-8").splitlines()]
    assert n == 2
    assert rows == [{"text": "流量开着上不了网", "label": "data.cannot_connect"},
                    {"text": "宽带网速特别慢", "label": "broadband.slow"}]


@pytest.mark.parametrize("kwargs, field", [
    ({"kind": "liked"}, "kind"),
    ({"kind": "category_wrong"}, "correct_label"),
    ({"kind": "category_wrong", "correct_label": "data.nope"}, "correct_label"),
    ({"kind": "suggestion_used", "note": "x" * 2000}, "note"),
])
def test_validation(tmp_path, kwargs, field):
    with pytest.raises(InvalidInputError, match=field):
        FeedbackStore(tmp_path / "fb.sqlite3").add(**kwargs)


def test_concurrent_writers(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")

    def work(k: int) -> None:
        for i in range(20):
            store.add(kind="suggestion_used", call_id=f"c{k}", target=f"kb-{i}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 160


def test_note_is_masked_like_text(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    row = store.add(kind="suggestion_unhelpful", target="kb-002", text="回电+86 138 1234 5678",
                    note="客户说座机0755-88889999，身份证11010119900307123X，卡号6222 0212 3456 7890")
    assert row.text == "回电+86 138****5678"
    assert row.note == "客户说座机0755****9999,身份证110***********123X,卡号6222********7890"
    assert store.list()[0].note == row.note
    with sqlite3.connect(tmp_path / "fb.sqlite3") as conn:
        stored = json.dumps(conn.execute("SELECT text, note FROM feedback").fetchall(), ensure_ascii=False)
    for raw in ("12345678", "88889999", "11010119900307123X", "6222 0212"):
        assert raw not in stored
    store.close()


def test_rows_stored_raw_come_back_masked(tmp_path):
    # A database written before masking covered every form: reads and exports mask it after the fact.
    path = tmp_path / "fb.sqlite3"
    store = FeedbackStore(path)
    store.add(kind="category_right", target="broadband.slow", text="宽带慢")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE feedback SET text = ?, note = ?", ("宽带慢,电话138。1234。5678", "回拨壹叁捌壹贰叁肆伍陆柒捌"))
    row = store.list()[0]
    assert (row.text, row.note) == ("宽带慢,电话138****5678", "回拨138****5678")
    assert store.export_jsonl(tmp_path / "out.jsonl") == 1
    assert json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8")) == {
        "text": "宽带慢,电话138****5678", "label": "broadband.slow"}
    store.close()
