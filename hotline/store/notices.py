"""Network notices in the store: every replica reads the same board.

A notice is inserted once and withdrawn by setting ``deleted_at`` (the row stays, for the record).
:meth:`NoticeRepo.active_ids` is what a replica polls to see others' changes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from hotline.core.errors import InvalidInputError, NotFoundError
from hotline.store.db import Database
from hotline.store.tables import notices

__all__ = ["NoticeRepo"]


class NoticeRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def insert(self, notice: dict[str, Any]) -> None:
        """Store a validated notice (JSON-ready dict with ``id``). A duplicate id → InvalidInputError."""
        try:
            with self.db.begin() as conn:
                conn.execute(notices.insert().values(id=notice["id"], body=notice,
                                                     created_at=datetime.now(timezone.utc)))
        except IntegrityError:
            raise InvalidInputError(f"notice id {notice['id']!r} already exists; omit 'id' to get a fresh one") from None

    def delete(self, notice_id: str) -> None:
        with self.db.begin() as conn:
            done = conn.execute(update(notices).where(notices.c.id == notice_id, notices.c.deleted_at.is_(None))
                                .values(deleted_at=datetime.now(timezone.utc))).rowcount
        if not done:
            raise NotFoundError(f"no notice with id {notice_id!r}; list them with GET /v1/notices")

    def active_ids(self) -> set[str]:
        with self.db.connect() as conn:
            return set(conn.execute(select(notices.c.id).where(notices.c.deleted_at.is_(None))).scalars())

    def bodies(self, ids: set[str] | None = None) -> list[dict[str, Any]]:
        """Bodies of the notices not withdrawn (only ``ids`` when given), in insertion order."""
        q = select(notices.c.body).where(notices.c.deleted_at.is_(None)).order_by(notices.c.seq)
        if ids is not None:
            if not ids:
                return []
            q = q.where(notices.c.id.in_(sorted(ids)))
        with self.db.connect() as conn:
            return list(conn.execute(q).scalars())
