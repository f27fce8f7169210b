"""The knowledge-base API: draft → review → approve → publish → ``/v1/search`` finds the entry → rollback → it is
gone; 409 on moves the state machine refuses; agents get 403; every supervisor call is audited."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hotline.serve.app import create_app
from hotline.store.builds import BuildRegistry

NEW = {"id": "kb-esim-01", "question": "智能手表怎么开通eSIM一号双终端",
       "answer": "携带身份证和手表到营业厅，或在App里搜索一号双终端，扫描手表上的二维码即可开通。",
       "similar": ["手表eSIM怎么办理", "一号双终端手表怎么开"]}
QUERY = "我想给智能手表开通eSIM一号双终端"


@pytest.fixture(scope="module")
def home(tmp_path_factory, tiny_home, managed_home):
    return managed_home(tmp_path_factory.mktemp("kb_api") / "home", tiny_home)[0]


def _search_ids(client: TestClient, agent: dict) -> list[str]:
    r = client.post("/v1/search", json={"texts": [QUERY], "top_k": 3}, headers=agent)
    assert r.status_code == 200, r.text
    return [h["id"] for h in r.json()["results"][0]["hits"]]


def _reload(client: TestClient, admin: dict) -> None:
    assert client.post("/v1/admin/reload", headers=admin).status_code == 200


def test_draft_publish_search_rollback(home, bearer):
    sup, agent, admin = bearer(home, "supervisor"), bearer(home, "agent"), bearer(home, "admin")
    reg = BuildRegistry(home)
    first = reg.current_id()
    with TestClient(create_app(home)) as client:
        assert NEW["id"] not in _search_ids(client, agent)
        r = client.post("/v1/kb/entries", json={"kind": "faq", "body": {**NEW, "answer": ""}, "note": "新业务"},
                        headers=sup)
        assert r.status_code == 201, r.text
        assert r.json()["state"] == "draft" and r.json()["version"] == 1
        assert r.json()["created_by"].startswith("test-supervisor")
        path = f"/v1/kb/entries/faq/{NEW['id']}"
        # an incomplete draft cannot go to review; publishing it is refused with its state and the fix
        r = client.post(f"{path}/submit", headers=sup)
        assert r.status_code == 422 and "answer" in r.json()["detail"]
        r = client.post("/v1/kb/publish", json={"entries": [{"kind": "faq", "id": NEW["id"]}]}, headers=sup)
        assert r.status_code == 409 and "state 'draft'" in r.json()["detail"] and "submit" in r.json()["detail"]
        r = client.put(path, json={"body": NEW}, headers=sup)
        assert r.status_code == 200 and r.json()["version"] == 2
        assert client.post(f"{path}/submit", json={"note": "请审核"}, headers=sup).json()["state"] == "review"
        r = client.post(f"{path}/submit", headers=sup)
        assert r.status_code == 409 and "'review'" in r.json()["detail"]
        queue = client.get("/v1/kb/entries", params={"state": "review"}, headers=sup).json()["entries"]
        assert [(e["id"], e["version"]) for e in queue] == [(NEW["id"], 2)]
        assert client.post(f"{path}/approve", headers=sup).json()["state"] == "approved"

        r = client.post("/v1/kb/publish", json={"note": "eSIM"}, headers=sup)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["release"] == 2 and out["build"] == reg.current_id() != first
        assert out["changes"]["added"] == [f"faq/{NEW['id']}"]
        _reload(client, admin)
        assert _search_ids(client, agent)[0] == NEW["id"]
        versions = client.get(path, headers=sup).json()["versions"]
        assert [(v["version"], v["state"], v["live"]) for v in versions] == [(1, "superseded", False),
                                                                             (2, "published", True)]
        assert versions[1]["published_by"].startswith("test-supervisor") and versions[1]["published_at"]

        r = client.post("/v1/kb/rollback", json={}, headers=sup)
        assert r.status_code == 200, r.text
        assert r.json()["release"] == 3 and r.json()["rollback_of"] == 1
        _reload(client, admin)
        assert NEW["id"] not in _search_ids(client, agent)
        rels = client.get("/v1/kb/releases", headers=sup).json()["releases"]
        assert [(x["release"], x["action"], x["current"]) for x in rels] == [
            (3, "rollback", True), (2, "publish", False), (1, "import", False)]
        assert client.post("/v1/kb/rollback", json={"to": 3}, headers=sup).status_code == 422
        assert client.post("/v1/kb/publish", headers=sup).status_code == 409  # nothing approved

        actions = [e["action"] for e in client.get("/v1/audit", headers=admin).json()["entries"]]
        assert "POST /v1/kb/publish" in actions and "POST /v1/kb/rollback" in actions
        assert "POST /v1/kb/entries/{kind}/{entry_id}/approve" in actions


def test_agents_are_refused_and_bad_input_is_4xx(home, bearer):
    sup, agent = bearer(home, "supervisor"), bearer(home, "agent")
    with TestClient(create_app(home)) as client:
        for method, path, body in [("GET", "/v1/kb/entries", None), ("POST", "/v1/kb/entries", {}),
                                   ("POST", "/v1/kb/publish", {}), ("POST", "/v1/kb/rollback", {}),
                                   ("POST", "/v1/kb/entries/faq/kb-001/approve", {}),
                                   ("PUT", "/v1/kb/entries/faq/kb-001", {"body": {}}),
                                   ("GET", "/v1/kb/releases", None)]:
            r = client.request(method, path, json=body, headers=agent)
            assert r.status_code == 403, (method, path, r.status_code)
            assert "supervisor" in r.json()["detail"]
        assert client.get("/v1/kb/entries", headers={}).status_code == 401
        assert client.get("/v1/kb/entries", params={"state": "live"}, headers=sup).status_code == 422
        assert client.post("/v1/kb/entries", json={"kind": "page", "body": {"id": "x"}}, headers=sup).status_code == 422
        r = client.post("/v1/kb/entries", json={"kind": "faq", "body": {"question": "没有编号"}}, headers=sup)
        assert r.status_code == 422 and "'id'" in r.json()["detail"]
        r = client.post("/v1/kb/entries", json={"kind": "faq", "body": {"id": "voice.cannot_call.1", "question": "q"}}, headers=sup)
        assert r.status_code == 409 and "already exists" in r.json()["detail"]
        assert client.post("/v1/kb/entries/faq/kb-404/approve", headers=sup).status_code == 404
        r = client.post("/v1/kb/entries/faq/voice.cannot_call.1/approve", headers=sup)
        assert r.status_code == 409 and "'published'" in r.json()["detail"]
        assert client.post("/v1/kb/rollback", json={"to": 99}, headers=sup).status_code == 404
