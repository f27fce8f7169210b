"""FastAPI application factory. Nothing loads at import; the lifespan loads and warms the pipeline."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from hotline.core.logs import RequestIdMiddleware
from hotline.core.settings import Settings
from hotline.serve.auth import AuthMiddleware, install_auth
from hotline.serve.errors import install_error_handlers
from hotline.serve.headers import SecurityHeadersMiddleware
from hotline.serve.limits import install_limits
from hotline.serve.metrics import ServeMetrics, install_metrics
from hotline.serve.routers import admin, ended, health, kb, live, nlp, supervisor, widget
from hotline.serve.state import PipelineHolder
from hotline.serve.watch import install_build_watcher
from hotline.store.audit import AuditLog
from hotline.store.db import open_database
from hotline.store.keys import KeyStore

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
        await anyio.to_thread.run_sync(_open_store, app)
        await anyio.to_thread.run_sync(holder.load)
        extras = getattr(app.state, "on_startup", [])
        for fn in extras:
            await fn(app)
        try:
            yield
        finally:
            for fn in getattr(app.state, "on_shutdown", []):
                await fn(app)
            app.state.db.dispose()

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
    install_error_handlers(app)
    metrics = ServeMetrics()
    # add_middleware puts each one outside the earlier ones. Outside the error guards (whose strict-JSON check
    # reads and parses the body): the limits (413 before any read, 408, 429, 503), then headers, metrics, request id
    app.add_middleware(AuthMiddleware, fastapi_app=app, settings=settings)  # inside the limits: overload and
    # oversized bodies are refused before any key is looked up
    install_limits(app, settings, on_reject=metrics.reject)
    app.add_middleware(SecurityHeadersMiddleware, frame_ancestors=settings.widget_frame_ancestors)
    install_metrics(app, metrics)  # GET /metrics
    app.add_middleware(RequestIdMiddleware)  # X-Request-ID, request_id in logs, one access line per request
    app.include_router(health.router)
    app.include_router(nlp.build_router(settings))
    live.install(app, settings)  # calls, notices, incidents, feedback (+ their startup/shutdown hooks)
    app.include_router(widget.router)
    app.include_router(admin.router)
    app.include_router(ended.router)
    kb.install(app, settings)  # the knowledge base's lifecycle (supervisors)
    app.include_router(supervisor.router)  # the supervisor page: review queue, editor, releases
    install_build_watcher(app, settings)  # follow promotions and rollbacks of the live build
    install_auth(app, settings)  # last: it checks that every /v1 route has a permission entry
    return app


def _open_store(app: FastAPI) -> None:
    """The durable store (migrated to the current schema), the API keys and the audit log."""
    settings: Settings = app.state.settings
    db = open_database(settings.store_url)
    app.state.db = db
    app.state.keys = KeyStore(db)
    app.state.audit = AuditLog(db)
    logger.info("store: %s", db.describe())
