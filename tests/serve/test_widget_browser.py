"""The agent widget end to end: a real uvicorn server, Debian's chromium driven by Playwright.

The browser tests skip (with the reason) when /usr/bin/chromium or the ``playwright`` package is missing;
install them with ``apt-get install -y chromium`` and ``pip install playwright`` (no browser download).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from hotline.eval.benchmarks.server import running_server
from hotline.pipeline.live.notices import CHINA_TZ
from hotline.serve.app import create_app
from hotline.serve.routers import widget

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
WAIT_MS = 20_000

NOTICE_SCRIPT = "您好，您所在的西湖区因光缆被挖断正在抢修，预计今天20点前恢复，给您带来不便非常抱歉。"
UTTERANCES = [
    "我家宽带从昨天晚上开始就断网了，一直上不了网",
    "光猫上的LOS灯一直亮红灯，重启了好几次也没用",
    "我的电话是13812345678",
    "地址是西湖区文三路90号东部软件园3幢1201",
]
THREAT = "再不修我就去工信部投诉你们"


def _app(settings):
    """The app with the widget router (added here until serve/app.py includes it)."""
    app = create_app(settings)
    if not any(getattr(r, "path", None) == "/widget" for r in app.routes):
        app.include_router(widget.router)
    return app


# -- the router alone (no browser) ------------------------------------------------------------------
def test_widget_routes_and_taxonomy(tiny_home, bearer):
    with TestClient(_app(tiny_home), headers=bearer(tiny_home, "agent")) as client:
        r = client.get("/", follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"] == "/widget"
        page = client.get("/widget")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert 'data-testid="faq-list"' in page.text and "/widget/widget.js" in page.text
        js = client.get("/widget/widget.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        # all server text goes through textContent / text nodes, never through the HTML parser
        assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write", js.text)
        assert client.get("/widget/widget.css").headers["content-type"].startswith("text/css")
        assert client.get("/widget/../app.py").status_code == 404
        assert client.get("/widget/secret.txt").status_code == 404
        tax = client.get("/v1/taxonomy").json()
        cc = {c["code"]: c for c in tax["codes"]}
        assert cc["broadband.cannot_connect"]["service_name"] == "家庭宽带"
        assert cc["broadband.cannot_connect"]["phenomenon"] == "宽带断网"
        assert {"service": "broadband", "name": "家庭宽带"} in tax["services"]


# -- the browser ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tiny_home):
    with running_server(_app(tiny_home)) as url:
        yield url


@pytest.fixture(scope="module")
def agent_key(tiny_home, new_key):
    """The desk's agent key: the telephony side opens calls with it and the widget carries it (#key=…)."""
    return new_key(tiny_home, "agent")


@pytest.fixture(scope="module")
def supervisor(tiny_home, bearer):
    return bearer(tiny_home, "supervisor")


@pytest.fixture(scope="module")
def http(server, agent_key):
    with httpx.Client(base_url=server, timeout=30, headers={"Authorization": f"Bearer {agent_key}"}) as client:
        yield client


def _notice(region: str) -> dict:
    now = datetime.now(CHINA_TZ)
    return {"title": "西湖区光缆中断抢修", "kind": "outage", "regions": [region], "services": ["broadband"],
            "starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(hours=6)).isoformat(),
            "script": NOTICE_SCRIPT}


@pytest.mark.browser
def test_widget_live_call(server, http, browser, agent_key, supervisor):
    from playwright.sync_api import expect

    call_id = "widget-e2e-1"
    assert http.post("/v1/calls", json={"call_id": call_id, "region": "杭州市西湖区"}).status_code == 201
    assert http.post("/v1/notices", json=_notice("杭州市"), headers=supervisor).status_code == 201

    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(str(e)))
    page.goto(f"{server}/widget?call={call_id}#key={agent_key}")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live", timeout=WAIT_MS)

    # the first turns arrive over the WebSocket (posted by "the telephony side"), the rest via the demo form
    for text in UTTERANCES[:2]:
        assert http.post(f"/v1/calls/{call_id}/utterances", json={"speaker": "customer", "text": text}).status_code == 200
    expect(page.get_by_test_id("turn")).to_have_count(2, timeout=WAIT_MS)
    page.get_by_test_id("speaker-agent").check()
    page.get_by_test_id("utterance-text").fill("请问您的联系电话和装机地址是？")
    page.get_by_test_id("utterance-send").click()
    turns = page.get_by_test_id("turn")
    expect(turns).to_have_count(3, timeout=WAIT_MS)
    page.get_by_test_id("speaker-customer").check()
    for shown, text in enumerate(UTTERANCES[2:], start=4):
        page.get_by_test_id("utterance-text").fill(text)
        page.get_by_test_id("utterance-send").click()
        expect(turns).to_have_count(shown, timeout=WAIT_MS)
        expect(page.get_by_test_id("utterance-text")).to_have_value("", timeout=WAIT_MS)
    expect(turns).to_have_count(5, timeout=WAIT_MS)
    expect(turns.nth(0)).to_have_attribute("data-speaker", "customer")
    expect(turns.nth(2)).to_have_attribute("data-speaker", "agent")
    expect(turns.nth(0)).to_contain_text("断网")

    # category
    expect(page.get_by_test_id("category-phenomenon")).to_have_text("宽带断网", timeout=WAIT_MS)
    expect(page.get_by_test_id("category-service")).to_have_text("家庭宽带")
    bar = page.get_by_test_id("category-confidence")
    assert 0 < int(bar.get_attribute("aria-valuenow")) <= 100

    # FAQ cards
    cards = page.get_by_test_id("faq-card")
    expect(cards.first).to_be_visible(timeout=WAIT_MS)
    assert cards.count() >= 1
    expect(cards.first.get_by_test_id("faq-answer")).not_to_be_empty()

    # the notice banner, with its script, is the first thing on the page
    banner = page.get_by_test_id("notice-banner")
    expect(banner).to_be_visible(timeout=WAIT_MS)
    expect(banner.get_by_test_id("notice-script")).to_have_text(NOTICE_SCRIPT)
    first_visible = page.evaluate(
        "() => [...document.querySelector('main').children].find(e => !e.hidden && e.offsetParent !== null)"
        ".dataset.testid")
    assert first_visible == "notice-banner"
    assert banner.bounding_box()["y"] < page.get_by_test_id("category").bounding_box()["y"]

    # the ticket: phone masked, missing required fields highlighted, suggested questions
    phone = page.locator('[data-testid="ticket-field"][data-field="phone"]')
    expect(phone).to_contain_text("138****5678", timeout=WAIT_MS)
    assert "13812345678" not in page.content()
    missing = page.locator('[data-testid="ticket-field"][data-missing="true"]')
    expect(missing.first).to_be_visible()
    expect(missing.first).to_have_class(re.compile(r"\bmissing\b"))
    expect(missing.first).to_contain_text("待补充")
    bg = missing.first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert bg not in ("rgba(0, 0, 0, 0)", "transparent")
    expect(page.get_by_test_id("suggested-question").first).to_be_visible()
    expect(page.get_by_test_id("checklist-item").first).to_be_visible()

    # escalation: none yet; the threat raises a red warning quoting the utterance
    expect(page.get_by_test_id("escalation")).to_be_hidden()
    assert http.post(f"/v1/calls/{call_id}/utterances", json={"speaker": "customer", "text": THREAT}).status_code == 200
    esc = page.get_by_test_id("escalation")
    expect(esc).to_be_visible(timeout=WAIT_MS)
    expect(esc.get_by_test_id("escalation-utterance").first).to_contain_text(THREAT)
    expect(esc.locator("mark").first).to_contain_text("工信部")
    assert esc.evaluate("e => getComputedStyle(e).color") != "rgb(31, 41, 51)"  # not the normal ink

    # feedback: 已使用 on the first FAQ, 分类不对 → broadband.slow
    faq_id = cards.first.get_attribute("data-faq-id")
    cards.first.get_by_test_id("faq-used").click()
    expect(cards.first).to_have_class(re.compile(r"\bused\b"), timeout=WAIT_MS)
    page.get_by_test_id("category-wrong").click()
    page.get_by_test_id("category-search").fill("broadband.slow")  # the picker finds a code as typed
    page.get_by_test_id("category-search").press("Enter")
    page.get_by_test_id("category-fix-submit").click()
    expect(page.locator("#cat-feedback-msg")).to_contain_text("已提交更正", timeout=WAIT_MS)
    expect(page.get_by_test_id("category-fix-form")).to_be_hidden()

    rows = http.get("/v1/feedback", headers=supervisor).json()["feedback"]
    mine = [r for r in rows if r["call_id"] == call_id]
    assert any(r["kind"] == "suggestion_used" and r["target"] == faq_id for r in mine), mine
    wrong = [r for r in mine if r["kind"] == "category_wrong"]
    assert wrong and wrong[0]["target"] == "broadband.cannot_connect" and wrong[0]["correct_label"] == "broadband.slow"
    assert "13812345678" not in str(rows)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget.png"), full_page=True)
    assert not console_errors, console_errors
    page.close()


@pytest.mark.browser
def test_widget_category_picker_searches_and_works_from_the_keyboard(server, http, browser, agent_key, supervisor):
    """分类不对: type part of a Chinese name, move with the arrow keys, Enter chooses, Enter again submits; the
    feedback row arrives with the code picked."""
    from playwright.sync_api import expect

    call_id = "widget-e2e-picker"
    assert http.post("/v1/calls", json={"call_id": call_id, "region": "杭州市西湖区"}).status_code == 201
    assert http.post(f"/v1/calls/{call_id}/utterances",
                     json={"speaker": "customer", "text": UTTERANCES[0]}).status_code == 200
    page = browser.new_page(locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server}/widget?call={call_id}#key={agent_key}")
    expect(page.get_by_test_id("category-phenomenon")).to_have_text("宽带断网", timeout=WAIT_MS)

    page.get_by_test_id("category-wrong").click()
    search = page.get_by_test_id("category-search")
    expect(search).to_be_focused()
    options = page.get_by_test_id("category-option")
    expect(options).to_have_count(41)  # the whole taxonomy but the current label (from GET /v1/taxonomy)
    page.keyboard.type("网速慢")
    # 网速慢 (data.slow) and 宽带网速慢 (broadband.slow), in taxonomy order
    expect(options).to_have_count(2)
    assert [options.nth(i).get_attribute("data-code") for i in range(2)] == ["data.slow", "broadband.slow"]
    expect(search).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowDown")
    active = page.locator("#" + search.get_attribute("aria-activedescendant"))
    expect(active).to_have_attribute("data-code", "broadband.slow")
    expect(active).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Enter")  # chooses; the list closes
    expect(page.get_by_test_id("category-options")).to_be_hidden()
    expect(page.get_by_test_id("category-select")).to_have_value("broadband.slow")
    expect(page.get_by_test_id("category-chosen")).to_contain_text("宽带网速慢")

    # the code works as a search too, and Escape closes the list without choosing
    search.fill("sms.")
    expect(options).to_have_count(3)
    expect(page.get_by_test_id("category-select")).to_have_value("")  # typing again drops the choice
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("category-options")).to_be_hidden()
    search.fill("没有这种分类")
    expect(options).to_have_count(0)
    page.get_by_test_id("category-fix-submit").click()
    expect(page.locator("#cat-feedback-msg")).to_contain_text("请从列表中选择", timeout=WAIT_MS)

    search.fill("宽带 慢")  # every term must match
    expect(options).to_have_count(1)
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # submits the form
    expect(page.locator("#cat-feedback-msg")).to_contain_text("已提交更正", timeout=WAIT_MS)
    expect(page.get_by_test_id("category-fix-form")).to_be_hidden()

    rows = http.get("/v1/feedback", headers=supervisor).json()["feedback"]
    wrong = [r for r in rows if r["call_id"] == call_id and r["kind"] == "category_wrong"]
    assert len(wrong) == 1 and wrong[0]["correct_label"] == "broadband.slow", wrong
    assert wrong[0]["target"] == "broadband.cannot_connect"
    assert not errors, errors
    page.close()


@pytest.mark.browser
def test_widget_escapes_text_and_polls_without_websocket(server, http, browser, agent_key):
    from playwright.sync_api import expect

    call_id = "widget-e2e-poll"
    assert http.post("/v1/calls", json={"call_id": call_id, "region": "广州市天河区"}).status_code == 201
    page = browser.new_page()
    page.goto(f"{server}/widget?call={call_id}&transport=poll#key={agent_key}")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "polling", timeout=WAIT_MS)
    hostile = '<img src=x onerror="window.pwned=1">宽带<b>断网</b>了'
    assert http.post(f"/v1/calls/{call_id}/utterances", json={"speaker": "customer", "text": hostile}).status_code == 200
    turn = page.get_by_test_id("turn-text").first
    expect(turn).to_contain_text("<img", timeout=WAIT_MS)  # shown as text, not parsed
    assert page.locator("#transcript img, #transcript b").count() == 0
    assert page.evaluate("() => window.pwned === undefined")

    # ending the call stops the widget and shows the summary
    page.get_by_test_id("end-call").click()
    expect(page.get_by_test_id("summary")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "ended")
    page.close()


@pytest.mark.browser
def test_widget_unknown_call_shows_error(server, browser, agent_key):
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(f"{server}/widget#key={agent_key}")
    page.get_by_test_id("call-id-input").fill("no-such-call")
    page.get_by_test_id("join-button").click()
    expect(page.get_by_test_id("error")).to_contain_text("找不到通话", timeout=WAIT_MS)
    page.close()
