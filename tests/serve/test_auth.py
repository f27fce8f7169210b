"""Keys and roles at the door: 401 without a key, 403 for a role too low, ownership of calls, the audit
log, WebSocket key and Origin checks, and the auth-off guard."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from hotline.core.errors import InvalidInputError
from hotline.serve.app import create_app
from hotline.serve.auth import POLICY, check_auth_settings


@pytest.fixture(scope="module")
def app_keys(tiny_home, tmp_path_factory, new_key):
    settings = tiny_home.model_copy(update={"database_url": f"sqlite:///{tmp_path_factory.mktemp('auth') / 'h.sqlite3'}"})
    keys = {role: new_key(settings, role) for role in ("agent", "supervisor", "admin")}
    keys["agent2"] = new_key(settings, "agent", "desk-2")
    with TestClient(create_app(settings)) as c:
        yield c, keys


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _path(template: str) -> str:
    return template.replace("{call_id}", "x").replace("{notice_id}", "x").replace("{incident_id}", "x") \
        .replace("{key_id}", "x")


def test_every_v1_route_needs_a_key(app_keys):
    client, _ = app_keys
    for method, template in POLICY:
        if method == "WS":
            continue
        r = client.request(method, _path(template), json={})
        assert r.status_code == 401, (method, template, r.status_code)
        assert r.json()["error"] == "Unauthorized" and "hotline keys create" in r.json()["detail"]
    assert client.get("/v1/no-such-route").status_code == 401  # nothing is revealed without a key
    assert client.post("/v1/assist", json={"texts": ["宽带断了"]}, headers=_h("hlk_wrong")).status_code == 401
    assert client.get("/healthz").status_code == 200  # health stays public


def test_agent_roles(app_keys):
    client, keys = app_keys
    agent = _h(keys["agent"])
    assert client.post("/v1/assist", json={"texts": ["宽带断了"]}, headers=agent).status_code == 200
    for method, path in [("POST", "/v1/notices"), ("DELETE", "/v1/notices/x"), ("POST", "/v1/admin/reload"),
                         ("GET", "/v1/keys"), ("POST", "/v1/keys"), ("GET", "/v1/incidents"), ("GET", "/v1/feedback")]:
        r = client.request(method, path, json={}, headers=agent)
        assert r.status_code == 403 and r.json()["error"] == "Forbidden", (method, path, r.text)
    assert client.get("/v1/notices", headers=agent).status_code == 200  # agents read what they quote
    sup = _h(keys["supervisor"])
    assert client.get("/v1/incidents", headers=sup).status_code == 200
    assert client.post("/v1/admin/reload", headers=sup).status_code == 403
    assert client.get("/v1/keys", headers=_h(keys["admin"])).status_code == 200


def test_calls_belong_to_their_agent(app_keys):
    client, keys = app_keys
    a, b, sup = _h(keys["agent"]), _h(keys["agent2"]), _h(keys["supervisor"])
    assert client.post("/v1/calls", json={"call_id": "own-1", "region": "杭州市"}, headers=a).status_code == 201
    for text in ("我家宽带从昨天晚上开始就连不上了，光猫一直亮红灯", "我的电话是13812345678"):
        client.post("/v1/calls/own-1/utterances", json={"speaker": "customer", "text": text}, headers=a)
    assert client.get("/v1/calls/own-1", headers=b).status_code == 403
    assert client.post("/v1/calls/own-1/end", headers=b).status_code == 403
    assert "own-1" not in [c["call_id"] for c in client.get("/v1/calls", headers=b).json()["calls"]]
    assert "own-1" in [c["call_id"] for c in client.get("/v1/calls", headers=sup).json()["calls"]]
    assert client.get("/v1/calls/own-1", headers=sup).status_code == 200
    end = client.post("/v1/calls/own-1/end", headers=a).json()
    assert end["ticket"]["dispatch_copy"]["fields"].get("phone") == "13812345678"  # the owner dispatches


def test_dispatch_copy_is_masked_for_roles_that_do_not_dispatch(app_keys):
    client, keys = app_keys
    admin = _h(keys["admin"])
    client.post("/v1/calls", json={"call_id": "adm-1", "region": "杭州市"}, headers=admin)
    for text in ("我家宽带从昨天晚上开始就连不上了，光猫一直亮红灯", "我的电话是13812345678"):
        client.post("/v1/calls/adm-1/utterances", json={"speaker": "customer", "text": text}, headers=admin)
    end = client.post("/v1/calls/adm-1/end", headers=admin)
    assert end.status_code == 200 and "13812345678" not in end.text and end.json()["ticket"]["dispatch_copy"]["masked"]


def test_supervisor_and_admin_actions_are_audited(app_keys):
    client, keys = app_keys
    client.get("/v1/incidents", headers=_h(keys["supervisor"]))
    created = client.post("/v1/keys", json={"role": "agent", "name": "new-desk"}, headers=_h(keys["admin"]))
    assert created.status_code == 201 and created.json()["key"].startswith("hlk_")
    entries = client.get("/v1/audit", headers=_h(keys["admin"])).json()["entries"]
    actions = [(e["action"], e["role"], e["status"]) for e in entries]
    assert ("GET /v1/incidents", "supervisor", 200) in actions and ("POST /v1/keys", "admin", 201) in actions
    assert all(e["at"] for e in entries)
    # an agent's ordinary work is not audited
    client.post("/v1/assist", json={"texts": ["宽带断了"]}, headers=_h(keys["agent"]))
    assert not any(e["action"] == "POST /v1/assist" for e in client.get("/v1/audit", headers=_h(keys["admin"])).json()["entries"])


def test_websocket_needs_key_and_origin(app_keys):
    client, keys = app_keys
    a = keys["agent"]
    client.post("/v1/calls", json={"call_id": "ws-1", "region": "杭州市"}, headers=_h(a))
    with pytest.raises(WebSocketDenialResponse):
        with client.websocket_connect("/v1/calls/ws-1/stream"):
            pass
    with pytest.raises(WebSocketDenialResponse):
        with client.websocket_connect("/v1/calls/ws-1/stream", subprotocols=["hotline", f"bearer.{a}"],
                                      headers={"origin": "http://evil.example"}):
            pass
    with client.websocket_connect("/v1/calls/ws-1/stream", subprotocols=["hotline", f"bearer.{a}"],
                                  headers={"origin": "http://testserver"}) as ws:
        assert ws.accepted_subprotocol == "hotline"
        assert ws.receive_json()["type"] == "state"
    with client.websocket_connect("/v1/calls/ws-1/stream", subprotocols=["hotline", f"bearer.{keys['agent2']}"]) as ws:
        msg = ws.receive_json()
        assert msg["type"] == "error" and msg["data"]["status"] == 403


def test_auth_off_only_on_loopback(tiny_home):
    check_auth_settings(tiny_home.model_copy(update={"auth_enabled": False, "host": "127.0.0.1"}))
    with pytest.raises(InvalidInputError, match="loopback"):
        check_auth_settings(tiny_home.model_copy(update={"auth_enabled": False, "host": "0.0.0.0"}))
    with pytest.raises(InvalidInputError, match="loopback"):
        create_app(tiny_home.model_copy(update={"auth_enabled": False, "host": "10.1.2.3"}))


def test_openapi_declares_the_bearer_scheme(app_keys):
    client, _ = app_keys
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert schema["paths"]["/v1/assist"]["post"]["security"] == [{"bearer": []}]
