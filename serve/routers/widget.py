"""The agent widget: one self-contained page (``serve/static/widget.*``) plus the taxonomy it lists.

``GET /`` redirects to ``/widget``; ``GET /widget`` is the page (``?call=ID`` joins a call at once);
``GET /widget/widget.js`` and ``/widget/widget.css`` are its script and style; ``GET /v1/taxonomy``
lists the leaf codes with their service and phenomenon names for the "分类不对" (wrong category) menu.
The page talks to the live-call API only (``/v1/calls``, ``/v1/feedback``); nothing here holds state.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

from hotline.core.taxonomy import default_taxonomy

__all__ = ["router", "STATIC_DIR", "static_asset"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

# name → media type; only these files are served, so no path from the URL ever reaches the disk
_ASSETS = {
    "widget.js": "text/javascript; charset=utf-8",
    "hotline-api.js": "text/javascript; charset=utf-8",  # the key and fetch helper both pages share
    "widget.css": "text/css; charset=utf-8",
}
# The page is the agent's live view: always revalidate, so a redeploy is picked up on reload.
_NO_CACHE = {"Cache-Control": "no-cache"}

router = APIRouter(tags=["widget"])


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    """The widget is the only page; send browsers there."""
    return RedirectResponse(url="/widget", status_code=307)


@router.get("/widget", include_in_schema=False)
def widget_page() -> FileResponse:
    """The agent widget (``/widget?call=ID`` joins that call)."""
    return FileResponse(_asset_path("widget.html"), media_type="text/html; charset=utf-8", headers=_NO_CACHE)


@router.get("/widget/{name}", include_in_schema=False)
def widget_asset(name: str) -> FileResponse:
    """The widget's script and style sheet."""
    return static_asset(name, _ASSETS, headers=_NO_CACHE, page="widget")


def static_asset(name: str, assets: dict[str, str], *, headers: dict[str, str], page: str) -> FileResponse:
    """One of a page's files from ``serve/static`` (``assets``: name → media type; any other name is a 404, so no
    path from the URL reaches the disk)."""
    media_type = assets.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail=f"no {page} asset {name!r:.80}; valid: {sorted(assets)}")
    return FileResponse(_asset_path(name), media_type=media_type, headers=headers)


@router.get("/v1/taxonomy")
def taxonomy() -> dict[str, Any]:
    """Leaf codes with service and phenomenon names (``broadband.cannot_connect`` → 家庭宽带 / 宽带断网)."""
    return _taxonomy_payload()


@lru_cache(maxsize=1)
def _taxonomy_payload() -> dict[str, Any]:
    tax = default_taxonomy()
    codes = [
        {"code": e.code, "service": e.service_code, "service_name": e.service, "phenomenon": e.phenomenon,
         "scope": e.scope, "is_complaint": e.is_complaint}
        for e in tax.entries
    ]
    services = [{"service": s, "name": tax.service_name(s)} for s in tax.services]
    return {"codes": codes, "services": services}


def _asset_path(name: str) -> Path:
    path = STATIC_DIR / name
    if not path.is_file():
        # a broken install (package data missing), not a client error
        raise HTTPException(status_code=500, detail=f"page file {path.name} is missing from the install; reinstall "
                                                    "the package")
    return path
