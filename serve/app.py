"""FastAPI application factory. Nothing loads at import; the lifespan loads and warms the pipeline."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from hotline.core.settings import Settings
from hotline.serve.errors import install_error_handlers
from hotline.serve.headers import DocsHeadersMiddleware
from hotline.serve.routers import health, live, nlp, widget
from hotline.serve.state import PipelineHolder

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. ``with TestClient(create_app(settings))`` runs the lifespan (loads the models).

    Example:
        >>> app = create_app(Settings(home="/tmp/hotline"))  # doctest: +SKIP
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        import anyio

        holder: PipelineHolder = app.state.holder
        await anyio.to_thread.run_sync(holder.load)
        extras = getattr(app.state, "on_startup", [])
        for fn in extras:
            await fn(app)
        try:
            yield
        finally:
            for fn in getattr(app.state, "on_shutdown", []):
                await fn(app)

    # /docs and /redoc from assets shipped in the fastapi-offline package: an on-prem centre has no CDN
    app = FastAPIOffline(
        title="Hotline",
        version="0.1.0",
        description="Agent assist for Chinese telecom call centres: complaint category, FAQ answers, "
        "handling specs and ticket fields, live.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.holder = PipelineHolder(settings)
    app.state.on_startup = []
    app.state.on_shutdown = []
    app.add_middleware(DocsHeadersMiddleware)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(nlp.build_router(settings))
    live.install(app, settings)  # calls, notices, incidents, feedback (+ their startup/shutdown hooks)
    app.include_router(widget.router)
    return app
