"""CallManager: lifecycle, typed results, customer-only category, escalation, bounds, expiry, pushes, threads.

Uses the keyword classifier of tests/pipeline/conftest.py (fast, deterministic) and the real slot and
escalation stages; the trained pipeline is exercised in tests/serve/test_live_api.py and test_replay.py.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from hotline.core.errors import ConflictError, InvalidInputError, NotFoundError
from hotline.core.results import CallBrief, CallState, EndCallResult, Incident, Notice, Speaker
from hotline.core.settings import Settings
from hotline.pipeline.live.events import to_event
from hotline.pipeline.live.incidents import IncidentDetector
from hotline.pipeline.live.notices import NoticeBoard
from hotline.pipeline.live.registry import CallCapacityError, CallManager

BROADBAND = "我家宽带连不上了，光猫亮红灯"


# -- lifecycle ------------------------------------------------------------------------------------
def test_start_get_conflict_and_unknown(mgr):
    state = mgr.start_call("c1", region="杭州市西湖区")
    assert isinstance(state, CallState)
    assert state.status == "active" and state.turns == [] and state.category is None
    assert state.ticket.fields == [] and state.escalation.escalate is False
    assert mgr.get("c1").call_id == "c1"
    with pytest.raises(ConflictError, match="c1"):
        mgr.start_call("c1", region="杭州市")
    with pytest.raises(NotFoundError, match="nope"):
        mgr.get("nope")
    with pytest.raises(NotFoundError):
        mgr.add_utterance("nope", "customer", "宽带断了")
    with pytest.raises(InvalidInputError, match="speaker"):
        mgr.add_utterance("c1", "robot", "宽带断了")
    with pytest.raises(InvalidInputError, match="call_id"):
        mgr.start_call("带中文的id", region="杭州市")
    with pytest.raises(InvalidInputError, match="region"):
        mgr.start_call("c2", region="杭" * 65)
    with pytest.raises(InvalidInputError, match="customer"):
        mgr.start_call("c2", region="杭州市", customer={"phone": "1" * 201})
    assert mgr.start_call(None, region="杭州市").call_id  # generated


def test_results_are_the_shared_models(mgr):
    mgr.start_call("c1", region="杭州市西湖区")
    s = mgr.add_utterance("c1", Speaker.CUSTOMER, "我家宽带从昨天晚上开始连不上了，光猫亮红灯")
    assert isinstance(s, CallState) and s.turns[0].speaker is Speaker.CUSTOMER
    assert s.category.label == "broadband.cannot_connect" and s.category.top[0].code == s.category.label
    (brief,) = mgr.list_calls()
    assert isinstance(brief, CallBrief) and brief.label == "broadband.cannot_connect" and brief.turns == 1
    end = mgr.end_call("c1")
    assert isinstance(end, EndCallResult) and end.state.status == "ended"
    assert end.ticket.dispatch_copy["call_id"] == "c1" and end.ticket.category == "broadband.cannot_connect"


def test_too_long_text_names_the_limit(make_manager, fake_pipeline):
    mgr = make_manager(fake_pipeline, max_text_chars=10)
    mgr.start_call("c1", region="杭州市")
    with pytest.raises(InvalidInputError, match="the limit is 10"):
        mgr.add_utterance("c1", "customer", "宽" * 11)
    with pytest.raises(InvalidInputError, match="non-empty"):
        mgr.add_utterance("c1", "customer", "  ")


def test_category_from_customer_turns_only(mgr, fake_pipeline):
    mgr.start_call("c1", region="杭州市西湖区")
    s = mgr.add_utterance("c1", "agent", "您好，请问是话费扣费的问题吗？")
    assert s.category is None and fake_pipeline.classifier.calls == 0
    s = mgr.add_utterance("c1", "customer", "不是，我家宽带连不上了，光猫一直亮红灯")
    cat = s.category
    assert cat.label == "broadband.cannot_connect" and cat.evidence == [1]
    assert cat.service_name == "家庭宽带" and cat.phenomenon == "宽带断网"
    assert cat.top[0].code == "broadband.cannot_connect" and cat.stable  # confident from the start
    assert s.spec["code"] == "broadband.cannot_connect" and s.checklist
    assert s.faqs[0].category == "broadband.cannot_connect"


def test_filler_turns_change_nothing(mgr, fake_pipeline):
    mgr.start_call("c1", region="杭州市")
    before = mgr.add_utterance("c1", "customer", BROADBAND)
    n_queries = len(fake_pipeline.retriever.queries)
    for filler in ["嗯", "对的", "好的好的", "嗯嗯，是的"]:
        after = mgr.add_utterance("c1", "customer", filler)
        assert after.category == before.category
    assert len(fake_pipeline.retriever.queries) == n_queries  # no new retrieval for fillers


def test_a_decisive_turn_switches_at_once(mgr):
    mgr.start_call("c1", region="杭州市")
    mgr.add_utterance("c1", "customer", "网速有点慢")
    s = mgr.add_utterance("c1", "customer", "哦不对，是话费被多扣了，扣费明细里好多扣了钱的项目，话费异常")
    assert s.category.label == "billing.unexpected_charge"


def test_escalation_is_sticky_and_names_the_turn(mgr):
    mgr.start_call("c1", region="杭州市")
    mgr.add_utterance("c1", "customer", "我家宽带连不上了")
    s = mgr.add_utterance("c1", "customer", "再不修好我就去工信部投诉你们")
    assert s.escalation.escalate and s.escalation.level == "high"
    assert s.escalation.reasons[0].turn == 1 and s.escalation.reasons[0].type == "regulator"
    s = mgr.add_utterance("c1", "customer", "好的谢谢")
    assert s.escalation.escalate and len(s.escalation.reasons) == 1
    s = mgr.add_utterance("c1", "agent", "您别去工信部，我们马上处理")  # agent turns are not screened
    assert len(s.escalation.reasons) == 1
    assert mgr.list_calls()[0].escalate


# -- bounds ----------------------------------------------------------------------------------------
def test_turns_are_bounded(fake_pipeline, make_manager):
    mgr = make_manager(fake_pipeline, max_turns_per_call=5)
    mgr.start_call("c1", region="杭州市")
    for i in range(12):
        s = mgr.add_utterance("c1", "agent" if i % 2 else "customer", f"第{i}句，宽带连不上")
    assert [t.idx for t in s.turns] == [7, 8, 9, 10, 11]


def test_idle_calls_expire(mgr, clock, drain):
    mgr.start_call("old", region="杭州市")
    clock.advance(500)
    mgr.start_call("new", region="杭州市")
    q = mgr.subscribe("old")
    clock.advance(200)
    assert mgr.expire() == ["old"]
    events = drain(q)
    assert events[-1] is None and events[-2]["data"]["status"] == "expired"
    with pytest.raises(NotFoundError):
        mgr.get("old")
    assert mgr.get("new").status == "active"


def test_a_full_table_refuses_rather_than_evict_a_call_within_its_ttl(fake_pipeline, make_manager, clock):
    mgr = make_manager(fake_pipeline, max_calls=2)  # ttl 600 s
    mgr.start_call("a", region="杭州市")
    clock.advance(120)
    mgr.start_call("b", region="杭州市")
    clock.advance(300)  # a on hold for 7 minutes, no stream: still within its TTL, so it stays
    with pytest.raises(CallCapacityError, match="HOTLINE_MAX_CALLS=2"):
        mgr.start_call("c", region="杭州市")
    assert {x.call_id for x in mgr.list_calls()} == {"a", "b"}
    mgr.end_call("b")  # an ended call makes room
    mgr.start_call("c", region="杭州市")
    assert {x.call_id for x in mgr.list_calls()} == {"a", "c"}
    clock.advance(200)  # a is now past its TTL (620 s idle): it goes before anyone is refused
    mgr.start_call("d", region="杭州市")
    assert {x.call_id for x in mgr.list_calls()} == {"c", "d"}


def test_discard_closes_the_stream(mgr, drain):
    mgr.start_call("c1", region="杭州市")
    q = mgr.subscribe("c1")
    mgr.discard("c1")
    assert drain(q)[-1] is None and len(mgr) == 0


# -- listeners, notices, incidents ------------------------------------------------------------------
def test_listeners_get_every_state_and_end(mgr, drain):
    mgr.start_call("c1", region="杭州市")
    q = mgr.subscribe("c1")
    mgr.add_utterance("c1", "customer", "我家宽带连不上了")
    mgr.add_utterance("c1", "agent", "好的")
    mgr.end_call("c1")
    events = drain(q)
    assert [e["type"] for e in events[:-1]] == ["state", "state", "state"]
    assert events[-1] is None
    assert events[-2]["data"]["status"] == "ended"
    mgr.unsubscribe("c1", q)
    with pytest.raises(ConflictError, match="ended"):
        mgr.subscribe("c1")


def test_stream_json_is_the_state_with_only_the_fields_set(mgr, drain):
    """The pushed JSON is the state's ``to_event`` form: no ``resolved: null`` nor ``score: null`` added."""
    mgr.start_call("c1", region="杭州市西湖区", started_at="2024-05-01T09:00:00+08:00")
    q = mgr.subscribe("c1")
    mgr.add_utterance("c1", "customer", "我家宽带从昨天晚上开始连不上了，光猫亮红灯")
    (event,) = drain(q)
    assert event == to_event("state", mgr.get("c1"))
    fields = {f["name"]: f for f in event["data"]["ticket"]["fields"]}
    assert "resolved" in fields["fault_time"] and "resolved" not in fields["phone"]
    phone = next(f for f in mgr.get("c1").ticket.fields if f.name == "phone")
    assert phone.model_dump()["resolved"] is None  # the HTTP API shows it as null, as before


def test_notice_is_pushed_and_shown_first(mgr, clock, drain):
    t0 = clock()
    mgr.start_call("c1", region="杭州市西湖区")
    mgr.add_utterance("c1", "customer", BROADBAND)
    q = mgr.subscribe("c1")
    notice = mgr.notices.add({"title": "西湖区光缆中断", "kind": "outage", "regions": ["杭州市"],
                              "services": ["broadband"], "starts_at": (t0 - timedelta(hours=1)).isoformat(),
                              "ends_at": (t0 + timedelta(hours=5)).isoformat(), "script": "您所在区域光缆抢修中"})
    assert isinstance(notice, Notice)
    events = drain(q)
    assert [e["type"] for e in events] == ["notice", "state"]
    assert events[0]["data"]["id"] == notice.id and events[0]["data"]["event"] == "added"
    state = events[1]["data"]
    assert state["notices"][0]["id"] == notice.id
    assert state["replies"][0] == {"source": "notice", "id": notice.id, "title": "西湖区光缆中断",
                                   "text": "您所在区域光缆抢修中"}
    assert state["replies"][1]["source"] == "faq"
    assert mgr.get("c1").replies[0].score is None
    mgr.notices.add({"title": "宁波计划割接", "kind": "planned", "regions": ["宁波市"], "services": ["broadband"],
                     "starts_at": t0.isoformat(), "ends_at": (t0 + timedelta(hours=1)).isoformat(), "script": "割接"})
    assert drain(q) == []  # not this call's region
    mgr.notices.delete(notice.id)
    assert [e["type"] for e in drain(q)] == ["notice", "state"] and mgr.get("c1").notices == []


def test_incident_raised_once_and_pushed_to_open_calls(mgr, drain):
    queues = []
    for i in range(3):
        mgr.start_call(f"c{i}", region="杭州市西湖区")
        queues.append(mgr.subscribe(f"c{i}"))
        s = mgr.add_utterance(f"c{i}", "customer", BROADBAND)
    assert isinstance(s.incidents[0], Incident) and s.incidents[0].call_ids == ["c0", "c1", "c2"]
    first = drain(queues[0])
    assert [e["type"] for e in first] == ["state", "incident", "state"]
    assert first[1]["data"]["code"] == "broadband.cannot_connect" and first[1]["data"]["status"] == "open"
    mgr.start_call("c3", region="杭州市西湖区")
    mgr.add_utterance("c3", "customer", "宽带断网了，光猫红灯")
    assert len(mgr.incidents.all()) == 1 and mgr.incidents.all()[0].call_ids[-1] == "c3"
    assert all(e["type"] != "incident" for e in drain(queues[0]))  # joining is not a new incident


def test_incident_counts_a_fault_family_in_a_place_and_leaves_long_standing_calls_out(mgr):
    calls = [  # (call, region, customer turns)
        ("c0", "杭州市西湖区", ["我家宽带突然连不上了，光猫亮红灯", "我住在文三路100号"]),
        ("c1", "杭州市西湖区", ["宽带网速一直很慢，好几个月了"]),  # long-standing: never counts
        ("c2", "杭州市滨江区", ["宽带断网了，光猫红灯"]),  # another district
        ("c3", "杭州市西湖区", ["这个月话费多扣了五十块"]),  # another complaint, same area
        ("c4", "西湖区", ["家里网速突然特别慢，看视频一直卡顿"]),  # broadband.slow; the city learnt from c0
        ("c5", "杭州市", ["宽带断网了，光猫亮红灯", "我在西湖区文三路"]),  # city-only, placed by what is said
    ]
    for call_id, region, turns in calls:
        mgr.start_call(call_id, region=region)
        for text in turns:
            state = mgr.add_utterance(call_id, "customer", text)
    (inc,) = mgr.incidents.all()
    assert inc.call_ids == ["c0", "c4", "c5"] and inc.family == "home_broadband"
    assert inc.code == "broadband.cannot_connect" and inc.region == "杭州市西湖区" and inc.sub_area == "文三路"
    assert mgr.get("c0").incidents[0].id == inc.id
    # what a call should be shown, whatever its leaf or the spelling of its region
    now = mgr.clock()
    assert [i.id for i in mgr.incidents.covering("c5", state.category.label, "杭州市", now)] == [inc.id]
    assert [i.id for i in mgr.incidents.covering("new", "broadband.iptv", "西湖区", now)] == [inc.id]
    assert inc.draft_notice["regions"] == ["杭州市西湖区", "西湖区"] and inc.draft_notice["services"] == ["broadband"]


def test_close_ends_every_stream(mgr, drain):
    mgr.start_call("c1", region="杭州市")
    q = mgr.subscribe("c1")
    mgr.close()
    assert drain(q) == [None]


def test_many_threads_many_calls(mgr):
    errors = []

    def work(k: int) -> None:
        try:
            mgr.start_call(f"t{k}", region="杭州市")
            for i in range(10):
                mgr.add_utterance(f"t{k}", "customer" if i % 2 else "agent", f"第{i}句，我家宽带连不上了")
            mgr.get(f"t{k}")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(len(mgr.get(f"t{k}").turns) == 10 for k in range(16))


def test_an_ended_call_stores_the_callers_keyed_hash_never_the_number(fake_pipeline, clock, tmp_path):
    """Batch analysis finds repeat callers among stored calls by this pseudonym (hotline.core.callers)."""
    from hotline.core.callers import caller_key
    from hotline.store.calls import CallRepo
    from hotline.store.db import open_database

    db = open_database(f"sqlite:///{tmp_path / 's.sqlite3'}")
    settings = Settings(home=tmp_path, repeat_key="k" * 32)
    mgr = CallManager(fake_pipeline, settings=settings, notices=NoticeBoard(),
                      incidents=IncidentDetector(threshold=3, window_min=30), clock=clock, repo=CallRepo(db))
    mgr.start_call("c1", region="杭州市")
    mgr.add_utterance("c1", "customer", "宽带断了，我电话是13812345678")
    mgr.end_call("c1")
    mgr.start_call("c2", region="杭州市", customer={"phone": "+86 139 0000 1111"})
    mgr.end_call("c2")
    mgr.start_call("c3", region="杭州市")
    mgr.end_call("c3")
    rows = {r["call_id"]: r for r in CallRepo(db).ended()}
    assert rows["c1"]["caller"] == caller_key("13812345678", b"k" * 32)
    assert rows["c2"]["caller"] == caller_key("13900001111", b"k" * 32)  # the CRM's number wins
    assert rows["c3"]["caller"] is None
    assert "13812345678" not in json.dumps(rows, ensure_ascii=False)
    db.dispose()
