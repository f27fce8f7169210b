"""Live-call limits over HTTP and WebSocket: bounded states, the transcript, the listener cap, a full table.

The engine runs on the fast fake pipeline of the live-engine tests (no trained model), set into ``app.state``
the way the lifespan would.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from hotline.core.settings import Settings
from hotline.pipeline.live.incidents import IncidentDetector
from hotline.pipeline.live.notices import NoticeBoard
from hotline.pipeline.live.registry import CallManager
from hotline.serve.app import create_app
from tests.pipeline.conftest import FakePipeline


@pytest.fixture
def client(tmp_path):
    settings = Settings(home=tmp_path, auth_enabled=False, state_recent_turns=4, max_listeners_per_call=2,
                        max_calls=2, retry_after_s=7)
    app = create_app(settings)
    notices = NoticeBoard()
    app.state.notices, app.state.incidents = notices, IncidentDetector(threshold=3, window_min=30)
    app.state.calls = CallManager(FakePipeline(), settings=settings, notices=notices, incidents=app.state.incidents)
    return TestClient(app)


def _start(client, call_id: str) -> None:
    assert client.post("/v1/calls", json={"call_id": call_id, "region": "杭州市西湖区"}).status_code == 201


def test_utterance_replies_are_bounded_and_the_transcript_has_everything(client):
    _start(client, "c1")
    for i in range(10):
        r = client.post("/v1/calls/c1/utterances", json={"speaker": "customer", "text": f"第{i}句，宽带连不上"})
        assert r.status_code == 200
    body = r.json()
    assert [t["idx"] for t in body["turns"]] == [6, 7, 8, 9] and body["turn_count"] == 10
    assert len(client.get("/v1/calls/c1").json()["turns"]) == 4
    assert [t["idx"] for t in client.get("/v1/calls/c1", params={"full": "true"}).json()["turns"]] == list(range(10))
    tr = client.get("/v1/calls/c1/transcript").json()
    assert tr["call_id"] == "c1" and tr["turn_count"] == 10 and [t["idx"] for t in tr["turns"]] == list(range(10))
    assert client.get("/v1/calls/nope/transcript").status_code == 404


def test_a_stream_past_the_listener_cap_gets_an_error_and_a_close(client):
    _start(client, "c1")
    with client.websocket_connect("/v1/calls/c1/stream") as a, client.websocket_connect("/v1/calls/c1/stream") as b:
        assert a.receive_json()["type"] == "state" and b.receive_json()["type"] == "state"
        with client.websocket_connect("/v1/calls/c1/stream") as c:
            msg = c.receive_json()
            assert msg["type"] == "error" and msg["data"]["status"] == 429
            assert "HOTLINE_MAX_LISTENERS_PER_CALL" in msg["data"]["detail"]
            with pytest.raises(WebSocketDisconnect) as closed:
                c.receive_json()
            assert closed.value.code == 4429


def test_a_full_call_table_answers_503_with_retry_after_and_keeps_its_calls(client):
    _start(client, "a")
    _start(client, "b")
    r = client.post("/v1/calls", json={"call_id": "c", "region": "杭州市西湖区"})
    assert r.status_code == 503 and r.headers["retry-after"] == "7" and "HOTLINE_MAX_CALLS" in r.json()["detail"]
    assert {c["call_id"] for c in client.get("/v1/calls").json()["calls"]} == {"a", "b"}
