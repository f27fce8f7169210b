"""What the load benchmark needs of its server: a Server-Timing header per request, auth and rate limit off."""

from __future__ import annotations

import os

from fastapi import FastAPI, WebSocket
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from hotline.core.settings import Settings
from hotline.eval.benchmarks.server import ServerTimingMiddleware, bench_settings, server_env


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/plain")
    def plain() -> dict:
        return {"ok": True}

    @app.get("/timed")
    def timed() -> JSONResponse:
        return JSONResponse({"ok": True}, headers={"Server-Timing": "total;dur=7"})

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hi")
        await websocket.close()

    return app


def test_server_timing_header_on_http_responses_only_where_missing():
    with TestClient(ServerTimingMiddleware(_app())) as client:
        r = client.get("/plain")
        assert r.status_code == 200 and r.json() == {"ok": True}
        name, _, dur = r.headers["server-timing"].partition(";dur=")
        assert name == "app" and float(dur) >= 0
        assert client.get("/timed").headers.get_list("server-timing") == ["total;dur=7"]  # the app's own kept
        assert "server-timing" in client.get("/missing").headers  # a 404 from routing is timed too
        with client.websocket_connect("/ws") as ws:  # WebSocket passes through untouched
            assert ws.receive_text() == "hi"


def test_bench_settings_turn_auth_off_on_loopback_and_the_rate_limit_off_on_request(tmp_path):
    base = Settings(home=tmp_path, host="0.0.0.0", auth_enabled=True, rate_limit="10/minute")
    s = bench_settings(base)
    assert (s.host, s.auth_enabled, s.rate_limit) == ("127.0.0.1", False, "10/minute")
    assert bench_settings(base, rate_limit=False).rate_limit == ""  # the load benchmark's server
    kept = bench_settings(base, auth=True)
    assert (kept.auth_enabled, kept.rate_limit) == (True, "10/minute")


def test_server_env_round_trips_through_the_environment(tmp_path, monkeypatch):
    settings = Settings(home=tmp_path, max_batch=7, allowed_origins=["https://crm.example.cn"])
    env = server_env(settings, base={})
    for key in [k for k in os.environ if k.startswith("HOTLINE_")]:
        monkeypatch.delenv(key)  # nothing inherited: the child sees exactly env
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert env["HOTLINE_ALLOWED_ORIGINS"] == '["https://crm.example.cn"]'  # JSON, as pydantic-settings reads lists
    assert Settings() == settings
