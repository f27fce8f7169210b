"""/docs and /redoc render with no network: every asset comes from this server (fastapi-offline's bundle).

The browser blocks every request that is not to the test server itself, so a CDN link would leave the page
blank and fail the test, as it would in a call centre with no internet.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from hotline.serve.app import create_app

WAIT_MS = 20_000


@pytest.fixture(scope="module")
def server(tiny_home):
    from hotline.eval.benchmarks.server import running_server

    with running_server(create_app(tiny_home)) as url:
        yield url


def _offline_page(browser, server: str):
    """A page whose requests to anywhere but ``server`` are aborted and recorded."""
    page = browser.new_page()
    own = urlparse(server).netloc
    blocked: list[str] = []

    def route(r):
        if urlparse(r.request.url).netloc == own or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, blocked, errors


@pytest.mark.browser
def test_swagger_ui_renders_offline(server, browser):
    from playwright.sync_api import expect

    page, blocked, errors = _offline_page(browser, server)
    page.goto(f"{server}/docs")
    ops = page.locator(".opblock")
    expect(ops.first).to_be_visible(timeout=WAIT_MS)
    assert ops.count() >= 10  # classify, search, assist, calls, notices, …
    expect(page.locator(".opblock-summary-path", has_text="/v1/assist").first).to_be_visible()
    assert blocked == [] and errors == []
    page.close()


@pytest.mark.browser
def test_redoc_renders_offline(server, browser):
    from playwright.sync_api import expect

    page, blocked, errors = _offline_page(browser, server)
    page.goto(f"{server}/redoc")
    expect(page.get_by_text("/v1/assist").first).to_be_attached(timeout=WAIT_MS)
    expect(page.locator("h1", has_text="Hotline").first).to_be_visible(timeout=WAIT_MS)
    assert blocked == [] and errors == []
    page.close()
