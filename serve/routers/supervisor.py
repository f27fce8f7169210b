"""The supervisor page: the knowledge base's review queue, a draft editor, publish and rollback, the releases.

``GET /supervisor`` is the page, ``GET /supervisor/supervisor.js`` and ``/supervisor/supervisor.css`` its script
and style (``serve/static/``, nothing from a CDN). Like the widget, the key travels in the URL fragment
(``/supervisor#key=KEY``), never to the server in a URL; the page calls ``/v1/kb/*`` with it (supervisor role).
It runs no inline code: the responses carry a ``'self'``-only Content-Security-Policy and are never framed.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from hotline.serve.headers import widget_csp
from hotline.serve.routers.widget import static_asset

__all__ = ["router"]

router = APIRouter(tags=["supervisor"])

_PAGE = {"supervisor.html": "text/html; charset=utf-8"}
_ASSETS = {
    "supervisor.js": "text/javascript; charset=utf-8",
    "hotline-api.js": "text/javascript; charset=utf-8",  # the key and fetch helper both pages share
    "supervisor.css": "text/css; charset=utf-8",
}
_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": widget_csp("'none'"),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@router.get("/supervisor", include_in_schema=False)
def supervisor_page() -> FileResponse:
    """The supervisor page (``/supervisor#key=KEY``)."""
    return static_asset("supervisor.html", _PAGE, headers=_HEADERS, page="supervisor")


@router.get("/supervisor/{name}", include_in_schema=False)
def supervisor_asset(name: str) -> FileResponse:
    return static_asset(name, _ASSETS, headers=_HEADERS, page="supervisor")
