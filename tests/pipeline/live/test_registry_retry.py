"""CallManager under failure and retry: a failed start leaves no call behind, a failed turn leaves no half-added
turn, and an ``utterance_id`` makes a retried turn safe (the state back, nothing added twice)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hotline.core.errors import ConflictError, InvalidInputError, NotFoundError
from hotline.core.results import CallState

TURN = "我家宽带三千年前就开始断网了，光猫亮红灯"


def test_start_call_that_fails_leaves_no_call(mgr, monkeypatch):
    def broken(call, **kw):
        raise RuntimeError("snapshot failed")

    monkeypatch.setattr(mgr, "_snapshot", broken)
    with pytest.raises(RuntimeError):
        mgr.start_call("c1", region="杭州市")
    monkeypatch.undo()
    assert len(mgr) == 0
    with pytest.raises(NotFoundError):
        mgr.get("c1")
    assert mgr.start_call("c1", region="杭州市").call_id == "c1"  # the id is free, not "already live"


def test_turn_that_fails_in_slot_extraction_is_not_half_added(mgr, fake_pipeline, monkeypatch):
    mgr.start_call("c1", region="杭州市")

    class Broken:
        def extract(self, *a, **kw):
            raise RuntimeError("extractor failed")

    monkeypatch.setattr(mgr, "_slot_extractor", lambda pipe: Broken())
    with pytest.raises(RuntimeError):
        mgr.add_utterance("c1", "customer", TURN, utterance_id="u1")
    monkeypatch.undo()
    state = mgr.get("c1")
    assert state.turns == [] and state.turn_count == 0
    # the id was not taken by the failed attempt: the retry adds the turn once
    assert mgr.add_utterance("c1", "customer", TURN, utterance_id="u1").turn_count == 1


def test_retry_with_the_same_utterance_id_adds_nothing(mgr):
    mgr.start_call("c1", region="杭州市西湖区")
    first = mgr.add_utterance("c1", "customer", TURN, utterance_id="c1:0")
    again = mgr.add_utterance("c1", "customer", TURN, utterance_id="c1:0")
    assert isinstance(again, CallState)
    assert again.turn_count == first.turn_count == 1 and again.turns == first.turns
    assert again.category == first.category
    assert mgr.add_utterance("c1", "agent", "好的", utterance_id="c1:1").turn_count == 2
    assert mgr.add_utterance("c1", "customer", TURN).turn_count == 3  # no id: every POST is a new turn


def test_an_id_reused_for_another_turn_is_409_naming_it(mgr):
    mgr.start_call("c1", region="杭州市")
    mgr.add_utterance("c1", "customer", TURN, utterance_id="u1")
    with pytest.raises(ConflictError, match=r"utterance_id 'u1' was already used for turn 0"):
        mgr.add_utterance("c1", "customer", "话费不对", utterance_id="u1")
    with pytest.raises(ConflictError, match="u1"):
        mgr.add_utterance("c1", "agent", TURN, utterance_id="u1")
    assert mgr.get("c1").turn_count == 1


def test_retry_after_the_call_ended_gets_the_final_state(mgr):
    mgr.start_call("c1", region="杭州市")
    mgr.add_utterance("c1", "customer", TURN, utterance_id="u1")
    mgr.end_call("c1")
    assert mgr.add_utterance("c1", "customer", TURN, utterance_id="u1").status == "ended"
    with pytest.raises(ConflictError, match="has ended"):
        mgr.add_utterance("c1", "customer", TURN, utterance_id="u2")


def test_ids_are_remembered_for_the_kept_turns_only(make_manager, fake_pipeline):
    mgr = make_manager(fake_pipeline, max_turns_per_call=3)
    mgr.start_call("c1", region="杭州市")
    for i in range(5):
        mgr.add_utterance("c1", "agent", f"好的{i}", utterance_id=f"u{i}")
    assert mgr.add_utterance("c1", "agent", "好的4", utterance_id="u4").turn_count == 5  # still known
    assert mgr.add_utterance("c1", "agent", "好的0", utterance_id="u0").turn_count == 6  # forgotten: a new turn


@pytest.mark.parametrize("bad", ["", "中文", "x" * 65, "a b", 7])
def test_bad_utterance_id_is_refused_naming_it(mgr, bad):
    mgr.start_call("c1", region="杭州市")
    with pytest.raises(InvalidInputError, match="utterance_id must be"):
        mgr.add_utterance("c1", "customer", TURN, utterance_id=bad)


@pytest.mark.parametrize("started", [datetime(1, 1, 1, tzinfo=timezone.utc),
                                     datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-12)))])
def test_calls_at_the_calendar_ends_take_turns_with_times_in_them(mgr, started):
    mgr.start_call("c1", region="杭州市", started_at=started)
    for text in ("昨天晚上八点开始宽带断了", "明天夜里两点师傅上门", TURN, "上个月扣了我三十八块"):
        assert mgr.add_utterance("c1", "customer", text).status == "active"
    assert mgr.get("c1").turn_count == 4
