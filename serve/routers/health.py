"""Liveness, readiness and hot reload."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from hotline.serve.deps import HolderDep
from hotline.serve.state import ReloadRefusedError

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up. ``async`` on purpose: it answers on the event loop, never waiting for a busy threadpool."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(holder: HolderDep) -> JSONResponse:
    """200 once the models are loaded and warm, 503 before."""
    pipe = holder.pipeline
    if pipe is None or not pipe.ready:
        return JSONResponse(status_code=503, content={"status": "loading"})
    return JSONResponse({"status": "ready", "generation": holder.generation, "models": public_models(pipe.describe())})


_PATH_KEYS = ("dir", "index_dir")
_ABS_PATH = re.compile(r"^([A-Za-z0-9_]+:(?=/(?!/)))?(?:/|~|\\|[A-Za-z]:[\\/])")


def build_id(path: str | Path) -> str:
    """The build a model folder belongs to, without the path: ``<home>/builds/<id>/classifier`` → ``<id>``."""
    parts = [x for x in re.split(r"[\\/]", str(path)) if x]  # POSIX or Windows separators
    if not parts:
        return ""
    return parts[-2] if len(parts) >= 3 and parts[-3] == "builds" else parts[-1]


def public_models(description: dict[str, Any]) -> dict[str, Any]:
    """``AssistPipeline.describe()`` fit for a public reply: folder paths become build ids, nothing absolute stays.

    Example:
        >>> public_models({"classifier": {"dir": "/root/.hotline/builds/2026A/classifier", "builder": "x"}})
        {'classifier': {'builder': 'x', 'build': '2026A'}}
    """
    out: dict[str, Any] = {}
    for name, part in description.items():
        if not isinstance(part, dict):
            out[name] = _no_path(part)
            continue
        clean = {k: _no_path(v) for k, v in part.items() if k not in _PATH_KEYS}
        where = next((part[k] for k in _PATH_KEYS if part.get(k)), None)
        if where is not None:
            clean["build"] = build_id(where)
        out[name] = clean
    return out


def _no_path(value: Any) -> Any:
    """An absolute path (``/…``, ``~/…``, ``C:\\…``, also after a spec prefix like ``st:/…``) becomes its last part."""
    if isinstance(value, str):
        m = _ABS_PATH.match(value)
        return value if m is None else (m.group(1) or "") + re.split(r"[\\/]", value.rstrip("/\\"))[-1]
    if isinstance(value, dict):
        return {k: _no_path(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_path(v) for v in value]
    return value


@router.post("/v1/admin/reload", responses={409: {"description": "the build on disk is incomplete or corrupt; "
                                                   "the current one keeps serving"}})
def reload_models(holder: HolderDep) -> Any:
    """Load the current builds (after ``hotline build``) and switch to them without dropping requests.

    A corrupt or incomplete build is refused with 409 ``{"detail", "error", "file", "generation"}``: ``file``
    is the one at fault (relative to HOTLINE_HOME), ``generation`` the one still serving.
    """
    try:
        pipe = holder.load()
    except ReloadRefusedError as exc:
        return JSONResponse(status_code=409, content={"detail": str(exc), "error": type(exc).__name__,
                                                      "file": exc.file, "generation": exc.generation})
    return {"status": "reloaded", "generation": holder.generation, "models": public_models(pipe.describe())}
