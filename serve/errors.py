"""Domain errors → HTTP errors (the only place that mapping lives)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from hotline.core.errors import ArtifactError, ConflictError, InvalidInputError, NotFittedError, NotFoundError

__all__ = ["install_error_handlers"]

_STATUS = {InvalidInputError: 422, NotFoundError: 404, ConflictError: 409, ArtifactError: 503, NotFittedError: 503}


def install_error_handlers(app: FastAPI) -> None:
    for exc_type, status in _STATUS.items():
        def handler(request: Request, exc: Exception, status: int = status) -> JSONResponse:
            return JSONResponse(status_code=status, content={"detail": str(exc), "error": type(exc).__name__})

        app.add_exception_handler(exc_type, handler)
