"""GET /metrics: Prometheus text with per-route latency, in-flight, rejections, builds, live calls, incidents."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from hotline.core.settings import Settings
from hotline.serve.app import create_app
from hotline.serve.metrics import REJECT_REASONS, ServeMetrics

NOW = datetime(2024, 5, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))


def _samples(text: str) -> list:
    return [s for fam in text_string_to_metric_families(text) for s in fam.samples]


def _value(samples: list, name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def test_metrics_text_has_the_named_metrics(tmp_path):
    app = create_app(Settings(home=tmp_path, auth_enabled=False, max_body_bytes=100))
    c = TestClient(app)  # no lifespan: the engine is not started, which the metrics must survive
    for _ in range(3):
        assert c.get("/healthz").status_code == 200
    c.get("/v1/calls/c-123")  # 503 (engine starting); labelled by its template, not the id
    assert c.post("/v1/classify", content=b"x" * 500, headers={"content-type": "application/json"}).status_code == 413
    r = c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    samples = _samples(r.text)
    names = {s.name for s in samples}
    assert {"hotline_request_duration_seconds_bucket", "hotline_requests_in_flight", "hotline_requests_rejected_total",
            "hotline_build_info", "hotline_live_calls", "hotline_incidents_open", "hotline_streams_open"} <= names
    assert _value(samples, "hotline_request_duration_seconds_count", route="/healthz", status="200") == 3
    assert _value(samples, "hotline_request_duration_seconds_count", route="/v1/calls/{call_id}") == 1
    assert not any("c-123" in str(s.labels) for s in samples)
    assert _value(samples, "hotline_requests_rejected_total", reason="body_too_large") == 1
    assert {s.labels["reason"] for s in samples if s.name == "hotline_requests_rejected_total"} == set(REJECT_REASONS)
    assert _value(samples, "hotline_request_duration_seconds_count", route="<rejected>", status="413") == 1
    assert _value(samples, "hotline_live_calls") == 0
    assert _value(samples, "hotline_in_flight_limit") == 32  # the adaptive bound, at its start (max_in_flight)
    # /metrics itself: exempt from the limits, and not in the API schema
    assert "/metrics" not in app.openapi()["paths"]


def test_openmetrics_when_asked():
    m = ServeMetrics()
    body, ctype = m.render("application/openmetrics-text; version=1.0.0")
    assert ctype.startswith("application/openmetrics-text") and body.rstrip().endswith(b"# EOF")


class _Pipe:
    def describe(self) -> dict:
        return {"classifier": {"dir": "/srv/hotline/builds/20260101T000000Z/classifier", "builder": "b"},
                "index": {"dir": "/srv/hotline/builds/20260101T000000Z/index", "top_k": 5}}


class _Calls:
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def clock(self) -> datetime:
        return NOW


class _Incidents:
    def active(self, at):
        assert at == NOW
        return ["inc-1", "inc-2"]


def test_builds_live_calls_and_incidents_are_read_at_scrape_time():
    m = ServeMetrics()
    app = SimpleNamespace(state=SimpleNamespace(holder=SimpleNamespace(pipeline=_Pipe(), generation=3),
                                                calls=_Calls(7), incidents=_Incidents()))
    m.bind(app)
    samples = _samples(m.render()[0].decode())
    (info,) = [s for s in samples if s.name == "hotline_build_info"]
    assert info.labels == {"generation": "3", "ready": "True", "classifier_build": "20260101T000000Z",
                           "index_build": "20260101T000000Z"}
    assert "/srv" not in m.render()[0].decode()
    assert _value(samples, "hotline_live_calls") == 7 and _value(samples, "hotline_incidents_open") == 2
    app.state.calls.n = 2
    assert _value(_samples(m.render()[0].decode()), "hotline_live_calls") == 2


def test_two_apps_keep_separate_counters(tmp_path):
    a = TestClient(create_app(Settings(home=tmp_path, auth_enabled=False)))
    b = TestClient(create_app(Settings(home=tmp_path, auth_enabled=False)))
    a.get("/healthz")
    assert _value(_samples(a.get("/metrics").text), "hotline_request_duration_seconds_count", route="/healthz") == 1
    assert _value(_samples(b.get("/metrics").text), "hotline_request_duration_seconds_count", route="/healthz") == 0
