"""Response headers for the HTML pages Hotline serves (the API docs).

The docs pages may load only what this server sends: a ``Content-Security-Policy`` of ``'self'`` keeps the
browser from fetching anything else — ReDoc's bundle, for one, links a hosted logo, which an on-prem centre
cannot reach and should not try to. Inline script and style stay allowed because FastAPI's docs pages and
ReDoc use them; ReDoc runs its search in a ``blob:`` worker.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DocsHeadersMiddleware", "DOCS_CSP"]

DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_HEADERS = [
    (b"content-security-policy", DOCS_CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class DocsHeadersMiddleware:
    """Pure ASGI middleware: adds the headers above to responses under ``paths``; other routes pay nothing."""

    def __init__(self, app: Any, *, paths: tuple[str, ...] = ("/docs", "/redoc")) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.paths):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)
