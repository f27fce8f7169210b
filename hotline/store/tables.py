"""Every table of the store, as SQLAlchemy Core metadata. Alembic's migrations create exactly these.

Texts that come from callers are stored masked (:func:`hotline.core.mask.masked_text`); raw personal numbers
exist only in a live call's memory, for the dispatch copy. JSON columns hold result models dumped with
``model_dump(mode="json")``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = ["metadata", "api_keys", "audit_log", "notices", "incident_log", "feedback", "calls",
           "call_turns", "ended_calls", "SCHEMA_REVISION"]

SCHEMA_REVISION = "0001"  # the Alembic head this code expects

metadata = MetaData()

# an autoincrement key that is BIGINT on PostgreSQL and INTEGER (rowid) on SQLite
_BigId = BigInteger().with_variant(Integer(), "sqlite")

api_keys = Table(
    "api_keys", metadata,
    Column("id", String(32), primary_key=True),          # public id, e.g. "key_3f9a…"; never the secret
    Column("key_hash", String(64), nullable=False, unique=True),  # sha256 of the secret
    Column("prefix", String(16), nullable=False),        # first characters of the secret, for people
    Column("role", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("key_id", String(32)),
    Column("key_name", String(200)),
    Column("role", String(16)),
    Column("action", String(200), nullable=False),       # "POST /v1/notices", "keys.create", …
    Column("target", String(200)),
    Column("status", Integer),
    Column("detail", JSON),
    Index("audit_at", "at"),
)

notices = Table(
    "notices", metadata,
    Column("seq", _BigId, primary_key=True, autoincrement=True),  # change order, read by every replica
    Column("id", String(64), nullable=False, unique=True),
    Column("body", JSON, nullable=False),                # the validated notice (times as ISO strings)
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
)

# The incident detector's input, in one global order: every replica applies the same events in `seq`
# order, so they all reach the same incidents with the same ids.
incident_log = Table(
    "incident_log", metadata,
    Column("seq", _BigId, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),          # "observe" | "forget"
    Column("call_id", String(128), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),  # event time (the call's clock)
    Column("payload", JSON, nullable=False),
    Column("replica", String(64)),
    Index("incident_log_at", "at"),
)

feedback = Table(
    "feedback", metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("created_at", String(40), nullable=False),    # ISO-8601 UTC, as returned by the API
    Column("call_id", String(128)),
    Column("kind", String(32), nullable=False),
    Column("target", String(200)),
    Column("correct_label", String(200)),
    Column("text", Text),
    Column("note", Text),
    Column("key_id", String(32)),
    Index("feedback_kind", "kind", "id"),
)

# Live calls: one row per call plus one per turn, so a turn is one INSERT (cheap, and a unique
# (call_id, idx) lets two replicas never write the same turn twice).
calls = Table(
    "calls", metadata,
    Column("call_id", String(128), primary_key=True),
    Column("owner_key", String(32)),                     # the agent key that opened it (None: auth off)
    Column("region", String(200), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("customer", JSON, nullable=False),            # masked metadata
    Column("turns", Integer, nullable=False),            # number of stored turns (the call's version)
    Column("updated_at", DateTime(timezone=True), nullable=False),  # wall clock of the last write
    Column("last_activity", DateTime(timezone=True), nullable=False),  # the call's own clock
)

call_turns = Table(
    "call_turns", metadata,
    Column("call_id", String(128), nullable=False),
    Column("idx", Integer, nullable=False),
    Column("speaker", String(16), nullable=False),
    Column("text", Text, nullable=False),                # masked
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("utterance_id", String(128)),                 # the client's idempotency key, if it sent one
    UniqueConstraint("call_id", "idx", name="call_turns_idx"),
)

ended_calls = Table(
    "ended_calls", metadata,
    Column("call_id", String(128), primary_key=True),
    Column("owner_key", String(32)),
    Column("region", String(200), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=False),
    Column("label", String(200)),
    Column("record", JSON, nullable=False),              # masked turns + summary + ticket (no dispatch copy)
    Index("ended_calls_ended_at", "ended_at"),
)
