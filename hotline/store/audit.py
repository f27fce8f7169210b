"""The audit log: who (key id, name, role) did what (action, target, status) and when.

Every supervisor and admin request through the API is written here by the serve layer, as are key
management commands from the CLI. Rows are never updated or deleted by Hotline.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from hotline.core.mask import masked_text
from hotline.store.db import Database
from hotline.store.keys import ApiKey, utc
from hotline.store.tables import audit_log

__all__ = ["AuditLog"]


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, action: str, *, key: ApiKey | None = None, target: str | None = None,
               status: int | None = None, detail: dict[str, Any] | None = None) -> None:
        row = {"at": datetime.now(timezone.utc), "action": action[:200], "target": _short(target),
               "status": status, "detail": detail,
               "key_id": key.id if key else None, "key_name": key.name if key else None,
               "role": key.role.value if key else None}
        with self.db.begin() as conn:
            conn.execute(audit_log.insert().values(**row))

    def list(self, *, limit: int = 100, key_id: str | None = None) -> list[dict[str, Any]]:
        q = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if key_id:
            q = q.where(audit_log.c.key_id == key_id)
        with self.db.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [{**dict(r), "at": utc(r["at"]).isoformat()} for r in rows]


def _short(value: str | None) -> str | None:
    return None if value is None else masked_text(value)[:200]
