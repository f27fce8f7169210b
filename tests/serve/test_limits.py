"""Admission control (serve/limits.py): body limit, slow bodies, in-flight bound, per-key rate limits.

The middlewares are driven directly with fake ASGI apps and fake ``receive`` callables, so the tests can tell
how much of a body was read and hold requests in flight without threads or timing; the last tests go through
``create_app`` to check the wiring.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from hotline.core.errors import InvalidInputError
from hotline.core.settings import Settings
from hotline.serve.limits import (
    BodyLimitMiddleware,
    InFlightLimitMiddleware,
    RateLimitMiddleware,
    parse_rate,
    rate_key,
)


def _scope(path: str = "/v1/classify", method: str = "POST", headers: dict[str, str] | None = None,
           client: str = "10.0.0.1") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "client": (client, 5000),
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}


class Sent:
    """Collects what a middleware sends."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return next(m["status"] for m in self.messages if m["type"] == "http.response.start")

    @property
    def headers(self) -> dict[str, str]:
        start = next(m for m in self.messages if m["type"] == "http.response.start")
        return {k.decode(): v.decode() for k, v in start["headers"]}

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body"))


class Chunks:
    """A ``receive`` that hands out ``n`` chunks of ``size`` bytes and counts how many were asked for."""

    def __init__(self, n: int, size: int) -> None:
        self.n, self.size, self.reads = n, size, 0

    async def __call__(self) -> dict[str, Any]:
        self.reads += 1
        if self.reads > self.n:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": b"x" * self.size, "more_body": self.reads < self.n}


class EchoApp:
    """Reads the whole body and answers 200 with its length."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        body = b""
        while True:
            m = await receive()
            body += m.get("body", b"")
            if not m.get("more_body"):
                break
        payload = json.dumps({"n": len(body)}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})


def _run(mw, scope, receive) -> Sent:
    sent = Sent()
    anyio.run(mw, scope, receive, sent)
    return sent


# -- body limit ---------------------------------------------------------------------------------------------
def test_declared_oversized_body_gets_413_without_a_single_read():
    app, reasons = EchoApp(), []
    mw = BodyLimitMiddleware(app, max_body_bytes=1000, timeout_s=5, on_reject=reasons.append)
    receive = Chunks(n=50_000, size=1000)  # 50 MB if anyone read it
    sent = _run(mw, _scope(headers={"content-length": str(50_000_000)}), receive)
    assert sent.status == 413 and receive.reads == 0 and app.calls == 0
    assert sent.headers["connection"] == "close"
    assert "50000000 bytes" in sent.json["detail"] and "HOTLINE_MAX_BODY_BYTES" in sent.json["detail"]
    assert reasons == ["body_too_large"]


def test_chunked_body_is_cut_off_as_soon_as_it_passes_the_limit():
    app = EchoApp()
    mw = BodyLimitMiddleware(app, max_body_bytes=250, timeout_s=5)
    receive = Chunks(n=1000, size=100)
    sent = _run(mw, _scope(headers={"transfer-encoding": "chunked"}), receive)
    assert sent.status == 413 and receive.reads == 3 and app.calls == 0  # 300 bytes > 250: stop there


def test_body_under_the_limit_reaches_the_app_whole():
    app = EchoApp()
    mw = BodyLimitMiddleware(app, max_body_bytes=1000, timeout_s=5)
    sent = _run(mw, _scope(headers={"transfer-encoding": "chunked"}), Chunks(n=4, size=250))
    assert sent.status == 200 and sent.json == {"n": 1000}
    sent = _run(mw, _scope(method="GET", path="/healthz"), Chunks(n=1, size=0))
    assert sent.status == 200 and sent.json == {"n": 0}


def test_a_body_that_does_not_arrive_in_time_gets_408():
    reasons: list[str] = []

    async def stalled() -> dict[str, Any]:
        await anyio.sleep_forever()

    mw = BodyLimitMiddleware(EchoApp(), max_body_bytes=1000, timeout_s=0.05, on_reject=reasons.append)
    sent = _run(mw, _scope(headers={"content-length": "10"}), stalled)
    assert sent.status == 408 and "HOTLINE_BODY_TIMEOUT_S" in sent.json["detail"] and reasons == ["body_timeout"]


@pytest.mark.parametrize("value", ["abc", "-1", "1e9"])
def test_a_malformed_content_length_gets_400(value):
    sent = _run(BodyLimitMiddleware(EchoApp(), max_body_bytes=1000, timeout_s=5),
                _scope(headers={"content-length": value}), Chunks(1, 1))
    assert sent.status == 400 and "Content-Length" in sent.json["detail"]


def test_limits_must_be_positive():
    with pytest.raises(InvalidInputError, match="max_body_bytes must be > 0, got 0"):
        BodyLimitMiddleware(EchoApp(), max_body_bytes=0, timeout_s=1)
    with pytest.raises(InvalidInputError, match="max_in_flight must be > 0, got 0"):
        InFlightLimitMiddleware(EchoApp(), max_in_flight=0)


# -- in-flight bound ----------------------------------------------------------------------------------------
class HeldApp:
    """Answers 200 once ``release`` is set; ``entered`` counts requests that reached it."""

    def __init__(self) -> None:
        self.release = anyio.Event()
        self.entered = 0

    async def __call__(self, scope, receive, send) -> None:
        self.entered += 1
        if scope["path"] != "/healthz":
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def test_past_max_in_flight_requests_get_503_at_once_and_healthz_still_answers():
    app, reasons = HeldApp(), []
    mw = InFlightLimitMiddleware(app, max_in_flight=2, retry_after_s=3, on_reject=reasons.append)
    held = [Sent(), Sent()]
    results: dict[str, Sent] = {}

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for s in held:
                tg.start_soon(mw, _scope(), Chunks(1, 0), s)
            while app.entered < 2:  # both held requests are inside the app
                await anyio.sleep(0)
            results["over"] = Sent()
            await mw(_scope(), Chunks(1, 0), results["over"])  # returns at once: nothing waits
            results["health"] = Sent()
            await mw(_scope("/healthz", "GET"), Chunks(1, 0), results["health"])
            results["metrics_in_flight"] = mw.in_flight  # type: ignore[assignment]
            app.release.set()
        results["after"] = Sent()
        await mw(_scope(), Chunks(1, 0), results["after"])

    anyio.run(main)
    over = results["over"]
    assert over.status == 503 and over.headers["retry-after"] == "3" and "HOTLINE_MAX_IN_FLIGHT" in over.json["detail"]
    assert results["health"].status == 200
    assert results["metrics_in_flight"] == 2
    assert [s.status for s in held] == [200, 200] and results["after"].status == 200
    assert reasons == ["overloaded"] and mw.in_flight == 0


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_the_bound_shrinks_while_requests_are_slow_and_grows_back_when_they_are_quick():
    clock = FakeClock()

    async def timed(scope, receive, send) -> None:
        clock.t += float(scope["path"].rsplit("/", 1)[1])  # /work/<seconds>: the request takes that long
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    mw = InFlightLimitMiddleware(timed, max_in_flight=20, min_in_flight=2, target_latency_s=0.25, clock=clock)
    for _ in range(100):
        _run(mw, _scope("/work/0.9"), Chunks(1, 0))
    assert mw.limit == 2  # slow: down to the floor, never under it
    for _ in range(40):
        _run(mw, _scope("/work/0.01"), Chunks(1, 0))
    assert 6 < mw.limit < 20  # quick again: additive increase, one step of 1/limit per request
    for _ in range(2000):
        _run(mw, _scope("/work/0.01"), Chunks(1, 0))
    assert mw.limit == 20  # never over max_in_flight
    fixed = InFlightLimitMiddleware(timed, max_in_flight=5, clock=clock)
    _run(fixed, _scope("/work/9"), Chunks(1, 0))
    assert fixed.limit == 5  # no latency target: a fixed bound


def test_the_refusal_uses_the_current_bound():
    app = HeldApp()
    mw = InFlightLimitMiddleware(app, max_in_flight=10, min_in_flight=1, target_latency_s=0.1)
    mw.limit = 1.0  # as if the machine had been slow
    out: dict[str, Sent] = {}

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(mw, _scope(), Chunks(1, 0), Sent())
            while app.entered < 1:
                await anyio.sleep(0)
            out["second"] = Sent()
            await mw(_scope(), Chunks(1, 0), out["second"])
            app.release.set()

    anyio.run(main)
    assert out["second"].status == 503 and "limit of 1 requests" in out["second"].json["detail"]


def test_the_bound_options_are_checked():
    with pytest.raises(InvalidInputError, match=r"min_in_flight must be between 1 and max_in_flight \(4\), got 5"):
        InFlightLimitMiddleware(EchoApp(), max_in_flight=4, min_in_flight=5)
    with pytest.raises(InvalidInputError, match="target_latency_s must be > 0 or None, got 0"):
        InFlightLimitMiddleware(EchoApp(), max_in_flight=4, target_latency_s=0)


def test_a_failing_request_frees_its_slot():
    async def boom(scope, receive, send) -> None:
        raise RuntimeError("model crashed")

    mw = InFlightLimitMiddleware(boom, max_in_flight=1)
    with pytest.raises(RuntimeError):
        anyio.run(mw, _scope(), Chunks(1, 0), Sent())
    assert mw.in_flight == 0


# -- rate limits --------------------------------------------------------------------------------------------
def test_rate_limit_per_key_with_retry_after():
    reasons: list[str] = []
    mw = RateLimitMiddleware(EchoApp(), rate="2/minute", on_reject=reasons.append)
    alice = {"authorization": "Bearer alice-secret"}
    statuses = [_run(mw, _scope(headers=alice), Chunks(1, 0)).status for _ in range(2)]
    third = _run(mw, _scope(headers=alice), Chunks(1, 0))
    assert statuses == [200, 200] and third.status == 429
    assert 1 <= int(third.headers["retry-after"]) <= 60 and "HOTLINE_RATE_LIMIT=2/minute" in third.json["detail"]
    # another key, and the same IP without a key, have their own windows; probes are never limited
    assert _run(mw, _scope(headers={"authorization": "Bearer bob"}), Chunks(1, 0)).status == 200
    assert _run(mw, _scope(), Chunks(1, 0)).status == 200
    assert all(_run(mw, _scope("/healthz", "GET", headers=alice), Chunks(1, 0)).status == 200 for _ in range(5))
    assert reasons == ["rate_limited"]


def test_rate_key_hashes_the_token_and_falls_back_to_the_ip():
    key = rate_key(_scope(headers={"authorization": "Bearer s3cret"}))
    assert key.startswith("key:") and "s3cret" not in key
    assert rate_key(_scope(client="192.0.2.7")) == "ip:192.0.2.7"
    assert rate_key(_scope(headers={"authorization": "Basic abc"}, client="192.0.2.7")) == "ip:192.0.2.7"


def test_rate_notation():
    assert parse_rate("") == [] and parse_rate("  ") == []
    assert len(parse_rate("20/second;600/minute")) == 2
    with pytest.raises(InvalidInputError, match=r"HOTLINE_RATE_LIMIT.*'lots'"):
        parse_rate("lots")
    assert _run(RateLimitMiddleware(EchoApp(), rate=""), _scope(), Chunks(1, 0)).status == 200


# -- wired into the app -------------------------------------------------------------------------------------
def test_create_app_refuses_oversized_bodies_and_keeps_healthz(tmp_path):
    from hotline.serve.app import create_app

    app = create_app(Settings(home=tmp_path, auth_enabled=False, max_body_bytes=2000))
    c = TestClient(app)  # no lifespan: no models needed to refuse a body
    big = json.dumps({"texts": ["宽带连不上" * 1000]})
    r = c.post("/v1/classify", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "PayloadTooLarge"
    assert len(r.content) < 500  # nothing of the body comes back
    r = c.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_a_bad_rate_limit_setting_fails_at_startup(tmp_path):
    from hotline.serve.app import create_app

    with pytest.raises(InvalidInputError, match="HOTLINE_RATE_LIMIT"):
        create_app(Settings(home=tmp_path, auth_enabled=False, rate_limit="fast"))
