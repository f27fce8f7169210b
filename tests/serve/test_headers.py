"""Security headers on the widget and the docs; no absolute paths in /readyz."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hotline.core.settings import Settings
from hotline.serve.app import create_app
from hotline.serve.routers.health import build_id, public_models


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    return TestClient(create_app(Settings(home=tmp_path_factory.mktemp("home"), auth_enabled=False)))


def _csp(headers) -> dict[str, str]:
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in (p.strip() for p in headers["content-security-policy"].split(";"))}


@pytest.mark.parametrize("path", ["/widget", "/widget/widget.js", "/widget/hotline-api.js", "/widget/widget.css"])
def test_widget_is_self_only_with_no_inline_script(client, path):
    r = client.get(path)
    assert r.status_code == 200
    csp = _csp(r.headers)
    assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'" and csp["connect-src"] == "'self'"
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    assert csp["frame-ancestors"] == "'self'" and r.headers["x-frame-options"] == "SAMEORIGIN"
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in r.headers["permissions-policy"] and "microphone=()" in r.headers["permissions-policy"]


def test_widget_page_needs_nothing_the_policy_forbids(client):
    html = client.get("/widget").text
    assert "<script>" not in html and " style=" not in html and " onclick=" not in html
    assert 'src="/widget/widget.js"' in html and 'src="/widget/hotline-api.js"' in html


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_are_self_only_and_never_framed(client, path):
    r = client.get(path)
    assert r.status_code == 200
    csp = _csp(r.headers)
    assert csp["default-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"


def test_api_replies_get_nosniff_only(client):
    r = client.get("/healthz")
    assert r.headers["x-content-type-options"] == "nosniff" and "content-security-policy" not in r.headers


@pytest.mark.parametrize("ancestors, xfo", [("'none'", "DENY"), ("https://crm.example.cn", None)])
def test_who_may_frame_the_widget_is_a_setting(tmp_path, ancestors, xfo):
    c = TestClient(create_app(Settings(home=tmp_path, auth_enabled=False, widget_frame_ancestors=ancestors)))
    r = c.get("/widget")
    assert _csp(r.headers)["frame-ancestors"] == ancestors and r.headers.get("x-frame-options") == xfo


# -- /readyz -----------------------------------------------------------------------------------------------
class _ReadyPipe:
    ready = True

    def describe(self) -> dict:
        return {"classifier": {"dir": "/root/.hotline/builds/20261201T091654Z/classifier", "builder": "complaint.x",
                               "encoder": "st:/opt/models/bge-small-zh"},
                "index": {"dir": "/root/.hotline/builds/20261201T091654Z/index",
                          "index_dir": "/root/.hotline/builds/20261201T091654Z/index", "top_k": 5}}


def test_readyz_reports_build_ids_not_paths(tmp_path):
    app = create_app(Settings(home=tmp_path, auth_enabled=False))
    c = TestClient(app)
    assert c.get("/readyz").status_code == 503
    app.state.holder._pipeline = _ReadyPipe()
    r = c.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["models"]["classifier"]["build"] == "20261201T091654Z" and body["models"]["index"]["top_k"] == 5
    assert body["models"]["classifier"]["encoder"] == "st:bge-small-zh"
    assert "/root" not in r.text and "/opt" not in r.text


def test_build_id_and_public_models():
    assert build_id("/h/builds/abc/index") == "abc" and build_id("/h/classifier") == "classifier"
    assert build_id("C:\\hl\\builds\\b1\\classifier") == "b1" and build_id("D:\\m\\index") == "index"
    assert public_models({"x": {"dir": "C:\\hl\\builds\\b1\\classifier", "paths": ["/etc/x", "rel/y"]}}) == {
        "x": {"paths": ["x", "rel/y"], "build": "b1"}}
    out = public_models({"x": {"dir": "/a/b/c", "note": "~/secret/file", "n": 3}})
    assert out == {"x": {"note": "file", "n": 3, "build": "c"}}
