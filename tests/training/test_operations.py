"""hotline.training.operations and `hotline feedback export`: which operations data becomes training records."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from hotline.cli import main
from hotline.core.errors import InvalidInputError
from hotline.core.mask import masked_text
from hotline.core.settings import Settings
from hotline.pipeline.live.feedback import FeedbackStore
from hotline.store.calls import CallRepo
from hotline.store.db import open_database
from hotline.training.operations import (
    CONFIRMATION_WEIGHT,
    CORRECTION_WEIGHT,
    USER_WEIGHT,
    OperationsReader,
    merge_records,
    read_user_records,
)

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


def _end_call(repo: CallRepo, call_id: str, turns: list[tuple[str, str]], *, label: str, evidence: list[int]):
    """An ended call as the live engine files it: the masked transcript inside the final state."""
    state = {"turns": [{"idx": i, "speaker": sp, "text": text} for i, (sp, text) in enumerate(turns)],
             "category": {"label": label, "evidence": evidence}}
    repo.end(call_id, owner=None, region="杭州市", started_at=T0, ended_at=T0 + timedelta(minutes=3), label=label,
             record={"status": "ended", "summary": "", "ticket": {}, "customer": {}, "state": state})


@pytest.fixture()
def store(tmp_path):
    settings = Settings(home=tmp_path)
    db = open_database(settings.store_url)
    repo, fb = CallRepo(db), FeedbackStore(db)
    # an ended call the agent corrected twice (the latest verdict wins): evidence turns 0 and 2
    _end_call(repo, "c1", [("customer", "家里宽带特别慢，看个视频一直转圈"), ("agent", "您好请问您的电话是？"),
                           ("customer", "网速只有几十K，电话13812345678")], label="broadband.cannot_connect",
              evidence=[0, 2])
    fb.add(kind="category_right", call_id="c1", target="broadband.cannot_connect")
    fb.add(kind="category_wrong", call_id="c1", target="broadband.cannot_connect", correct_label="broadband.slow")
    fb.add(kind="suggestion_used", call_id="c1", target="kb-017")
    # an ended call nobody judged: its label is the model's own, never a training label
    _end_call(repo, "c2", [("customer", "这个月话费多扣了五十块")], label="billing.unexpected_charge", evidence=[0])
    # an utterance verdict with its own text (no call), and a confirmation on a call that is not in the store
    fb.add(kind="category_wrong", target="data.slow", correct_label="data.cannot_connect", text="手机有信号但是上不了网")
    fb.add(kind="category_right", call_id="live-1", target="billing.unexpected_charge", text="话费被多扣了")
    fb.add(kind="category_wrong", call_id="gone", target="data.slow", correct_label="data.slow")  # no text anywhere
    yield settings, db
    db.dispose()


def test_verdicts_become_records_and_unjudged_calls_do_not(store):
    _, db = store
    records, counts = OperationsReader(db).read()
    classify = [r for r in records if r["task"] == "classify"]
    by_text = {r["text"]: r for r in classify}
    call = by_text[masked_text("家里宽带特别慢，看个视频一直转圈，网速只有几十K，电话13812345678")]  # evidence turns
    assert call["label"] == "broadband.slow" and call["source"] == "ended_call" and call["weight"] == CORRECTION_WEIGHT
    utt = by_text["手机有信号但是上不了网"]
    assert utt["label"] == "data.cannot_connect" and utt["source"] == "feedback"
    conf = by_text["话费被多扣了"]
    assert conf["label"] == "billing.unexpected_charge" and conf["weight"] == CONFIRMATION_WEIGHT
    assert not any("五十块" in r["text"] for r in records)  # c2: no verdict
    assert counts["ended_call"] == 1 and counts["feedback"] == 2 and counts["retrieval"] == 1
    assert counts["skipped"] == {"ended_unverified": 1, "no_text": 1, "superseded": 1}
    for r in records:
        assert set(r) >= {"text", "label", "source", "created_at", "weight", "task"}
        assert datetime.fromisoformat(r["created_at"]).tzinfo is not None
        assert "13812345678" not in r["text"]
    (sugg,) = [r for r in records if r["task"] == "retrieval"]
    assert sugg["label"] == "kb-017" and sugg["helpful"] is True and sugg["source"] == "ended_call"
    assert all(r["task"] == "classify" for r in merge_records(records))  # retraining leaves retrieval records out


def test_since_keeps_only_later_feedback(store):
    _, db = store
    records, counts = OperationsReader(db).read(since=datetime.now(timezone.utc) + timedelta(minutes=1))
    assert records == [] and counts["feedback"] == 0
    with pytest.raises(InvalidInputError, match="UTC offset"):
        OperationsReader(db).read(since=datetime(2026, 1, 1))


def test_user_records_are_validated_with_line_and_field(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"text": "宽带连不上了，电话１３８１２３４５６７８", "label": "broadband.cannot_connect"},
        {"text": "流量用得太快了", "label": "billing.data_overage", "weight": 5, "created_at": "2026-11-01T10:00:00+08:00"},
        {"text": "这个回答有用", "label": "kb-001", "task": "retrieval"},
        {"text": "手机上不了网", "label": "data.cannot_connect", "source": "feedback", "weight": 3},
    ]) + "\n", encoding="utf-8")
    records, counts = read_user_records(good)
    assert [r["source"] for r in records] == ["user", "user", "feedback"]
    assert records[0]["text"] == masked_text("宽带连不上了，电话13812345678") and records[0]["weight"] == USER_WEIGHT
    assert records[0]["created_at"] is None and records[1]["weight"] == 5
    assert counts["user"] == 2 and counts["feedback"] == 1 and counts["retrieval"] == 1

    cases = [
        ({"text": "宽带断了", "label": "broadband.nope"}, "field 'label'"),
        ({"label": "data.slow"}, "field 'text'"),
        ({"text": "宽带断了", "label": "broadband.cannot_connect", "weight": 0}, "field 'weight'"),
        ({"text": "宽带断了", "label": "broadband.cannot_connect", "weight": 2.5}, "field 'weight'"),
        ({"text": "宽带断了", "label": "broadband.cannot_connect", "created_at": "yesterday"}, "field 'created_at'"),
        ({"text": "宽带断了", "label": "broadband.cannot_connect", "source": "model"}, "field 'source'"),
        ({"text": "宽" * 2001, "label": "broadband.cannot_connect"}, "field 'text' has 2001 characters"),
    ]
    for row, needle in cases:
        bad = tmp_path / "bad.jsonl"
        ok = json.dumps({"text": "网很慢", "label": "broadband.slow"}, ensure_ascii=False)
        bad.write_text(ok + "\n\n" + json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
        with pytest.raises(InvalidInputError) as err:
            read_user_records(bad)
        assert f"{bad}:3: {needle}" in str(err.value), str(err.value)
    empty = tmp_path / "empty.jsonl"
    empty.write_text(json.dumps({"text": "有用", "label": "kb-1", "task": "retrieval"}) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="no classification records"):
        read_user_records(empty)


def test_merge_keeps_one_copy_with_the_largest_weight():
    a = {"text": "网很慢", "label": "broadband.slow", "source": "user", "created_at": None, "weight": 2, "task": "classify"}
    merged = merge_records([a], [{**a, "weight": 3, "source": "feedback"}], [{**a, "label": "data.slow"}])
    assert [(r["label"], r["weight"], r["source"]) for r in merged] == [("broadband.slow", 3, "user"),
                                                                        ("data.slow", 2, "user")]


def test_feedback_export_cli_writes_jsonl_and_counts(store, tmp_path, capsys):
    settings, _ = store
    out = tmp_path / "ops.jsonl"
    assert main(["--home", str(settings.home), "feedback", "export", "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["n"] == 4 and summary["ended_call"] == 1 and summary["feedback"] == 2
    assert summary["skipped"]["ended_unverified"] == 1
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 4
    # the export is valid retrain input: its retrieval lines are skipped, the rest keep their source
    records, counts = read_user_records(out)
    assert counts["ended_call"] == 1 and counts["feedback"] == 2 and counts["retrieval"] == 1

    assert main(["--home", str(settings.home), "feedback", "export"]) == 0  # records on stdout, counts last
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5 and json.loads(lines[-1])["out"] is None
    assert main(["--home", str(settings.home), "feedback", "export", "--since", "2026-01-01"]) == 2
    assert "UTC offset" in capsys.readouterr().err
