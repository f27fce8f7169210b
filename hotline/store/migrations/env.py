"""Alembic environment: migrations run on the connection :func:`hotline.store.db.upgrade` passes in."""

from __future__ import annotations

from alembic import context

from hotline.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through hotline.store.db.upgrade
    raise RuntimeError("run migrations through hotline.store.db.upgrade(), which passes the connection")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
