"""``GET /metrics`` in the Prometheus text format, and the middleware that measures every request.

One :class:`ServeMetrics` per app, on its own registry (two apps in one process never share counters):

* ``hotline_request_duration_seconds`` — histogram by ``method``, ``route`` (the route template, such as
  ``/v1/calls/{call_id}/utterances``, so call ids never become labels; ``<rejected>`` for requests refused by
  admission control, ``<unmatched>`` for no route) and ``status``.
* ``hotline_requests_in_flight`` — HTTP requests in progress now; ``hotline_in_flight_limit`` — the adaptive
  bound on them (see :class:`hotline.serve.limits.InFlightLimitMiddleware`).
* ``hotline_requests_rejected_total`` — requests refused by admission control, by ``reason``
  (``body_too_large``, ``body_timeout``, ``rate_limited``, ``overloaded``; see :mod:`hotline.serve.limits`).
* ``hotline_streams_open`` — WebSocket streams open now.
* ``hotline_build_info`` — the loaded builds (ids, not paths) and the pipeline generation.
* ``hotline_live_calls`` and ``hotline_incidents_open`` — read from the live engine at scrape time.

Example:
    >>> metrics = ServeMetrics()
    >>> install_metrics(app, metrics)  # doctest: +SKIP
    >>> metrics.reject("overloaded")
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi import Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from hotline.serve.routers.health import public_models

__all__ = ["ServeMetrics", "MetricsMiddleware", "install_metrics", "REJECT_REASONS"]

REJECT_REASONS = ("body_too_large", "body_timeout", "rate_limited", "overloaded")
# seconds: a live utterance takes tens of milliseconds, an overload shows as the upper buckets
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_UNMATCHED = "<unmatched>"
_REJECTED = "<rejected>"  # refused by admission control before routing
_REFUSED = {408, 413, 429, 503}


class ServeMetrics:
    """The metrics of one app, on their own :class:`~prometheus_client.CollectorRegistry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram("hotline_request_duration_seconds", "HTTP request latency by route template",
                                 ["method", "route", "status"], buckets=_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("hotline_requests_in_flight", "HTTP requests in progress", registry=self.registry)
        self.rejected = Counter("hotline_requests_rejected", "Requests refused by admission control, by reason",
                                ["reason"], registry=self.registry)
        for reason in REJECT_REASONS:  # present from the first scrape, at 0
            self.rejected.labels(reason=reason)
        self.streams = Gauge("hotline_streams_open", "WebSocket streams open", registry=self.registry)

    def reject(self, reason: str) -> None:
        """Count one refused request (the ``on_reject`` hook of :func:`hotline.serve.limits.install_limits`)."""
        self.rejected.labels(reason=reason).inc()

    def bind(self, app: Any) -> None:
        """Also report what ``app.state`` holds at scrape time: builds, live calls, open incidents."""
        self.registry.register(_AppCollector(app))

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition the ``Accept`` header asks for (Prometheus text by default, or OpenMetrics)."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type


class _AppCollector(Collector):
    def __init__(self, app: Any) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        state = self.app.state
        holder = getattr(state, "holder", None)
        pipe = getattr(holder, "pipeline", None)
        info = InfoMetricFamily("hotline_build", "Loaded builds (ids, not paths) and the pipeline generation")
        labels = {"generation": str(getattr(holder, "generation", 0)), "ready": str(bool(pipe is not None))}
        if pipe is not None:
            try:
                for part, desc in public_models(pipe.describe()).items():
                    if isinstance(desc, dict) and desc.get("build"):
                        labels[f"{part}_build"] = str(desc["build"])
            except Exception:  # a half-loaded pipeline must not break the scrape
                pass
        info.add_metric([], labels)
        yield info
        calls = getattr(state, "calls", None)
        live = GaugeMetricFamily("hotline_live_calls", "Calls held by the live engine")
        live.add_metric([], float(len(calls)) if calls is not None else 0.0)
        yield live
        admission = getattr(state, "admission", None)  # the in-flight bound, once the first request built it
        if admission is not None:
            bound = GaugeMetricFamily("hotline_in_flight_limit", "The adaptive bound on requests in progress now")
            bound.add_metric([], float(int(admission.limit)))
            yield bound
        incidents = getattr(state, "incidents", None)
        n_open = 0
        if incidents is not None and calls is not None:
            n_open = len(incidents.active(calls.clock()))
        gauge = GaugeMetricFamily("hotline_incidents_open", "Mass incidents open now")
        gauge.add_metric([], float(n_open))
        yield gauge


class MetricsMiddleware:
    """Pure ASGI: times each HTTP request by route template and counts open WebSocket streams."""

    def __init__(self, app: Any, *, metrics: ServeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            self.metrics.streams.inc()
            try:
                await self.app(scope, receive, send)
            finally:
                self.metrics.streams.dec()
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # the app raised before it answered

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        t0 = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.in_flight.dec()
            route = getattr(scope.get("route"), "path", None) or (_REJECTED if status in _REFUSED else _UNMATCHED)
            self.metrics.latency.labels(method=scope.get("method", ""), route=route,
                                        status=str(status)).observe(time.perf_counter() - t0)


def install_metrics(app: Any, metrics: ServeMetrics) -> None:
    """Add :class:`MetricsMiddleware` and ``GET /metrics`` to ``app``; ``app.state.metrics`` holds ``metrics``."""
    metrics.bind(app)
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    async def metrics_endpoint(request: Request) -> Response:
        """Prometheus text format (OpenMetrics when the scraper asks for it)."""
        body, content_type = metrics.render(request.headers.get("accept", ""))
        return Response(content=body, media_type=content_type)

    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False, tags=["health"])
