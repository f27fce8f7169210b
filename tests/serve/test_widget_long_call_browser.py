"""The widget on a long call, in Debian's chromium: states carry only the latest turns, the page shows them all.

The server sends ``HOTLINE_STATE_RECENT_TURNS`` (3 here) turns per state; a widget that joins late, or misses
pushes, fetches ``/v1/calls/{id}/transcript`` once and keeps every turn it has seen. It also runs under the
widget's Content-Security-Policy (no inline code): a violation would show as a console error.
"""

from __future__ import annotations

import httpx
import pytest

from hotline.eval.benchmarks.server import running_server
from hotline.serve.app import create_app

WAIT_MS = 20_000


@pytest.fixture(scope="module")
def server(tiny_home, tmp_path_factory):
    settings = tiny_home.model_copy(update={"state_recent_turns": 3, "auth_enabled": False,
                                            "feedback_db": tmp_path_factory.mktemp("fb") / "feedback.sqlite3"})
    with running_server(create_app(settings)) as url:
        yield url


@pytest.mark.browser
def test_a_late_joiner_sees_every_turn_of_a_long_call(server, browser):
    from playwright.sync_api import expect

    call_id = "widget-long-1"
    with httpx.Client(base_url=server, timeout=30) as http:
        assert http.post("/v1/calls", json={"call_id": call_id, "region": "杭州市西湖区"}).status_code == 201
        for i in range(8):
            r = http.post(f"/v1/calls/{call_id}/utterances",
                          json={"speaker": "agent" if i % 2 else "customer", "text": f"第{i}句，我家宽带连不上了"})
            assert r.status_code == 200 and len(r.json()["turns"]) == min(i + 1, 3)
        csp = http.get("/widget").headers["content-security-policy"]
        assert "script-src 'self'" in csp

        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        console_errors: list[str] = []
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: console_errors.append(str(e)))
        page.goto(f"{server}/widget?call={call_id}")
        expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
        turns = page.get_by_test_id("turn")
        expect(turns).to_have_count(8, timeout=WAIT_MS)  # 3 in the state, the other 5 from the transcript
        expect(turns.nth(0)).to_contain_text("第0句")

        for i in range(8, 12):  # pushed over the socket, 3 turns a state: nothing before them is lost
            assert http.post(f"/v1/calls/{call_id}/utterances",
                             json={"speaker": "customer", "text": f"第{i}句，光猫亮红灯"}).status_code == 200
        expect(turns).to_have_count(12, timeout=WAIT_MS)
        expect(turns.nth(11)).to_contain_text("第11句")
        assert [turns.nth(k).get_attribute("data-idx") for k in range(12)] == [str(k) for k in range(12)]
        page.close()
    assert console_errors == []
