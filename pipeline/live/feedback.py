"""Agent feedback on suggestions and categories, kept in SQLite so nothing is lost on a crash.

Rows are returned as :class:`~hotline.core.results.Feedback` models. Category corrections export as
``{"text", "label"}`` JSONL, the input of ``hotline train classify``.

Example:
    >>> store = FeedbackStore("/tmp/fb.sqlite3")  # doctest: +SKIP
    >>> store.add(kind="category_wrong", target="data.slow", correct_label="data.cannot_connect",
    ...           text="手机有信号但是上不了网")  # doctest: +SKIP
    >>> store.export_jsonl("corrections.jsonl")  # doctest: +SKIP
    1
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hotline.core.errors import InvalidInputError
from hotline.core.mask import masked_text
from hotline.core.results import Feedback, FeedbackKind
from hotline.core.taxonomy import Taxonomy, default_taxonomy

__all__ = ["FeedbackStore", "FeedbackKind"]

_MAX_TEXT = 4000
_MAX_NOTE = 1000


_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    call_id TEXT,
    kind TEXT NOT NULL,
    target TEXT,
    correct_label TEXT,
    text TEXT,
    note TEXT
);
CREATE INDEX IF NOT EXISTS feedback_kind ON feedback(kind, id);
"""
_COLUMNS = ("id", "created_at", "call_id", "kind", "target", "correct_label", "text", "note")


class FeedbackStore:
    """One SQLite file (WAL journal, ``synchronous=FULL``), one connection guarded by a lock.

    ``text`` is normalised and PII-masked before it is stored, whatever the caller passes.
    """

    def __init__(self, path: str | Path, *, taxonomy: Taxonomy | None = None) -> None:
        self.path = Path(path).expanduser()
        self.taxonomy = taxonomy
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes --------------------------------------------------------------------------------
    def add(self, *, kind: str | FeedbackKind, call_id: str | None = None, target: str | None = None,
            correct_label: str | None = None, text: str | None = None, note: str | None = None) -> Feedback:
        """Store one feedback row and return it (with ``id`` and ``created_at``).

        Raises:
            InvalidInputError: unknown ``kind``; ``category_wrong`` without a valid ``correct_label``.
        """
        kind = kind.value if isinstance(kind, FeedbackKind) else kind
        valid = [k.value for k in FeedbackKind]
        if kind not in valid:
            raise InvalidInputError(f"kind must be one of {valid}, got {kind!r}")
        tax = self.taxonomy or default_taxonomy()
        if kind == FeedbackKind.CATEGORY_WRONG.value:
            if not correct_label:
                raise InvalidInputError("correct_label is required when kind is 'category_wrong', e.g. 'data.slow'")
        if correct_label is not None and correct_label not in tax:
            raise InvalidInputError(
                f"correct_label = {correct_label!r} is not a taxonomy code; use a leaf code like 'broadband.cannot_connect'"
            )
        if kind == FeedbackKind.CATEGORY_RIGHT.value and target is not None and target not in tax:
            raise InvalidInputError(f"target = {target!r} is not a taxonomy code for kind 'category_right'")
        for name, value, limit in (("call_id", call_id, 128), ("target", target, 128), ("note", note, _MAX_NOTE),
                                   ("text", text, _MAX_TEXT)):
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                raise InvalidInputError(f"{name} must be a string of at most {limit} characters, got {value!r:.80}")
        masked = masked_text(text) if text else None
        created = datetime.now(timezone.utc).isoformat()
        with self._lock:
            cur = self._connect().execute(
                "INSERT INTO feedback (created_at, call_id, kind, target, correct_label, text, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (created, call_id, kind, target, correct_label, masked, note),
            )
            row_id = cur.lastrowid
        return Feedback.model_validate(dict(zip(_COLUMNS, (row_id, created, call_id, kind, target, correct_label,
                                                           masked, note))))

    # -- reads ---------------------------------------------------------------------------------
    def list(self, *, limit: int = 100, kind: str | None = None) -> list[Feedback]:
        """Newest first."""
        if limit <= 0:
            raise InvalidInputError(f"limit must be > 0, got {limit}")
        sql = f"SELECT {', '.join(_COLUMNS)} FROM feedback"
        args: tuple[Any, ...] = ()
        if kind is not None:
            valid = [k.value for k in FeedbackKind]
            if kind not in valid:
                raise InvalidInputError(f"kind must be one of {valid}, got {kind!r}")
            sql += " WHERE kind = ?"
            args = (kind,)
        sql += " ORDER BY id DESC LIMIT ?"
        with self._lock:
            rows = self._connect().execute(sql, (*args, int(limit))).fetchall()
        return [Feedback.model_validate(dict(zip(_COLUMNS, r))) for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._connect().execute("SELECT COUNT(*) FROM feedback").fetchone()[0])

    def export_jsonl(self, path: str | Path) -> int:
        """Write category corrections as ``{"text", "label"}`` lines; returns how many were written.

        ``category_wrong`` rows give ``correct_label``; ``category_right`` rows give their ``target``.
        Rows without text are skipped.
        """
        with self._lock:
            rows = self._connect().execute(
                "SELECT kind, target, correct_label, text FROM feedback "
                "WHERE kind IN (?, ?) AND text IS NOT NULL AND text != '' ORDER BY id",
                (FeedbackKind.CATEGORY_WRONG.value, FeedbackKind.CATEGORY_RIGHT.value),
            ).fetchall()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        n = 0
        with path.open("w", encoding="utf-8") as f:
            for kind, target, correct, text in rows:
                label = correct if kind == FeedbackKind.CATEGORY_WRONG.value else (correct or target)
                if not label:
                    continue
                f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
                n += 1
        return n

