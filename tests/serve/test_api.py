from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hotline.serve.app import create_app


@pytest.fixture(scope="module")
def client(tiny_home, bearer):
    with TestClient(create_app(tiny_home), headers=bearer(tiny_home)) as c:
        yield c


def test_health_ready_and_docs(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"
    assert r.json()["models"]["classifier"]["kind"] == "complaint_classifier"
    assert client.get("/openapi.json").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200 and "default-src 'self'" in docs.headers["content-security-policy"]


def test_classify_batch_equals_single(client):
    texts = ["家里宽带连不上了，光猫一直亮红灯", "这个月话费莫名其妙多扣了五十块"]
    batch = client.post("/v1/classify", json={"texts": texts}).json()["predictions"]
    single = [client.post("/v1/classify", json={"text": t}).json()["predictions"][0] for t in texts]
    assert [p["label"] for p in batch] == [p["label"] for p in single]
    for b, s in zip(batch, single):
        assert b["confidence"] == pytest.approx(s["confidence"], abs=1e-4)
    p = batch[0]
    assert p["label"].startswith("broadband.")
    assert len(p["top"]) == 3 and p["top"][0]["service_name"] == "家庭宽带"
    assert abs(sum(s["prob"] for s in p["services"]) - 1) < 0.2


def test_assist_returns_everything_and_masks_phone(client):
    r = client.post("/v1/assist", json={"texts": ["宽带断网了，我的电话是13812345678，光猫亮红灯"]})
    assert r.status_code == 200
    res = r.json()["results"][0]
    assert "13812345678" not in r.text
    assert "138****5678" in res["text"]
    assert res["faqs"] and res["faqs"][0]["answer"]
    assert res["spec"] is not None and res["ticket_fields"]
    phone = [f for f in res["ticket_fields"] if f["name"] == "phone"]
    assert phone and phone[0]["value"] == "138****5678"


def test_search_returns_hits(client):
    r = client.post("/v1/search", json={"texts": ["光猫红灯一直亮着上不了网"], "top_k": 3})
    res = r.json()["results"][0]
    assert len(res["hits"]) <= 3 and res["hits"][0]["id"].startswith("broadband.")


@pytest.mark.parametrize("body,needle", [
    ({"texts": []}, "at least one"),
    ({"texts": ["   "]}, "empty"),
    ({"texts": ["宽" * 2001]}, "2000"),
    ({"texts": [123]}, "string"),
    ({"texts": ["hello world"]}, "Chinese"),
    ({"texts": ["宽带\x00\x01断了"]}, "control"),
    ({"texts": ["宽带"] * 65}, "64"),
    ({"text": "宽带", "texts": ["宽带"]}, "not both"),
])
def test_bad_input_is_a_clear_4xx(client, body, needle):
    r = client.post("/v1/assist", json=body)
    assert r.status_code == 422, r.text
    assert needle.lower() in r.text.lower()


def test_non_json_and_wrong_encoding_bodies_are_4xx(client):
    r = client.post("/v1/classify", content=b"\xff\xfe\x00garbage", headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500
    r = client.post("/v1/classify", content="宽带".encode("gbk"), headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500


def test_hot_reload_keeps_serving(client):
    before = client.get("/readyz").json()["generation"]
    r = client.post("/v1/admin/reload")
    assert r.status_code == 200 and r.json()["generation"] == before + 1
    assert client.post("/v1/classify", json={"text": "手机没信号"}).status_code == 200
