"""Live-call HTTP/WebSocket API on the tiny trained pipeline: call flow, streams, notices, incidents, feedback."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from hotline.serve.app import create_app

NOW = datetime.now(timezone(timedelta(hours=8)))
BROADBAND = "我家宽带从昨天晚上开始就连不上了，光猫一直亮红灯"


@pytest.fixture(scope="module")
def client(tiny_home, tmp_path_factory, bearer):
    settings = tiny_home.model_copy(update={
        "incident_threshold": 3, "database_url": f"sqlite:///{tmp_path_factory.mktemp('db') / 'h.sqlite3'}"})
    with TestClient(create_app(settings), headers=bearer(settings, "supervisor")) as c:
        yield c


_ids = iter(range(10_000))


def _start(client, region="杭州市西湖区", **extra) -> str:
    call_id = f"t-{next(_ids)}"
    r = client.post("/v1/calls", json={"call_id": call_id, "region": region, **extra})
    assert r.status_code == 201, r.text
    return call_id


def _say(client, call_id, text, speaker="customer") -> dict:
    r = client.post(f"/v1/calls/{call_id}/utterances", json={"speaker": speaker, "text": text})
    assert r.status_code == 200, r.text
    return r.json()


def test_full_call_flow(client):
    call_id = _start(client, started_at=NOW.isoformat())
    _say(client, call_id, "您好，这里是客服中心，请问有什么可以帮您？", speaker="agent")
    s = _say(client, call_id, BROADBAND)
    assert s["category"]["label"] == "broadband.cannot_connect" and s["category"]["evidence"] == [1]
    assert s["faqs"] and s["spec"]["code"] == "broadband.cannot_connect" and s["checklist"]
    assert s["replies"][0]["source"] == "faq"
    assert "phone" in s["ticket"]["missing"] and "请问您的联系电话是多少？" in s["ticket"]["suggested_questions"]
    s = _say(client, call_id, "嗯")
    s = _say(client, call_id, "我的电话是13812345678")
    assert s["category"]["label"] == "broadband.cannot_connect"
    phone = next(f for f in s["ticket"]["fields"] if f["name"] == "phone")
    assert phone["value"] == "138****5678" and phone["evidence_turn"] == 3
    assert s["turns"][3]["text"] == "我的电话是138****5678"
    r = client.get(f"/v1/calls/{call_id}")
    assert r.status_code == 200 and "13812345678" not in r.text
    assert call_id in [c["call_id"] for c in client.get("/v1/calls").json()["calls"]]
    end = client.post(f"/v1/calls/{call_id}/end")
    assert end.status_code == 200
    body = end.json()
    assert body["state"]["status"] == "ended" and "宽带" in body["summary"]
    assert body["ticket"]["dispatch_copy"]["fields"]["phone"] == "13812345678"
    assert client.post(f"/v1/calls/{call_id}/end").status_code == 409


def test_websocket_receives_states(client):
    call_id = _start(client)
    with client.websocket_connect(f"/v1/calls/{call_id}/stream") as ws:
        first = ws.receive_json()
        assert first["type"] == "state" and first["data"]["turns"] == []
        _say(client, call_id, BROADBAND)
        ev = ws.receive_json()
        assert ev["type"] == "state" and ev["data"]["category"]["label"] == "broadband.cannot_connect"
        client.post(f"/v1/calls/{call_id}/end")
        ev = ws.receive_json()
        assert ev["data"]["status"] == "ended"
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()


def test_websocket_unknown_call(client):
    with client.websocket_connect("/v1/calls/nope/stream") as ws:
        ev = ws.receive_json()
        assert ev == {"type": "error", "data": {"status": 404, "detail": ev["data"]["detail"]}}
        assert "nope" in ev["data"]["detail"]
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_json()
        assert e.value.code == 4404


@pytest.mark.timeout(120)  # a push that never comes fails here, not at CI's limit
def test_matching_notice_is_pushed_and_shown_first(client):
    call_id = _start(client, region="杭州市西湖区")
    _say(client, call_id, BROADBAND)
    with client.websocket_connect(f"/v1/calls/{call_id}/stream") as ws:
        ws.receive_json()
        r = client.post("/v1/notices", json={
            "title": "西湖区光缆中断", "kind": "outage", "regions": ["杭州市"], "services": ["broadband"],
            "starts_at": (NOW - timedelta(hours=1)).isoformat(), "ends_at": (NOW + timedelta(hours=3)).isoformat(),
            "script": "您好，您所在区域光缆中断正在抢修，预计三小时内恢复。"})
        assert r.status_code == 201, r.text
        notice_id = r.json()["id"]
        ev = ws.receive_json()
        assert ev["type"] == "notice" and ev["data"]["id"] == notice_id
        ev = ws.receive_json()
        assert ev["type"] == "state" and ev["data"]["replies"][0]["source"] == "notice"
    s = client.get(f"/v1/calls/{call_id}").json()
    assert s["notices"][0]["id"] == notice_id and s["replies"][0]["text"].startswith("您好，您所在区域光缆")
    assert [n["id"] for n in client.get("/v1/notices?active=true").json()["notices"]] == [notice_id]
    other = _start(client, region="宁波市")
    assert _say(client, other, BROADBAND)["notices"] == []
    assert client.delete(f"/v1/notices/{notice_id}").status_code == 204
    assert client.delete(f"/v1/notices/{notice_id}").status_code == 404
    assert client.get(f"/v1/calls/{call_id}").json()["notices"] == []


@pytest.mark.timeout(120)  # a push that never comes fails here, not at CI's limit
def test_incident_pushed_to_open_streams(client):
    region = "温州市鹿城区"
    first = _start(client, region=region)
    _say(client, first, BROADBAND)
    with client.websocket_connect(f"/v1/calls/{first}/stream") as ws:
        ws.receive_json()
        for _ in range(2):
            _say(client, _start(client, region=region), "宽带断网了，光猫亮红灯，家里完全上不了网")
        types = [ws.receive_json()["type"] for _ in range(2)]
        assert types == ["incident", "state"]
    incidents = client.get("/v1/incidents?active=true").json()["incidents"]
    mine = [i for i in incidents if i["region"] == region]
    assert len(mine) == 1 and mine[0]["code"] == "broadband.cannot_connect" and first in mine[0]["call_ids"]
    assert client.get(f"/v1/calls/{first}").json()["incidents"][0]["id"] == mine[0]["id"]


def test_incident_by_id_and_its_draft_notice_publishes_as_is(client):
    region = "常州市武进区"
    ids = [_start(client, region=region) for _ in range(3)]
    for call_id in ids:
        _say(client, call_id, "宽带断网了，光猫亮红灯，家里完全上不了网")
    (inc,) = [i for i in client.get("/v1/incidents").json()["incidents"] if i["region"] == region]
    r = client.get(f"/v1/incidents/{inc['id']}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["family"] == "home_broadband" and body["call_ids"] == ids and "sub_area" in body
    assert body["draft_notice"] == inc["draft_notice"] and body["draft_notice"]["regions"] == [region]
    published = client.post("/v1/notices", json=body["draft_notice"])  # one POST, nothing edited
    assert published.status_code == 201, published.text
    notice_id = published.json()["id"]
    assert notice_id in [n["id"] for n in client.get(f"/v1/calls/{ids[0]}").json()["notices"]]
    assert client.delete(f"/v1/notices/{notice_id}").status_code == 204
    missing = client.get("/v1/incidents/inc-nope")
    assert missing.status_code == 404 and "inc-nope" in missing.json()["detail"]


def test_feedback_round_trip(client):
    call_id = _start(client)
    _say(client, call_id, "我的电话是13812345678，" + BROADBAND)
    r = client.post("/v1/feedback", json={"call_id": call_id, "kind": "category_wrong",
                                          "correct_label": "broadband.slow"})
    assert r.status_code == 201, r.text
    row = r.json()
    assert row["target"] == "broadband.cannot_connect" and "138****5678" in row["text"]
    client.post("/v1/feedback", json={"call_id": call_id, "kind": "suggestion_used", "target": "kb-001"})
    rows = client.get("/v1/feedback?kind=category_wrong").json()["feedback"]
    assert rows[0]["id"] == row["id"]
    assert len(client.get("/v1/feedback?limit=1").json()["feedback"]) == 1


@pytest.mark.parametrize("method, path, body, status, needle", [
    ("get", "/v1/calls/nope", None, 404, "nope"),
    ("post", "/v1/calls/nope/utterances", {"speaker": "customer", "text": "宽带断了"}, 404, "nope"),
    ("post", "/v1/calls/nope/end", None, 404, "nope"),
    ("post", "/v1/calls", {"region": ""}, 422, "region"),
    ("post", "/v1/calls", {"region": "杭" * 65}, 422, "region"),
    ("post", "/v1/calls", {"region": "杭州", "started_at": "2024-05-01T09:00:00"}, 422, "offset"),
    ("post", "/v1/calls", {"region": "杭州", "call_id": "带 空格"}, 422, "call_id"),
    ("post", "/v1/notices", {"title": "x", "regions": ["杭州市"], "services": ["broadband"], "script": "x",
                             "starts_at": "2024-05-01T09:00:00+08:00", "ends_at": "2024-05-01T08:00:00+08:00"},
     422, "ends_at"),
    ("post", "/v1/notices", {"title": "x", "regions": ["杭州市"], "categories": ["broadband.nope"], "script": "x",
                             "starts_at": "2024-05-01T09:00:00+08:00", "ends_at": "2024-05-01T10:00:00+08:00"},
     422, "categories[0]"),
    ("delete", "/v1/notices/nope", None, 404, "nope"),
    ("post", "/v1/feedback", {"kind": "category_wrong"}, 422, "correct_label"),
    ("post", "/v1/feedback", {"kind": "liked"}, 422, "kind"),
])
def test_bad_requests(client, method, path, body, status, needle):
    r = getattr(client, method)(path, **({"json": body} if body is not None else {}))
    assert r.status_code == status, r.text
    assert needle in r.text


def test_bad_utterances(client):
    call_id = _start(client)
    for body, needle in [({"speaker": "robot", "text": "宽带断了"}, "speaker"),
                         ({"speaker": "customer", "text": "  "}, "empty"),
                         ({"speaker": "customer", "text": "宽" * 2001}, "2000"),
                         ({"speaker": "customer", "text": "\x00\x01宽带"}, "control"),
                         ({"speaker": "customer"}, "text")]:
        r = client.post(f"/v1/calls/{call_id}/utterances", json=body)
        assert r.status_code == 422 and needle in r.text, r.text
    assert client.post("/v1/calls", json={"call_id": call_id, "region": "杭州"}).status_code == 409
    assert _say(client, call_id, "13812345678")["turns"][0]["text"] == "138****5678"  # digits-only turns are fine


def test_text_limit_comes_from_settings(tiny_home, tmp_path, bearer):
    settings = tiny_home.model_copy(update={"max_text_chars": 20, "database_url": f"sqlite:///{tmp_path / 'h.sqlite3'}"})
    with TestClient(create_app(settings), headers=bearer(settings)) as c:
        call_id = _start(c)
        r = c.post(f"/v1/calls/{call_id}/utterances", json={"speaker": "customer", "text": "宽" * 21})
        assert r.status_code == 422 and "the limit is 20" in r.text and "HOTLINE_MAX_TEXT_CHARS" in r.text, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "text"]  # refused by the request schema, not the engine
        assert _say(c, call_id, "宽" * 20)["turns"][0]["text"] == "宽" * 20
        r = c.post("/v1/feedback", json={"kind": "suggestion_unhelpful", "text": "宽" * 21})
        assert r.status_code == 422 and "the limit is 20" in r.text, r.text
        schema = c.get("/openapi.json").json()["components"]["schemas"]["UtteranceRequest"]
        assert "at most 20 characters" in schema["properties"]["text"]["description"]


def test_idle_calls_expire_in_the_background(tiny_home, tmp_path, bearer):
    import time

    settings = tiny_home.model_copy(update={"call_ttl_s": 0.3, "database_url": f"sqlite:///{tmp_path / 'h.sqlite3'}"})
    with TestClient(create_app(settings), headers=bearer(settings)) as c:
        call_id = _start(c)
        with c.websocket_connect(f"/v1/calls/{call_id}/stream") as ws:
            assert ws.receive_json()["data"]["status"] == "active"
            assert ws.receive_json()["data"]["status"] == "expired"  # pushed by the expiry task
        deadline = time.monotonic() + 5
        while c.get(f"/v1/calls/{call_id}").status_code != 404 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.get(f"/v1/calls/{call_id}").status_code == 404
