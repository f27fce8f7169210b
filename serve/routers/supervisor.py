"""The supervisor page: the knowledge base's review queue, a draft editor, publish and rollback, the releases.

``GET /supervisor`` is the page, ``GET /supervisor/supervisor.js`` and ``/supervisor/supervisor.css`` its script
and style (``serve/static/``, nothing from a CDN). Like the widget, the key travels in the URL fragment
(``/supervisor#key=KEY``), never to the server in a URL; the page calls ``/v1/kb/*`` with it (supervisor role).
It runs no inline code: the responses carry a ``'self'``-only Content-Security-Policy and are never framed.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from hotline.serve.headers import widget_csp
from hotline.serve.routers.widget import STATIC_DIR

__all__ = ["router"]

router = APIRouter(tags=["supervisor"])

_ASSETS = {
    "supervisor.js": "text/javascript; charset=utf-8",
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
    return FileResponse(_path("supervisor.html"), media_type="text/html; charset=utf-8", headers=_HEADERS)


@router.get("/supervisor/{name}", include_in_schema=False)
def supervisor_asset(name: str) -> FileResponse:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail=f"no supervisor asset {name!r:.80}; valid: {sorted(_ASSETS)}")
    return FileResponse(_path(name), media_type=media_type, headers=_HEADERS)


def _path(name: str):
    path = STATIC_DIR / name
    if not path.is_file():
        raise HTTPException(status_code=500, detail=f"supervisor page file {name} is missing; reinstall the package")
    return path
