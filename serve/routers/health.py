"""Liveness, readiness and hot reload."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from hotline.serve.deps import HolderDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(holder: HolderDep) -> JSONResponse:
    """200 once the models are loaded and warm, 503 before."""
    pipe = holder.pipeline
    if pipe is None or not pipe.ready:
        return JSONResponse(status_code=503, content={"status": "loading"})
    return JSONResponse({"status": "ready", "generation": holder.generation, "models": pipe.describe()})


@router.post("/v1/admin/reload")
def reload_models(holder: HolderDep) -> dict:
    """Load the current builds (after ``hotline build``) and switch to them without dropping requests."""
    pipe = holder.load()
    return {"status": "reloaded", "generation": holder.generation, "models": pipe.describe()}
