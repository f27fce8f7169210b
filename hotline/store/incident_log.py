"""The incident detector's input log: one global order of call votes for every replica.

Each replica appends its calls' votes (``observe``) and withdrawals (``forget``) and applies everyone's
events in ``seq`` order, so all replicas hold the same incidents with the same ids.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select

from hotline.store.db import Database
from hotline.store.keys import utc
from hotline.store.tables import incident_log

__all__ = ["IncidentLog"]


class IncidentLog:
    def __init__(self, db: Database, *, replica: str | None = None) -> None:
        self.db = db
        self.replica = replica

    def append(self, kind: str, call_id: str, at: datetime, payload: dict[str, Any]) -> int:
        """Write one event; returns its ``seq``."""
        payload = {**payload, "at": at.isoformat()}  # the exact time with its offset; the column is UTC
        with self.db.begin() as conn:
            result = conn.execute(incident_log.insert().values(kind=kind, call_id=call_id,
                                                               at=at.astimezone(timezone.utc), payload=payload,
                                                               replica=self.replica))
            return int(result.inserted_primary_key[0])

    def since(self, seq: int, *, limit: int = 10_000) -> list[dict[str, Any]]:
        """Events after ``seq``, oldest first."""
        q = select(incident_log).where(incident_log.c.seq > seq).order_by(incident_log.c.seq).limit(limit)
        with self.db.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [{**dict(r), "at": utc(r["at"])} for r in rows]

    def replay_start(self, horizon: timedelta) -> int:
        """The ``seq`` to replay after on start: events whose time is within ``horizon`` of the newest."""
        with self.db.connect() as conn:
            newest = conn.execute(select(func.max(incident_log.c.at))).scalar()
            if newest is None:
                return 0
            first = conn.execute(select(func.min(incident_log.c.seq))
                                 .where(incident_log.c.at >= utc(newest) - horizon)).scalar()
        return int(first or 1) - 1
