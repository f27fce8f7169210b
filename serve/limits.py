"""Admission control: request-body limits, slow-body timeouts, per-key rate limits, a bound on in-flight work.

Four pure-ASGI middlewares and one exception handler, so that no single request and no flood of them can
freeze the server:

* :class:`BodyLimitMiddleware` answers **413** to a ``Content-Length`` over ``max_body_bytes`` before reading
  anything, and counts the bytes of a chunked body as they arrive (413 as soon as the count passes the limit,
  the rest is never read). The whole body must arrive within ``timeout_s``, else **408** (slow clients).
  Bodies are buffered (at most ``max_body_bytes``) and replayed to the app.
* :class:`RateLimitMiddleware`: a moving window per key (the ``limits`` library, in memory): the key is a hash
  of the ``Authorization`` bearer token, or the client IP without one. Over the rate: **429** + ``Retry-After``.
* :class:`InFlightLimitMiddleware`: a bound on requests in progress in this process (at most ``max_in_flight``,
  lowered while requests take longer than the latency target); the next one gets **503** + ``Retry-After`` at
  once instead of queueing without bound. ``/healthz``, ``/readyz`` and
  ``/metrics`` are exempt, so probes and scrapes stay fast under overload (and a loaded replica is not taken
  out of rotation by its own readiness probe). WebSocket streams are not counted (their
  number per call is capped by the live engine).
* :func:`install_limits` adds them to an app in the right order. (422 replies echo only a short excerpt of
  each bad input: :mod:`hotline.serve.errors`.)

JSON bodies are decoded on the event loop (by the strict-JSON guard of :mod:`hotline.serve.errors`, then by
FastAPI) before a plain ``def`` endpoint runs in the threadpool; the body limit, checked first, is what keeps
that bounded: a body at the default limit (1 MiB) decodes in a few milliseconds, a larger one is never read.

Example:
    >>> app = create_app(Settings(home="/tmp/hl"))  # doctest: +SKIP
    >>> install_limits(app, Settings(max_in_flight=8), on_reject=print)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import anyio

from hotline.core.errors import InvalidInputError
from hotline.core.settings import Settings

__all__ = ["BodyLimitMiddleware", "InFlightLimitMiddleware", "RateLimitMiddleware", "install_limits", "parse_rate",
           "rate_key", "EXEMPT_PATHS"]

logger = logging.getLogger(__name__)

EXEMPT_PATHS = ("/healthz", "/readyz", "/metrics")  # probes and scrapes: never refused, never counted
_BODYLESS = {"GET", "HEAD", "OPTIONS", "DELETE"}

Reject = Callable[[str], None]


async def _send_json(send: Any, status: int, detail: str, error: str, *,
                     headers: Iterable[tuple[bytes, bytes]] = (), close: bool = False) -> None:
    body = json.dumps({"detail": detail, "error": error}, ensure_ascii=False).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    if close:  # the rest of the body is never read: the connection cannot carry another request
        hdrs.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _header(scope: dict[str, Any], name: bytes) -> list[bytes]:
    return [v for k, v in scope.get("headers", []) if k == name]


# -- body size and slow bodies ----------------------------------------------------------------------
class BodyLimitMiddleware:
    """413 for bodies over ``max_body_bytes`` (declared or counted), 408 when a body takes over ``timeout_s``.

    Args:
        app: The ASGI app to wrap.
        max_body_bytes: Largest accepted body.
        timeout_s: Time allowed for the whole body to arrive, from the first read.
        on_reject: Called with ``"body_too_large"`` or ``"body_timeout"`` (metrics).
    """

    def __init__(self, app: Any, *, max_body_bytes: int, timeout_s: float, on_reject: Reject | None = None) -> None:
        if max_body_bytes <= 0:
            raise InvalidInputError(f"max_body_bytes must be > 0, got {max_body_bytes}")
        if timeout_s <= 0:
            raise InvalidInputError(f"timeout_s must be > 0, got {timeout_s}")
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout_s = timeout_s
        self.on_reject = on_reject

    def _reject(self, reason: str) -> None:
        if self.on_reject is not None:
            self.on_reject(reason)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lengths = _header(scope, b"content-length")
        chunked = any(b"chunked" in v.lower() for v in _header(scope, b"transfer-encoding"))
        declared: int | None = None
        if lengths:
            if len(set(lengths)) > 1 or not lengths[0].strip().isdigit():
                await _send_json(send, 400, f"Content-Length must be one whole number of bytes, got "
                                 f"{b', '.join(lengths)[:40].decode('latin-1')!r}", "BadRequest", close=True)
                return
            declared = int(lengths[0])
            if declared > self.max_body_bytes:
                self._reject("body_too_large")
                await _send_json(send, 413, self._too_large(f"{declared} bytes"), "PayloadTooLarge", close=True)
                return
        if (declared in (None, 0) and not chunked) and (declared == 0 or scope.get("method") in _BODYLESS):
            await self.app(scope, receive, send)
            return

        chunks: list[bytes] = []
        size = 0
        deadline = anyio.current_time() + self.timeout_s
        while True:
            message = None
            with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
                message = await receive()
            if message is None:
                self._reject("body_timeout")
                await _send_json(send, 408, f"the request body did not arrive within {self.timeout_s:g} s "
                                 f"({size} bytes so far; HOTLINE_BODY_TIMEOUT_S); send it in one go",
                                 "RequestTimeout", close=True)
                return
            if message["type"] == "http.disconnect":
                return  # the client left: nobody to answer
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body_bytes:
                self._reject("body_too_large")
                await _send_json(send, 413, self._too_large(f"over {self.max_body_bytes} bytes"),
                                 "PayloadTooLarge", close=True)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break

        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # after the body: only http.disconnect comes

        await self.app(scope, replay, send)

    def _too_large(self, got: str) -> str:
        return (f"request body too large: {got}, the limit is {self.max_body_bytes} bytes (HOTLINE_MAX_BODY_BYTES); "
                "send fewer or shorter texts per request")


# -- in-flight bound --------------------------------------------------------------------------------
class InFlightLimitMiddleware:
    """A bound on HTTP requests in progress; past it the next one gets 503 + ``Retry-After`` at once.

    The bound adapts to how fast this machine serves now (additive increase, multiplicative decrease, as TCP
    does): a request that took longer than ``target_latency_s`` lowers it by 5 % (never under
    ``min_in_flight``), one that was quicker raises it by ``1/limit`` (never over ``max_in_flight``). So on a
    fast or idle machine up to ``max_in_flight`` requests run at once, and on a slow or shared one the bound
    settles where accepted requests take about ``target_latency_s``, instead of every accepted request
    waiting behind a long queue. ``target_latency_s=None`` keeps the bound fixed at ``max_in_flight``.

    Runs on the event loop only, so the counters need no lock.

    Args:
        app: The ASGI app to wrap.
        max_in_flight: Most requests in progress at once (the bound starts here).
        min_in_flight: The bound never goes below this.
        target_latency_s: Latency the adaptive bound aims at; ``None``: a fixed bound.
        retry_after_s: ``Retry-After`` of the 503.
        exempt: Paths never counted nor refused.
        on_reject: Called with ``"overloaded"``.
        clock: Seconds, monotonic (tests pass a fake one).
        state: An object (``app.state``) whose ``admission`` attribute is set to this middleware, so the
            metrics can report the current bound.
    """

    def __init__(self, app: Any, *, max_in_flight: int, min_in_flight: int = 1, target_latency_s: float | None = None,
                 retry_after_s: int = 1, exempt: tuple[str, ...] = EXEMPT_PATHS, on_reject: Reject | None = None,
                 clock: Callable[[], float] = time.perf_counter, state: Any = None) -> None:
        if max_in_flight <= 0:
            raise InvalidInputError(f"max_in_flight must be > 0, got {max_in_flight}")
        if not 0 < min_in_flight <= max_in_flight:
            raise InvalidInputError(f"min_in_flight must be between 1 and max_in_flight ({max_in_flight}), "
                                    f"got {min_in_flight}")
        if target_latency_s is not None and target_latency_s <= 0:
            raise InvalidInputError(f"target_latency_s must be > 0 or None, got {target_latency_s}")
        self.app = app
        self.max_in_flight = max_in_flight
        self.min_in_flight = min_in_flight
        self.target_latency_s = target_latency_s
        self.limit = float(max_in_flight)
        self.retry_after = str(max(1, int(retry_after_s))).encode()
        self.exempt = frozenset(exempt)
        self.on_reject = on_reject
        self.clock = clock
        self.in_flight = 0
        if state is not None:
            state.admission = self

    def observe(self, latency_s: float) -> None:
        """Adapt the bound to one finished request's latency."""
        if self.target_latency_s is None:
            return
        if latency_s > self.target_latency_s:
            self.limit = max(float(self.min_in_flight), self.limit * 0.95)
        else:
            self.limit = min(float(self.max_in_flight), self.limit + 1.0 / self.limit)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= int(self.limit):
            if self.on_reject is not None:
                self.on_reject("overloaded")
            await _send_json(send, 503, f"the server is at its limit of {int(self.limit)} requests in progress "
                             f"(at most HOTLINE_MAX_IN_FLIGHT={self.max_in_flight}, lowered while requests take "
                             f"over HOTLINE_LATENCY_TARGET_MS); retry after {self.retry_after.decode()} s",
                             "Overloaded", headers=[(b"retry-after", self.retry_after)])
            return
        self.in_flight += 1
        t0 = self.clock()
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            self.observe(self.clock() - t0)


# -- per-key rate limits ----------------------------------------------------------------------------
def parse_rate(rate: str) -> list[Any]:
    """``'600/minute'`` or ``'20/second;600/minute'`` → ``limits`` items; ``''`` → no limit.

    Raises:
        InvalidInputError: the string is not in the ``limits`` notation.
    """
    from limits import parse_many

    if not rate or not rate.strip():
        return []
    try:
        return list(parse_many(rate))
    except ValueError as e:
        raise InvalidInputError(
            f"rate_limit must look like '600/minute' or '20/second;600/minute' (HOTLINE_RATE_LIMIT), "
            f"got {rate!r:.80}; an empty value turns it off") from e


def rate_key(scope: dict[str, Any]) -> str:
    """The rate-limit key of a request: ``key:<sha256 of the bearer token>`` or ``ip:<client address>``."""
    for value in _header(scope, b"authorization"):
        scheme, _, token = value.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return "key:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


class RateLimitMiddleware:
    """A moving-window rate per key (:func:`rate_key`); over it: 429 + ``Retry-After``.

    Args:
        app: The ASGI app to wrap.
        rate: The ``limits`` notation, e.g. ``'600/minute'``; ``''`` passes everything.
        exempt: Paths never limited.
        on_reject: Called with ``"rate_limited"``.
    """

    def __init__(self, app: Any, *, rate: str, exempt: tuple[str, ...] = EXEMPT_PATHS,
                 on_reject: Reject | None = None) -> None:
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self.app = app
        self.items = parse_rate(rate)
        self.rate = rate
        self.exempt = frozenset(exempt)
        self.on_reject = on_reject
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not self.items or scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        key = rate_key(scope)
        for item in self.items:
            if not self.limiter.hit(item, key):
                reset = self.limiter.get_window_stats(item, key).reset_time
                retry = max(1, math.ceil(reset - time.time()))
                if self.on_reject is not None:
                    self.on_reject("rate_limited")
                await _send_json(send, 429, f"rate limit of {item} exceeded for this {key.split(':', 1)[0]} "
                                 f"(HOTLINE_RATE_LIMIT={self.rate}); retry after {retry} s", "RateLimited",
                                 headers=[(b"retry-after", str(retry).encode())])
                return
        await self.app(scope, receive, send)


# -- wiring -----------------------------------------------------------------------------------------
def install_limits(app: Any, settings: Settings, *, on_reject: Reject | None = None) -> None:
    """Add the limits to ``app``; outermost first: rate limit, body limit, in-flight bound.

    Rate limiting comes first (cheapest, and a client over its rate never gets its body read); the body is read
    before a request takes an in-flight slot, so slow uploads cannot hold the slots that bound the work.
    """
    parse_rate(settings.rate_limit)  # fail at startup, naming the setting, not on the first request
    # add_middleware puts each new one outside the previous ones
    target = settings.latency_target_ms / 1000 if settings.latency_target_ms > 0 else None
    app.add_middleware(InFlightLimitMiddleware, max_in_flight=settings.max_in_flight,
                       min_in_flight=min(settings.min_in_flight, settings.max_in_flight), target_latency_s=target,
                       retry_after_s=settings.retry_after_s, on_reject=on_reject, state=app.state)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes,
                       timeout_s=settings.body_timeout_s, on_reject=on_reject)
    app.add_middleware(RateLimitMiddleware, rate=settings.rate_limit, on_reject=on_reject)
