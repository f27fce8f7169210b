"""Training records from operations: agents' verdicts, ended calls and users' own labelled JSONL.

Every record has one shape, ``{"text", "label", "source", "created_at", "weight", "task"}``: ``text`` is
normalised and PII-masked, ``label`` a taxonomy code (``task`` ``classify``) or a FAQ id (``task``
``retrieval``), ``source`` one of ``feedback`` | ``ended_call`` | ``user``, ``created_at`` ISO 8601 (or null for
user records without a time), ``weight`` how many times the record counts against one generated utterance.

Which operations data is a trustworthy label (never the model's own prediction: training on it would only
teach the model its own mistakes):

- an agent's **category verdict** on a call or utterance (``category_wrong`` → its ``correct_label``,
  weight :data:`CORRECTION_WEIGHT`; ``category_right`` → the label the agent confirmed, weight
  :data:`CONFIRMATION_WEIGHT`). Several verdicts on one call: the latest wins.
  - on a call that has **ended** and is in the store: source ``ended_call``, text = the customer turns behind the
    call's final category (its evidence turns; all customer turns when none is marked), as the feedback route
    takes them from a live call;
  - otherwise (an utterance, a call still live or already purged): source ``feedback``, the row's own text.
- an **ended call without a verdict** is not used: its label is the live engine's own conclusion. (The store
  keeps no confirmation from a dispatch system, so a ticket is no evidence either.) Counted as
  ``ended_unverified``.
- **suggestion feedback** (``suggestion_used`` / ``suggestion_unhelpful``) becomes ``task: retrieval`` records
  (``label``: the FAQ id, ``helpful``: bool) that are exported only: one "used" on a whole call says an answer
  helped somewhere in it, not which question it answered, so it is no (query, answer) pair to train on without
  review. Retraining skips them.
- a user's **labelled JSONL** (``{"text", "label"}`` plus optional ``weight`` 1–10, ``created_at``, ``source``,
  ``task``): source ``user`` unless the line names another one (an export fed back), weight
  :data:`USER_WEIGHT` unless given. Every line is checked; an error names the file, line and field.

Example:
    >>> records, counts = read_user_records("labelled.jsonl")  # doctest: +SKIP
    >>> records[0]["source"], counts["user"]  # doctest: +SKIP
    ('user', 120)
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from hotline.core.errors import InvalidInputError
from hotline.core.jsonl import iter_jsonl
from hotline.core.mask import masked_text
from hotline.core.results import FeedbackKind, Speaker
from hotline.core.taxonomy import Taxonomy, default_taxonomy

__all__ = ["RecordSource", "OperationsReader", "read_user_records", "merge_records", "CORRECTION_WEIGHT",
           "CONFIRMATION_WEIGHT", "USER_WEIGHT", "MAX_WEIGHT"]

logger = logging.getLogger(__name__)

CORRECTION_WEIGHT = 3  # an agent said the model was wrong and named the code: scarce, real speech, human label
CONFIRMATION_WEIGHT = 1  # an agent confirmed the model: true, but it teaches what the model already knew
USER_WEIGHT = 2  # a user's own labelled data: real speech, labelled offline
MAX_WEIGHT = 10
MAX_TEXT = 2000  # as HOTLINE_MAX_TEXT_CHARS: the longest text the service classifies


class RecordSource(str, Enum):
    FEEDBACK = "feedback"
    ENDED_CALL = "ended_call"
    USER = "user"


_TASKS = ("classify", "retrieval")
_VERDICTS = (FeedbackKind.CATEGORY_WRONG.value, FeedbackKind.CATEGORY_RIGHT.value)
_SUGGESTIONS = (FeedbackKind.SUGGESTION_USED.value, FeedbackKind.SUGGESTION_UNHELPFUL.value)


def _record(text: str, label: str, source: RecordSource, created_at: str | None, weight: int,
            task: str = "classify", **extra: Any) -> dict[str, Any]:
    return {"text": text, "label": label, "source": source.value, "created_at": created_at, "weight": weight,
            "task": task, **extra}


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def call_text(record: dict[str, Any], *, max_chars: int = MAX_TEXT) -> str | None:
    """The customer turns behind an ended call's final category (all customer turns when none is marked),
    joined as the feedback route joins them for a live call; None when the call has no customer speech."""
    state = record.get("state") or {}
    turns = [t for t in state.get("turns") or [] if t.get("speaker") == Speaker.CUSTOMER.value and t.get("text")]
    evidence = set((state.get("category") or {}).get("evidence") or [])
    chosen = [t["text"] for t in turns if t.get("idx") in evidence] or [t["text"] for t in turns]
    text = masked_text("，".join(chosen))[:max_chars]
    return text or None


class OperationsReader:
    """Training records from the server's store: agents' feedback and the ended calls it refers to.

    Args:
        db: The store (:func:`hotline.store.db.open_database`).
        taxonomy: Valid codes (default: the shipped taxonomy).
        max_chars: Longest record text (longer call texts are cut).
    """

    def __init__(self, db: Any, *, taxonomy: Taxonomy | None = None, max_chars: int = MAX_TEXT) -> None:
        self.db = db
        self.taxonomy = taxonomy
        self.max_chars = max_chars

    def read(self, *, since: datetime | None = None) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """``(records, counts)``: every trustworthy record from feedback given at or after ``since`` (all when
        None), and counts per source plus what was left out and why."""
        from hotline.pipeline.live.feedback import FeedbackStore
        from hotline.store.calls import CallRepo

        if since is not None and since.tzinfo is None:
            raise InvalidInputError(f"since must carry a UTC offset (e.g. 2024-05-01T00:00:00+08:00), got {since!r}")
        tax = self.taxonomy or default_taxonomy()
        store, repo = FeedbackStore(self.db, taxonomy=tax), CallRepo(self.db)
        total = store.count()
        rows = list(reversed(store.list(limit=total))) if total else []  # oldest first
        if since is not None:
            rows = [r for r in rows if (_parse_time(r.created_at) or since) >= since]
        counts: Counter[str] = Counter()
        ended_cache: dict[str, dict[str, Any] | None] = {}

        def ended(call_id: str | None) -> dict[str, Any] | None:
            if call_id is None:
                return None
            if call_id not in ended_cache:
                ended_cache[call_id] = repo.ended_one(call_id)
            return ended_cache[call_id]

        # the latest verdict per call wins (an agent may correct a correction); utterance verdicts stand alone
        verdicts: dict[Any, Any] = {}
        for r in rows:
            if r.kind.value in _VERDICTS:
                key = ("call", r.call_id) if r.call_id else ("row", r.id)
                if key in verdicts:
                    counts["superseded"] += 1
                verdicts[key] = r
        records: list[dict[str, Any]] = []
        verified_calls: set[str] = set()
        for r in verdicts.values():
            wrong = r.kind.value == FeedbackKind.CATEGORY_WRONG.value
            label = r.correct_label if wrong else (r.correct_label or r.target)
            if not label or label not in tax:
                counts["no_label"] += 1
                continue
            weight = CORRECTION_WEIGHT if wrong else CONFIRMATION_WEIGHT
            call = ended(r.call_id)
            text = call_text(call, max_chars=self.max_chars) if call is not None else None
            if text is not None:
                verified_calls.add(r.call_id)
                records.append(_record(text, label, RecordSource.ENDED_CALL, r.created_at, weight))
            elif r.text:
                records.append(_record(masked_text(r.text)[: self.max_chars], label, RecordSource.FEEDBACK,
                                       r.created_at, weight))
            else:
                counts["no_text"] += 1
        for r in rows:
            if r.kind.value not in _SUGGESTIONS or not r.target:
                continue
            call = ended(r.call_id)
            text = masked_text(r.text)[: self.max_chars] if r.text else (
                call_text(call, max_chars=self.max_chars) if call is not None else None)
            if text is None:
                counts["no_text"] += 1
                continue
            source = RecordSource.FEEDBACK if r.text else RecordSource.ENDED_CALL
            records.append(_record(text, r.target, source, r.created_at, 1, task="retrieval",
                                   helpful=r.kind.value == FeedbackKind.SUGGESTION_USED.value))
        counts["ended_unverified"] = sum(1 for c in _ended_ids(repo, since) if c not in verified_calls)
        for rec in records:
            counts[rec["source"] if rec["task"] == "classify" else "retrieval"] += 1
        return records, _counts(counts)


def _ended_ids(repo: Any, since: datetime | None) -> Iterable[str]:
    from hotline.pipeline.batch.readers import read_store

    for _, rec in read_store(repo, since=since):
        yield rec["call_id"]


def _counts(counts: Counter[str]) -> dict[str, int]:
    keys = ("feedback", "ended_call", "user", "retrieval")
    out = {k: int(counts.get(k, 0)) for k in keys}
    out["skipped"] = {k: int(v) for k, v in sorted(counts.items()) if k not in keys and v}
    return out


def read_user_records(path: str | Path, *, taxonomy: Taxonomy | None = None, max_chars: int = MAX_TEXT
                      ) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Validated records of a user's labelled JSONL (see the module docstring for the fields).

    Returns:
        ``(records, counts)``: the ``classify`` records, and counts per source (``retrieval`` lines are counted
        and left out: retraining has no use for them).

    Raises:
        InvalidInputError: a line that is not an object or has a bad field (the message names ``file:line``
            and the field), or a file with no classification record.
    """
    tax = taxonomy or default_taxonomy()
    records: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    for n, row in iter_jsonl(path):
        where = f"{path}:{n}"
        task = row.get("task", "classify")
        if task not in _TASKS:
            raise InvalidInputError(f"{where}: field 'task' must be one of {list(_TASKS)}, got {task!r}")
        if task == "retrieval":
            counts["retrieval"] += 1
            continue
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError(f"{where}: field 'text' must be a non-empty string, got {text!r:.60}")
        if len(text) > max_chars:
            raise InvalidInputError(f"{where}: field 'text' has {len(text)} characters, more than {max_chars}; "
                                    "split it or shorten it")
        label = row.get("label")
        if not isinstance(label, str) or label not in tax:
            raise InvalidInputError(f"{where}: field 'label' must be a taxonomy code such as "
                                    f"'broadband.cannot_connect' (see GET /v1/taxonomy), got {label!r}")
        weight = row.get("weight", USER_WEIGHT)
        if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= MAX_WEIGHT:
            raise InvalidInputError(f"{where}: field 'weight' must be an integer from 1 to {MAX_WEIGHT} "
                                    f"(copies against one generated utterance), got {weight!r}")
        created = row.get("created_at")
        if created is not None and (not isinstance(created, str) or _parse_time(created) is None):
            raise InvalidInputError(f"{where}: field 'created_at' must be an ISO 8601 time such as "
                                    f"2024-05-01T09:30:00+08:00, or left out; got {created!r}")
        source = row.get("source", RecordSource.USER.value)
        try:
            src = RecordSource(source)
        except ValueError:
            raise InvalidInputError(f"{where}: field 'source' must be one of {[s.value for s in RecordSource]} "
                                    f"or left out, got {source!r}") from None
        masked = masked_text(text)
        if not masked.strip():
            raise InvalidInputError(f"{where}: field 'text' is empty once normalised, got {text!r:.60}")
        records.append(_record(masked, label, src, created, weight))
        counts[src.value] += 1
    if not records:
        raise InvalidInputError(f"{path} holds no classification records ({{\"text\", \"label\"}} lines)")
    return records, _counts(counts)


def merge_records(*groups: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Classification records of several sources as one list: the same text with the same label once (its
    largest weight kept), in first-seen order; ``retrieval`` records are left out."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for group in groups:
        for rec in group:
            if rec.get("task", "classify") != "classify":
                continue
            key = (rec["text"], rec["label"])
            if key in seen:
                seen[key]["weight"] = max(seen[key]["weight"], rec["weight"])
            else:
                seen[key] = dict(rec)
    return list(seen.values())
