"""serve/errors.py on a small app (no models): strict JSON bodies, safe 422s, and the JSON 500 that keeps the
connection open."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from hotline.core.errors import ConflictError, InvalidInputError
from hotline.serve.errors import INPUT_EXCERPT, install_error_handlers, safe_json


class Body(BaseModel):
    texts: list[str] = Field(max_length=4)
    top_k: int = 3
    ratio: float = 0.5


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/echo")
    def echo(body: Body) -> dict:
        return body.model_dump()

    @app.get("/boom")
    def boom(q: str = "") -> dict:
        raise RuntimeError(f"secret input {q}")

    @app.get("/ok")
    def ok() -> dict:
        return {"ok": True}

    @app.get("/domain/{kind}")
    def domain(kind: str) -> dict:
        raise InvalidInputError("bad \ud800 value") if kind == "invalid" else ConflictError("taken")

    return app


@pytest.fixture(scope="module")
def client():
    with TestClient(_app()) as c:  # raise_server_exceptions=True: an exception reaching the server would raise here
        yield c


def _post(client: TestClient, raw: bytes | str, ctype: str = "application/json"):
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    return client.post("/echo", content=data, headers={"content-type": ctype})


@pytest.mark.parametrize("raw", [
    '{"texts": ["宽带"], "ratio": NaN}', '{"texts": ["宽带"], "ratio": Infinity}', '{"texts": ["宽带"], "top_k": -Infinity}',
    '{"texts": [NaN]}', '{"texts": ["宽带"], "ratio": 1e999}', '{"texts": ["宽带"], "top_k": ' + "9" * 5000 + "}",
])
def test_non_json_numbers_are_422_not_500(client, raw):
    r = _post(client, raw)
    assert r.status_code == 422, r.text
    (err,) = r.json()["detail"]
    assert err["type"] == "json_invalid" and err["loc"][0] == "body"
    assert any(w in err["msg"] for w in ("NaN", "Infinity", "too large", "number"))


@pytest.mark.parametrize(("raw", "loc"), [
    ('{"texts": ["\\ud800宽带断网"]}', ["body", "texts", 0]),
    ('{"texts": ["宽带"], "bad\\udfff": 1}', ["body"]),
    ('{"texts": ["宽带\\ud83d"]}', ["body", "texts", 0]),  # half an emoji
])
def test_lone_surrogates_are_422_naming_where(client, raw, loc):
    r = _post(client, raw)
    assert r.status_code == 422, r.text
    (err,) = r.json()["detail"]
    assert err["type"] == "string_unicode" and err["loc"] == loc and "surrogate" in err["msg"]


def test_a_whole_surrogate_pair_is_a_character_and_passes(client):
    r = _post(client, '{"texts": ["信号\\ud83d\\ude00没了"]}')
    assert r.status_code == 200 and r.json()["texts"] == ["信号😀没了"]


@pytest.mark.parametrize("raw", [
    b'{"texts": ["\xed\xa0\x80"]}',  # a surrogate written as UTF-8 bytes (json.loads would accept it)
    b'{"texts": ["\xff\xfe"]}',
    b"[" * 5000 + b"]" * 5000,
])
def test_bad_bytes_and_deep_nesting_are_422(client, raw):
    r = _post(client, raw)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["type"] == "json_invalid"


def test_plain_syntax_errors_keep_fastapis_answer(client):
    r = _post(client, '{"texts": [')
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"


def test_non_json_content_types_pass_through(client):
    r = _post(client, '{"texts": NaN}', ctype="text/plain")
    assert r.status_code == 422  # FastAPI's own answer for a body it does not parse as JSON


def test_422_echoes_only_a_short_excerpt(client):
    r = _post(client, json.dumps({"texts": ["宽带"], "top_k": "断" * 5000}))
    assert r.status_code == 422
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", "top_k"] and len(err["input"]) <= INPUT_EXCERPT + 1
    r = _post(client, json.dumps({"texts": ["宽带"] * 60}))  # the whole list is the input, too long to echo
    (err,) = r.json()["detail"]
    assert isinstance(err["input"], str) and len(err["input"]) <= INPUT_EXCERPT + 1


def test_domain_errors_render_even_with_a_surrogate_in_the_message(client):
    r = client.get("/domain/invalid")
    assert r.status_code == 422 and r.json() == {"detail": "bad \ufffd value", "error": "InvalidInputError"}
    assert client.get("/domain/conflict").status_code == 409


def test_unhandled_error_is_a_json_500_without_the_input(client):
    r = client.get("/boom", params={"q": "13812345678"})  # no exception raised here: it never reached the server
    assert r.status_code == 500
    body = r.json()
    assert body["error"] == "InternalServerError" and body["ref"] in body["detail"]
    assert "13812345678" not in r.text and "secret" not in r.text


def test_safe_json_cleans_what_strict_json_refuses():
    assert safe_json({"a\ud800": [float("inf"), "x\udfff"]}) == {"a\ufffd": ["inf", "x\ufffd"]}
    json.dumps(safe_json({"v": float("nan")}), allow_nan=False).encode("utf-8")


def test_a_500_keeps_the_keep_alive_connection(tmp_path):
    """Under uvicorn: after a 500 the same connection answers the next request (Starlette's own handler
    re-raises, and uvicorn then closes the connection, so the client's next request failed too)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_app(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(600):  # up to 60 s on a loaded machine; usually well under one
            if server.started:
                break
            time.sleep(0.1)
        assert server.started, "uvicorn did not start"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/boom")
        first = conn.getresponse()
        assert first.status == 500 and first.getheader("connection") != "close"
        first.read()
        conn.request("GET", "/ok")  # same connection
        second = conn.getresponse()
        assert second.status == 200 and json.loads(second.read()) == {"ok": True}
        conn.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
