"""Agent feedback on suggestions and categories, kept in the store so nothing acknowledged is lost.

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
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from hotline.core.errors import InvalidInputError
from hotline.core.mask import masked_text
from hotline.core.results import Feedback, FeedbackKind
from hotline.core.taxonomy import Taxonomy, default_taxonomy
from hotline.store.db import Database, open_database
from hotline.store.tables import feedback as _table

__all__ = ["FeedbackStore", "FeedbackKind"]

_MAX_TEXT = 4000
_MAX_NOTE = 1000


_COLUMNS = ("id", "created_at", "call_id", "kind", "target", "correct_label", "text", "note")


class FeedbackStore:
    """Feedback rows in the store's ``feedback`` table (SQLite in WAL mode with ``synchronous=FULL`` by
    default, or PostgreSQL): a row that was acknowledged survives a kill -9.

    ``text`` and ``note`` are normalised and PII-masked before they are stored, whatever the caller passes,
    and again when read (rows written before masking covered every number form come back masked too).

    Args:
        db: The store (:func:`hotline.store.db.open_database`), or a path to an SQLite file to open.
    """

    def __init__(self, db: Database | str | Path, *, taxonomy: Taxonomy | None = None) -> None:
        self._owns_db = not isinstance(db, Database)
        self.db = db if isinstance(db, Database) else open_database(f"sqlite:///{Path(db).expanduser().resolve()}")
        self.taxonomy = taxonomy

    def close(self) -> None:
        if self._owns_db:
            self.db.dispose()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes --------------------------------------------------------------------------------
    def add(self, *, kind: str | FeedbackKind, call_id: str | None = None, target: str | None = None,
            correct_label: str | None = None, text: str | None = None, note: str | None = None,
            key_id: str | None = None) -> Feedback:
        """Store one feedback row (``key_id``: who sent it) and return it (with ``id`` and ``created_at``).

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
        note = masked_text(note) if note else note
        created = datetime.now(timezone.utc).isoformat()
        with self.db.begin() as conn:
            result = conn.execute(_table.insert().values(created_at=created, call_id=call_id, kind=kind,
                                                         target=target, correct_label=correct_label, text=masked,
                                                         note=note, key_id=key_id))
            row_id = int(result.inserted_primary_key[0])
        return Feedback.model_validate(dict(zip(_COLUMNS, (row_id, created, call_id, kind, target, correct_label,
                                                           masked, note))))

    # -- reads ---------------------------------------------------------------------------------
    def list(self, *, limit: int = 100, kind: str | None = None) -> list[Feedback]:
        """Newest first."""
        if limit <= 0:
            raise InvalidInputError(f"limit must be > 0, got {limit}")
        q = select(*(_table.c[c] for c in _COLUMNS)).order_by(_table.c.id.desc()).limit(int(limit))
        if kind is not None:
            valid = [k.value for k in FeedbackKind]
            if kind not in valid:
                raise InvalidInputError(f"kind must be one of {valid}, got {kind!r}")
            q = q.where(_table.c.kind == kind)
        with self.db.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [Feedback.model_validate(_masked_row(dict(r))) for r in rows]

    def count(self) -> int:
        with self.db.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(_table)).scalar())

    def export_jsonl(self, path: str | Path) -> int:
        """Write category corrections as ``{"text", "label"}`` lines; returns how many were written.

        ``category_wrong`` rows give ``correct_label``; ``category_right`` rows give their ``target``.
        Rows without text are skipped.
        """
        q = (select(_table.c.kind, _table.c.target, _table.c.correct_label, _table.c.text)
             .where(_table.c.kind.in_([FeedbackKind.CATEGORY_WRONG.value, FeedbackKind.CATEGORY_RIGHT.value]),
                    _table.c.text.is_not(None), _table.c.text != "")
             .order_by(_table.c.id))
        with self.db.connect() as conn:
            rows = conn.execute(q).all()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        n = 0
        with path.open("w", encoding="utf-8") as f:
            for kind, target, correct, text in rows:
                label = correct if kind == FeedbackKind.CATEGORY_WRONG.value else (correct or target)
                if not label:
                    continue
                f.write(json.dumps({"text": masked_text(text), "label": label}, ensure_ascii=False) + "\n")
                n += 1
        return n


def _masked_row(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row with its free text masked (idempotent: masked text stays as it is)."""
    for name in ("text", "note"):
        if row[name]:
            row[name] = masked_text(row[name])
    return row


def import_legacy_feedback(path: str | Path, store: FeedbackStore) -> int:
    """Copy the rows of a pre-store ``feedback.sqlite3`` into ``store`` once, then rename the file to
    ``*.imported``; returns how many rows were copied (0 when there is no such file)."""
    import sqlite3

    path = Path(path).expanduser()
    if not path.is_file():
        return 0
    conn = sqlite3.connect(str(path))
    try:
        rows = conn.execute(f"SELECT {', '.join(_COLUMNS[1:])} FROM feedback ORDER BY id").fetchall()
    except sqlite3.DatabaseError:  # not the old layout: leave it alone
        return 0
    finally:
        conn.close()
    with store.db.begin() as db:
        for r in rows:
            row = _masked_row(dict(zip(_COLUMNS[1:], r)))
            db.execute(_table.insert().values(**row))
    path.rename(path.with_name(path.name + ".imported"))
    return len(rows)

