"""Live-call snapshots and ended calls.

A live call is one ``calls`` row plus one ``call_turns`` row per turn (masked text), written before the
turn is acknowledged; any replica can rebuild the call from them (after a restart, or when a load
balancer sends the next turn elsewhere). ``turns`` on the call row is its version: a replica whose copy
has fewer turns than the row reloads before adding one, and the unique ``(call_id, idx)`` makes a race
between two replicas fail cleanly instead of interleaving.

An ended call moves to ``ended_calls`` (masked transcript plus results, for batch analysis and retraining)
and is purged after the retention period.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from hotline.core.errors import ConflictError
from hotline.store.db import Database
from hotline.store.keys import utc
from hotline.store.tables import call_turns, calls, ended_calls

__all__ = ["CallRepo", "StoredCall", "TurnConflict"]


class TurnConflict(ConflictError):
    """Another replica wrote this turn index first; reload the call and retry."""


class StoredCall(dict):
    """``{"call_id", "owner_key", "region", "started_at", "customer", "turns", "last_activity",
    "transcript": [{"idx", "speaker", "text", "ts", "utterance_id"}]}``."""


def _u(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


class CallRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- live calls -----------------------------------------------------------------------------
    def create(self, call_id: str, *, owner: str | None, region: str, started_at: datetime,
               customer: dict[str, Any], now: datetime) -> None:
        """Insert the call row. A live call with this id → ConflictError."""
        try:
            with self.db.begin() as conn:
                conn.execute(calls.insert().values(call_id=call_id, owner_key=owner, region=region,
                                                   started_at=_u(started_at), customer=customer, turns=0,
                                                   updated_at=datetime.now(timezone.utc), last_activity=_u(now)))
        except IntegrityError:
            raise ConflictError(f"call_id {call_id!r} is already live; use another id or end that call first") from None

    def version(self, call_id: str) -> int | None:
        """Stored turn count, or None when the call is not stored (ended, expired or never started)."""
        with self.db.connect() as conn:
            return conn.execute(select(calls.c.turns).where(calls.c.call_id == call_id)).scalar()

    def append_turn(self, call_id: str, idx: int, *, speaker: str, text: str, ts: datetime,
                    now: datetime | None = None, utterance_id: str | None = None) -> None:
        """Store turn ``idx`` (masked text). TurnConflict if that index exists already."""
        try:
            with self.db.begin() as conn:
                conn.execute(call_turns.insert().values(call_id=call_id, idx=idx, speaker=speaker, text=text,
                                                        ts=_u(ts), utterance_id=utterance_id))
                conn.execute(update(calls).where(calls.c.call_id == call_id)
                             .values(turns=idx + 1, updated_at=datetime.now(timezone.utc),
                                     last_activity=_u(now or ts)))
        except IntegrityError:
            raise TurnConflict(f"turn {idx} of call {call_id!r} was written by another replica; reload") from None

    def load(self, call_id: str) -> StoredCall | None:
        with self.db.connect() as conn:
            row = conn.execute(select(calls).where(calls.c.call_id == call_id)).mappings().first()
            if row is None:
                return None
            turns = conn.execute(select(call_turns).where(call_turns.c.call_id == call_id)
                                 .order_by(call_turns.c.idx)).mappings().all()
        out = StoredCall({k: row[k] for k in ("call_id", "owner_key", "region", "customer", "turns")})
        out["started_at"], out["last_activity"] = utc(row["started_at"]), utc(row["last_activity"])
        out["transcript"] = [{"idx": t["idx"], "speaker": t["speaker"], "text": t["text"], "ts": utc(t["ts"]),
                              "utterance_id": t["utterance_id"]} for t in turns]
        return out

    def live_ids(self, *, active_since: datetime) -> list[str]:
        """Calls with activity after ``active_since`` (the ones a restarted server should resume)."""
        with self.db.connect() as conn:
            return list(conn.execute(select(calls.c.call_id).where(calls.c.last_activity >= _u(active_since))
                                     .order_by(calls.c.last_activity)).scalars())

    def briefs(self, *, active_since: datetime, owner: str | None = None) -> list[dict[str, Any]]:
        """The call rows active after ``active_since`` (``owner``'s only when given)."""
        q = select(calls.c.call_id, calls.c.region, calls.c.started_at, calls.c.turns, calls.c.last_activity,
                   calls.c.owner_key).where(calls.c.last_activity >= _u(active_since))
        if owner is not None:
            q = q.where(calls.c.owner_key == owner)
        with self.db.connect() as conn:
            rows = conn.execute(q.limit(10_000)).mappings().all()
        return [{**dict(r), "started_at": utc(r["started_at"]), "last_activity": utc(r["last_activity"])} for r in rows]

    def drop(self, call_id: str) -> None:
        """Remove a live call (expired or ended)."""
        with self.db.begin() as conn:
            conn.execute(delete(call_turns).where(call_turns.c.call_id == call_id))
            conn.execute(delete(calls).where(calls.c.call_id == call_id))

    # -- ended calls ----------------------------------------------------------------------------
    def end(self, call_id: str, *, owner: str | None, region: str, started_at: datetime, ended_at: datetime,
            label: str | None, record: dict[str, Any]) -> None:
        """Move a call to ``ended_calls`` in one transaction (its live rows go)."""
        with self.db.begin() as conn:
            conn.execute(delete(ended_calls).where(ended_calls.c.call_id == call_id))
            conn.execute(ended_calls.insert().values(call_id=call_id, owner_key=owner, region=region,
                                                     started_at=_u(started_at), ended_at=_u(ended_at),
                                                     label=label, record=record))
            conn.execute(delete(call_turns).where(call_turns.c.call_id == call_id))
            conn.execute(delete(calls).where(calls.c.call_id == call_id))

    def ended(self, *, limit: int = 100, since: datetime | None = None, after_id: str | None = None
              ) -> list[dict[str, Any]]:
        """Ended calls, oldest first (batch readers page with ``since``)."""
        q = select(ended_calls).order_by(ended_calls.c.ended_at, ended_calls.c.call_id).limit(limit)
        if since is not None:
            q = q.where(ended_calls.c.ended_at >= _u(since))
        with self.db.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [_ended(r) for r in rows]

    def ended_one(self, call_id: str) -> dict[str, Any] | None:
        with self.db.connect() as conn:
            row = conn.execute(select(ended_calls).where(ended_calls.c.call_id == call_id)).mappings().first()
        return None if row is None else _ended(row)

    def expire_stale(self, *, idle_for: timedelta, now: datetime) -> int:
        """File live calls idle for longer than ``idle_for`` as ended calls with status ``expired`` (their
        masked transcript kept); returns how many."""
        cutoff = _u(now) - idle_for
        with self.db.connect() as conn:
            ids = list(conn.execute(select(calls.c.call_id).where(calls.c.last_activity < cutoff).limit(1000))
                       .scalars())
        for call_id in ids:
            stored = self.load(call_id)
            if stored is None:
                continue
            turns = [{**t, "ts": t["ts"].isoformat()} for t in stored["transcript"]]
            self.end(call_id, owner=stored["owner_key"], region=stored["region"], started_at=stored["started_at"],
                     ended_at=stored["last_activity"], label=None,
                     record={"status": "expired", "customer": stored["customer"], "state": {"turns": turns}})
        return len(ids)

    def purge(self, *, older_than: timedelta, now: datetime | None = None) -> int:
        """Delete ended calls that ended more than ``older_than`` ago; returns how many."""
        cutoff = (now or datetime.now(timezone.utc)) - older_than
        with self.db.begin() as conn:
            return conn.execute(delete(ended_calls).where(ended_calls.c.ended_at < _u(cutoff))).rowcount


def _ended(r) -> dict[str, Any]:
    return {"call_id": r["call_id"], "owner_key": r["owner_key"], "region": r["region"],
            "started_at": utc(r["started_at"]).isoformat(), "ended_at": utc(r["ended_at"]).isoformat(),
            "label": r["label"], **r["record"]}
