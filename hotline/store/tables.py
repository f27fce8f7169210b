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
           "call_turns", "ended_calls", "kb_versions", "kb_releases", "SCHEMA_REVISION"]

SCHEMA_REVISION = "0002"  # the Alembic head this code expects

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

# The knowledge base (hotline.store.kb): every version of every FAQ entry and handling spec, with its review
# state and who moved it when; a release is the published snapshot one build was made from.
kb_versions = Table(
    "kb_versions", metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),           # "faq" | "spec"
    Column("entry_id", String(128), nullable=False),     # the FAQ's id or the spec's taxonomy code
    Column("version", Integer, nullable=False),          # 1, 2, … per (kind, entry_id)
    Column("state", String(16), nullable=False),         # draft | review | approved | rejected | published | …
    Column("body", JSON, nullable=False),                # the entry as faq.jsonl / specs.jsonl holds it
    Column("note", Text),                                # the author's or reviewer's last word
    Column("created_by", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("reviewed_by", String(200)),
    Column("reviewed_at", DateTime(timezone=True)),
    Column("published_by", String(200)),
    Column("published_at", DateTime(timezone=True)),
    Column("retired_by", String(200)),
    Column("retired_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),  # the last change of any kind, and by whom
    Column("updated_by", String(200)),
    UniqueConstraint("kind", "entry_id", "version", name="kb_versions_entry_version"),
    Index("kb_versions_state", "state"),
)

kb_releases = Table(
    "kb_releases", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # 1, 2, …: one more than the last, in its txn
    Column("action", String(16), nullable=False),        # import | publish | rollback
    Column("parent", Integer),                           # the release live before this one
    Column("rollback_of", Integer),                      # for a rollback: the release whose snapshot it republishes
    Column("entries", JSON, nullable=False),             # [{"kind", "id", "version", "row"}] in KB order
    Column("changes", JSON, nullable=False),             # {"added": [...], "changed": [...], "removed": [...]}
    Column("build_id", String(64)),                      # the build it produced (hotline.store.builds)
    Column("created_by", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("note", Text),
)
