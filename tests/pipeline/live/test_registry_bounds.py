"""Bounded live-call state: recent turns per utterance, the whole transcript on request, listeners per call."""

from __future__ import annotations

import pytest

from hotline.core.errors import ConflictError
from hotline.pipeline.live.registry import ListenerLimitError


def _talk(mgr, call_id: str, n: int):
    state = None
    for i in range(n):
        state = mgr.add_utterance(call_id, "agent" if i % 2 else "customer", f"第{i}句，我家宽带连不上了")
    return state


def test_each_utterance_returns_only_the_recent_turns_and_the_count(fake_pipeline, make_manager):
    mgr = make_manager(fake_pipeline, state_recent_turns=5)
    mgr.start_call("c1", region="杭州市")
    s = _talk(mgr, "c1", 30)
    assert [t.idx for t in s.turns] == [25, 26, 27, 28, 29] and s.turn_count == 30
    assert s.category is not None  # the rest of the state is whole: only the transcript is cut
    assert [t.idx for t in mgr.get("c1").turns] == [25, 26, 27, 28, 29]
    full = mgr.get("c1", full=True)
    assert [t.idx for t in full.turns] == list(range(30)) and full.turn_count == 30
    assert [t.idx for t in mgr.transcript("c1")] == list(range(30))


def test_a_state_does_not_grow_with_the_call(fake_pipeline, make_manager):
    mgr = make_manager(fake_pipeline, state_recent_turns=20, max_turns_per_call=500)
    mgr.start_call("long", region="杭州市")
    small = len(_talk(mgr, "long", 20).model_dump_json())
    big = len(_talk(mgr, "long", 280).model_dump_json())
    assert big < small * 1.5  # 300 turns said, the reply is about the size it was at 20
    assert len(mgr.transcript("long")) == 300


def test_streams_get_bounded_states_and_end_call_keeps_the_whole_call(fake_pipeline, make_manager, drain):
    mgr = make_manager(fake_pipeline, state_recent_turns=3)
    mgr.start_call("c1", region="杭州市")
    q = mgr.subscribe("c1")
    _talk(mgr, "c1", 8)
    pushed = [e["data"] for e in drain(q) if e and e["type"] == "state"]
    assert all(len(d["turns"]) <= 3 for d in pushed) and pushed[-1]["turn_count"] == 8
    end = mgr.end_call("c1")
    assert [t.idx for t in end.state.turns] == list(range(8))  # the summary and the final record read it all
    final = [e for e in drain(q) if e is not None]
    assert [t["idx"] for t in final[-1]["data"]["turns"]] == [5, 6, 7]


def test_the_transcript_keeps_at_most_max_turns_per_call(fake_pipeline, make_manager):
    mgr = make_manager(fake_pipeline, max_turns_per_call=10, state_recent_turns=4)
    mgr.start_call("c1", region="杭州市")
    s = _talk(mgr, "c1", 15)
    assert s.turn_count == 15 and [t.idx for t in mgr.transcript("c1")] == list(range(5, 15))


def test_listeners_per_call_are_capped(fake_pipeline, make_manager):
    mgr = make_manager(fake_pipeline, max_listeners_per_call=2)
    mgr.start_call("c1", region="杭州市")
    mgr.start_call("c2", region="杭州市")
    q1, _ = mgr.subscribe("c1"), mgr.subscribe("c1")
    with pytest.raises(ListenerLimitError, match=r"already has 2 open streams \(HOTLINE_MAX_LISTENERS_PER_CALL\)"):
        mgr.subscribe("c1")
    assert isinstance(ListenerLimitError("x"), ConflictError)
    mgr.subscribe("c2")  # the cap is per call
    mgr.unsubscribe("c1", q1)
    mgr.subscribe("c1")  # a freed place can be taken again
