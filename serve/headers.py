"""Security headers for the pages Hotline serves: the agent widget and the API docs.

Both pages may load only what this server sends: a ``Content-Security-Policy`` of ``'self'`` keeps the browser
from fetching anything else (ReDoc's bundle, for one, links a hosted logo, which an on-prem centre cannot reach
and should not try to).

* The widget (``/widget``, its script and style) runs no inline code at all: ``script-src 'self'``, and it
  talks only to this origin (``connect-src 'self'`` covers its same-origin WebSocket). It may be framed by pages
  of ``frame_ancestors`` (default ``'self'``: an agent desktop served from the same origin).
* The docs (``/docs``, ``/redoc``) need inline script and style (FastAPI's docs pages and ReDoc use them);
  ReDoc runs its search in a ``blob:`` worker. They are never framed.

Every page gets ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, a ``Permissions-Policy``
that turns off camera, microphone, geolocation and the like, and ``X-Frame-Options`` where framing is refused
or same-origin only. Every other response (the JSON API) gets ``nosniff`` alone.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SecurityHeadersMiddleware", "DOCS_CSP", "widget_csp", "DOCS_PATHS", "WIDGET_PATHS"]

DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
DOCS_PATHS = ("/docs", "/redoc")
WIDGET_PATHS = ("/widget",)
_PERMISSIONS = ("camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), "
                "midi=(), magnetometer=(), gyroscope=(), accelerometer=()")
_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", _PERMISSIONS.encode()),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_API = [(b"x-content-type-options", b"nosniff")]


def widget_csp(frame_ancestors: str = "'self'") -> str:
    """The widget's policy; ``frame_ancestors`` is the CSP source list of pages that may frame it."""
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
            f"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
            f"frame-ancestors {frame_ancestors}")


def _frame_options(frame_ancestors: str) -> list[tuple[bytes, bytes]]:
    # X-Frame-Options only knows DENY and SAMEORIGIN; other origins are left to frame-ancestors
    known = {"'none'": b"DENY", "'self'": b"SAMEORIGIN"}
    value = known.get(frame_ancestors.strip())
    return [(b"x-frame-options", value)] if value else []


class SecurityHeadersMiddleware:
    """Pure ASGI: adds the headers above by path; headers the app set itself are kept.

    Args:
        app: The ASGI app to wrap.
        frame_ancestors: Who may frame the widget, as a CSP source list (``'self'``, ``'none'``,
            ``https://crm.example.cn``).
    """

    def __init__(self, app: Any, *, frame_ancestors: str = "'self'") -> None:
        self.app = app
        self.docs = [(b"content-security-policy", DOCS_CSP.encode()), *_COMMON, (b"x-frame-options", b"DENY")]
        self.widget = [(b"content-security-policy", widget_csp(frame_ancestors).encode()), *_COMMON,
                       *_frame_options(frame_ancestors)]

    def _for(self, path: str) -> list[tuple[bytes, bytes]]:
        if path.startswith(WIDGET_PATHS):
            return self.widget
        if path.startswith(DOCS_PATHS):
            return self.docs
        return _API

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._for(scope["path"])

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                message["headers"] = headers + [(k, v) for k, v in extra if k not in have]
            await send(message)

        await self.app(scope, receive, send_with_headers)
