"""The supervisor page end to end: a real uvicorn server, Debian's chromium driven by Playwright. A supervisor
writes a draft in the editor, submits it, approves it, publishes it, and sees it published in a new build."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient

from hotline.core.settings import Settings
from hotline.eval.benchmarks.server import running_server
from hotline.serve.app import create_app
from hotline.store.builds import BuildRegistry

WAIT_MS = 120_000  # a publish builds a FAQ index


@pytest.fixture(scope="module")
def home(tmp_path_factory, tiny_home, managed_home) -> Settings:
    return managed_home(tmp_path_factory.mktemp("supervisor") / "home", tiny_home)[0]


def test_page_and_assets(home, bearer):
    with TestClient(create_app(home)) as client:
        page = client.get("/supervisor")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert 'data-testid="review-queue"' in page.text and "/supervisor/supervisor.js" in page.text
        assert "/supervisor/hotline-api.js" in page.text  # the key and fetch helper the widget shares
        for name in ("supervisor.js", "hotline-api.js"):
            js = client.get(f"/supervisor/{name}")
            assert js.status_code == 200 and "javascript" in js.headers["content-type"]
            assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write", js.text)
        assert client.get("/supervisor/hotline-api.js").text == client.get("/widget/hotline-api.js").text
        assert client.get("/supervisor/supervisor.css").headers["content-type"].startswith("text/css")
        assert client.get("/supervisor/../app.py").status_code == 404
        assert client.get("/supervisor/secret.txt").status_code == 404


@pytest.mark.browser
@pytest.mark.slow
def test_supervisor_publishes_a_draft(home, browser, new_key):
    from playwright.sync_api import expect

    key = new_key(home, "supervisor")
    before = BuildRegistry(home).current_id()
    with running_server(create_app(home)) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/supervisor#key={key}")
        expect(page.get_by_test_id("whoami")).to_have_attribute("data-state", "ok", timeout=20_000)
        assert "#key" not in page.url  # the key left the address bar
        expect(page.get_by_test_id("release")).to_have_count(1, timeout=20_000)  # release 1: the imported KB

        page.get_by_test_id("ed-id").fill("kb-browser-1")
        page.get_by_test_id("ed-question").fill("携号转网需要满足什么条件")
        page.get_by_test_id("ed-answer").fill("号码需实名登记、无欠费、不在合约期内，发送CXXZ到10086查询资格。")
        page.get_by_test_id("ed-similar").fill("携号转网有什么要求\n转网要什么条件")
        page.get_by_test_id("save-draft").click()
        draft = page.get_by_test_id("drafts").get_by_test_id("entry").filter(has_text="kb-browser-1")
        expect(draft).to_have_count(1, timeout=20_000)
        draft.get_by_test_id("submit").click()

        queued = page.get_by_test_id("review-queue").get_by_test_id("entry").filter(has_text="kb-browser-1")
        expect(queued).to_have_count(1, timeout=20_000)
        expect(page.get_by_test_id("review-count")).to_have_text("1")
        queued.get_by_test_id("review-note").fill("内容准确")
        queued.get_by_test_id("approve").click()
        approved = page.get_by_test_id("approved").get_by_test_id("entry").filter(has_text="kb-browser-1")
        expect(approved).to_have_count(1, timeout=20_000)

        page.get_by_test_id("publish").click()
        expect(page.get_by_test_id("publish-result")).to_have_text(re.compile(r"已发布：版本 #2"), timeout=WAIT_MS)
        page.get_by_test_id("published-search").fill("kb-browser-1")
        live = page.get_by_test_id("published-list").get_by_test_id("entry").filter(has_text="kb-browser-1")
        expect(live).to_have_count(1, timeout=20_000)
        expect(live.get_by_test_id("entry-state")).to_have_text("已发布")
        expect(page.get_by_test_id("release")).to_have_count(2)
        assert errors == []

        # the new build is live, and the entry is in it
        reg = BuildRegistry(home)
        assert reg.current_id() != before and reg.get(reg.current_id()).source == "kb-publish"
        r = httpx.get(f"{url}/v1/kb/entries/faq/kb-browser-1", headers={"Authorization": f"Bearer {key}"})
        v = r.json()["versions"][-1]
        assert (v["state"], v["live"], v["note"]) == ("published", True, "内容准确")
        page.close()
