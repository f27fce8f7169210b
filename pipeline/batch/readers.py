"""Streaming readers of recorded calls: JSONL, CSV, Parquet and the server's store of ended calls.

Every source yields the same validated calls, one at a time, so memory stays bounded however large the input
(a Parquet file is read in row batches, a JSONL or CSV file line by line, the store page by page):

=========  ================================================================================================
column     meaning
=========  ================================================================================================
call_id    1-64 letters, digits and ``_.:-``; unique across the whole input
region     where the call came from (``杭州市西湖区``), at most 64 characters; may be empty
started_at ISO 8601 with an offset (``2024-05-01T09:00:00+08:00``); a Parquet timestamp with a time zone
turns      ``[{"speaker": "agent"|"customer", "text": "…"}]``; in CSV and Parquet as JSON text (Parquet may
           also hold a list of structs)
agent_id   optional, the agent's id (QA aggregates per agent)
team       optional, the agent's team (QA aggregates per team)
customer   optional known customer data, ``{"phone": "…", "vip": "true", "level": "金卡"}``; JSON text in CSV
=========  ================================================================================================

JSONL is ``hotline replay``'s format. A bad record raises :class:`~hotline.core.errors.InvalidInputError`
naming the file, the line (or row) and the field — or, with ``on_error="skip"``, is logged, counted in
:attr:`CallReader.errors_` and skipped.

Example:
    >>> reader = CallReader(["calls.jsonl", "more.parquet"], on_error="skip")  # doctest: +SKIP
    >>> for call in reader:  # doctest: +SKIP
    ...     print(call["call_id"], call["started_at"], len(call["turns"]))
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from hotline.core.callers import CALLER_HASH_PATTERN
from hotline.core.errors import InvalidInputError
from hotline.core.validate import check_call_id, check_turns

__all__ = ["CallReader", "ErrorPolicy", "validate_call", "iter_records", "read_store", "FORMATS", "COLUMNS"]

logger = logging.getLogger(__name__)

COLUMNS = ("call_id", "region", "started_at", "turns", "agent_id", "team", "customer")
REQUIRED = ("call_id", "started_at", "turns")
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet",
           ".pq": "parquet"}
_MAX_REGION = 64
_MAX_ID = 64
_MAX_CUSTOMER_KEYS = 20
_MAX_CUSTOMER_KEY = 64
_MAX_CUSTOMER_VALUE = 200
_MAX_ERRORS_KEPT = 20


class ErrorPolicy(str, Enum):
    """What a reader does with a bad record: stop with the error, or log it and go on."""

    FAIL = "fail"
    SKIP = "skip"


def validate_call(obj: Any, where: str, *, max_chars: int = 2000, max_turns: int = 500) -> dict[str, Any]:
    """Check one raw call (a JSON object, a CSV row or a Parquet row) and return it clean.

    Returns:
        ``{"call_id", "region", "started_at" (aware datetime), "turns", "agent_id", "team", "customer"}``.

    Raises:
        InvalidInputError: ``{where}: field '…' …`` with the value received and what is valid.
    """
    from hotline.pipeline.live.notices import parse_time

    if not isinstance(obj, dict):
        raise InvalidInputError(f"{where}: expected an object with {list(REQUIRED)}, got {type(obj).__name__}")
    try:
        call_id = check_call_id(obj.get("call_id"))
    except InvalidInputError as e:
        raise InvalidInputError(f"{where}: field 'call_id': {e}") from None
    region = obj.get("region")
    region = "" if region is None else region
    if not isinstance(region, str) or len(region.strip()) > _MAX_REGION:
        raise InvalidInputError(f"{where}: field 'region' must be a string of at most {_MAX_REGION} characters, "
                                f"got {region!r:.80}")
    if obj.get("started_at") in (None, ""):
        raise InvalidInputError(f"{where}: field 'started_at' is missing; add an ISO 8601 time like "
                                "'2024-05-01T09:00:00+08:00'")
    try:
        started = parse_time(obj["started_at"], field="started_at")
    except InvalidInputError as e:
        raise InvalidInputError(f"{where}: field {e}") from None
    turns = _turns(obj.get("turns"), where, max_chars, max_turns)
    return {"call_id": call_id, "region": region.strip(), "started_at": started, "turns": turns,
            "agent_id": _short_id(obj.get("agent_id"), "agent_id", where),
            "team": _short_id(obj.get("team"), "team", where),
            "customer": _customer(obj.get("customer"), where), "caller": _caller(obj.get("caller"), where)}


def _caller(value: Any, where: str) -> str | None:
    """A caller pseudonym computed earlier with the same key (the server stores one per ended call)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not re.fullmatch(CALLER_HASH_PATTERN, value):
        raise InvalidInputError(f"{where}: field 'caller' must be the 32-hex keyed hash Hotline writes "
                                f"(hotline.core.callers.caller_key), got {value!r:.40}; leave it out to have "
                                "it computed from customer.phone")
    return value


def _turns(turns: Any, where: str, max_chars: int, max_turns: int) -> list[dict[str, str]]:
    if isinstance(turns, str):  # CSV and Parquet carry the turns as JSON text
        try:
            turns = json.loads(turns)
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"{where}: field 'turns' is not valid JSON ({e.msg} at column {e.colno}); "
                                    "write the turns as a JSON list of {\"speaker\", \"text\"} objects") from None
    return check_turns(turns, where, max_chars=max_chars, max_turns=max_turns)


def _short_id(value: Any, name: str, where: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)) or len(str(value).strip()) > _MAX_ID:
        raise InvalidInputError(f"{where}: field '{name}' must be a string of at most {_MAX_ID} characters, "
                                f"got {value!r:.80}")
    return str(value).strip()


def _customer(value: Any, where: str) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"{where}: field 'customer' is not valid JSON ({e.msg}); write an object "
                                    "such as {\"phone\": \"13812345678\", \"vip\": true}") from None
    if isinstance(value, list) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
        value = dict(value)  # a Parquet map column reads as key/value pairs
    if not isinstance(value, dict):
        raise InvalidInputError(f"{where}: field 'customer' must be an object of field → value, got {value!r:.80}")
    if len(value) > _MAX_CUSTOMER_KEYS:
        raise InvalidInputError(f"{where}: field 'customer' has {len(value)} keys, the limit is {_MAX_CUSTOMER_KEYS}")
    out: dict[str, str] = {}
    for k, v in value.items():
        if v is None:
            continue
        if isinstance(v, bool):
            v = "true" if v else "false"
        if (not isinstance(k, str) or len(k) > _MAX_CUSTOMER_KEY or not isinstance(v, (str, int, float))
                or len(str(v)) > _MAX_CUSTOMER_VALUE):
            raise InvalidInputError(f"{where}: field 'customer[{k!r:.40}]' must be a string of at most "
                                    f"{_MAX_CUSTOMER_VALUE} characters, got {v!r:.80}")
        out[k] = str(v).strip()
    return out


# -- raw records per format: (where, object) ------------------------------------------------------------
def iter_records(path: str | Path, *, batch_rows: int = 1024) -> Iterator[tuple[str, Any]]:
    """``(where, raw record)`` for each record of a calls file, read lazily; ``where`` is ``file:line`` (JSONL,
    CSV) or ``file:row N`` (Parquet). A record that cannot be parsed at all comes as an
    :class:`InvalidInputError` instance in place of the object, so the caller's error policy decides.

    Raises:
        InvalidInputError: the file is missing, of an unknown kind, or lacks a required column.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"calls file {str(path)!r} does not exist; pass a JSONL, CSV or Parquet file")
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InvalidInputError(f"calls file {str(path)!r}: unknown kind {path.suffix!r}; use one of "
                                f"{sorted(FORMATS)} (JSONL as for `hotline replay`, CSV or Parquet with the same columns)")
    if kind == "jsonl":
        return _jsonl(path)
    if kind == "csv":
        return _csv(path)
    return _parquet(path, batch_rows)


def _jsonl(path: Path) -> Iterator[tuple[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as e:
                yield where, InvalidInputError(f"{where}: not valid JSON ({e.msg} at column {e.colno}); each line "
                                               "must be one JSON object")


def _csv(path: Path) -> Iterator[tuple[str, Any]]:
    csv.field_size_limit(min(sys.maxsize, 1 << 30))  # one call's turns as JSON text can exceed csv's 128 KiB default
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        _check_columns(path, reader.fieldnames or [])
        start = 2  # the header is line 1
        for row in reader:
            where = f"{path}:{start}"
            start = reader.line_num + 1
            if None in row:  # more cells than header columns
                yield where, InvalidInputError(f"{where}: {len(row[None]) + len(reader.fieldnames or [])} cells "
                                               f"but the header has {len(reader.fieldnames or [])}; quote cells "
                                               "that contain commas (turns are JSON text)")
                continue
            yield where, {k: (v if v != "" else None) for k, v in row.items() if k in COLUMNS}


def _parquet(path: Path, batch_rows: int) -> Iterator[tuple[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as e:  # pragma: no cover - a runtime dependency
        raise InvalidInputError("reading Parquet needs pyarrow: pip install 'pyarrow>=15'") from e
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises its own ArrowInvalid for a file that is not Parquet
        raise InvalidInputError(f"calls file {str(path)!r} is not a readable Parquet file: {e}") from None
    names = pf.schema_arrow.names
    _check_columns(path, names)
    columns = [c for c in COLUMNS if c in names]
    n = 0
    for batch in pf.iter_batches(batch_size=batch_rows, columns=columns):
        for row in batch.to_pylist():
            n += 1
            yield f"{path}:row {n}", row


def _check_columns(path: Path, names: Iterable[str]) -> None:
    missing = [c for c in REQUIRED if c not in set(names)]
    if missing:
        raise InvalidInputError(f"calls file {str(path)!r} lacks the column(s) {missing}; it needs {list(REQUIRED)} "
                                f"and may have {[c for c in COLUMNS if c not in REQUIRED]}")


def read_store(repo: Any, *, since: datetime | None = None, page: int = 500) -> Iterator[tuple[str, Any]]:
    """``(where, raw record)`` for each ended call in the server's store (:class:`hotline.store.calls.CallRepo`),
    oldest ended first, fetched ``page`` at a time from ``since`` on.

    The store keeps masked transcripts only (no raw phone numbers) and, as ``caller``, the keyed hash of the
    caller's phone that the server computed when the call ended (repeat detection compares those).
    ``agent_id`` is the API key that ran the call.
    """
    cursor: tuple[str, str] | None = None  # (ended_at, call_id) of the last call yielded
    limit = page
    while True:
        rows = repo.ended(limit=limit, since=since)
        fresh = [r for r in rows if cursor is None or (r["ended_at"], r["call_id"]) > cursor]
        if not fresh:
            if len(rows) < limit:
                return
            limit *= 2  # a page full of calls that ended at the same instant: widen it to get past them
            continue
        limit = page
        for r in fresh:
            cursor = (r["ended_at"], r["call_id"])
            state = r.get("state") or {}
            yield f"store:{r['call_id']}", {
                "call_id": r["call_id"], "region": r.get("region"), "started_at": r.get("started_at"),
                "turns": [{"speaker": t.get("speaker"), "text": t.get("text")} for t in state.get("turns") or []],
                "agent_id": r.get("agent_id") or r.get("owner_key"), "team": r.get("team"),
                "customer": r.get("customer") or {}, "caller": r.get("caller")}
        since = datetime.fromisoformat(cursor[0]) if cursor else since
        if len(rows) < limit:
            return


# -- the reader ---------------------------------------------------------------------------------------
class CallReader:
    """Validated calls from files and/or the store, one at a time, in input order.

    Args:
        paths: Calls files (JSONL, CSV, Parquet: see the module docstring), read in the order given.
        on_error: ``fail`` (default): the first bad record raises; ``skip``: it is logged and skipped.
        max_chars: Longest turn text (``HOTLINE_MAX_TEXT_CHARS``).
        max_turns: Most turns per call (``HOTLINE_MAX_TURNS_PER_CALL``).
        batch_rows: Parquet rows read at a time.
        store: A :class:`hotline.store.calls.CallRepo` whose ended calls are read after the files, or None.
        since: Only store calls that ended at or after this time.

    Attributes:
        n_read_: Records read so far (good and bad).
        n_skipped_: Bad records skipped.
        errors_: The first 20 skipped records' messages.

    Call ids must be unique across the whole input (a repeat of an id is an error); the reader remembers a
    64-bit digest per id (about 60 bytes a call in a Python set).
    """

    def __init__(self, paths: Iterable[str | Path] = (), *, on_error: ErrorPolicy | str = ErrorPolicy.FAIL,
                 max_chars: int = 2000, max_turns: int = 500, batch_rows: int = 1024, store: Any = None,
                 since: datetime | None = None) -> None:
        self.paths = [Path(p) for p in paths]
        try:
            self.on_error = ErrorPolicy(on_error)
        except ValueError:
            raise InvalidInputError(f"on_error must be one of {[p.value for p in ErrorPolicy]}, got {on_error!r}") from None
        self.max_chars = max_chars
        self.max_turns = max_turns
        self.batch_rows = batch_rows
        self.store = store
        self.since = since
        self.n_read_ = 0
        self.n_skipped_ = 0
        self.errors_: list[str] = []

    def check(self) -> None:
        """Fail early on what would fail later anyway: missing files, unknown kinds, no input at all."""
        if not self.paths and self.store is None:
            raise InvalidInputError("no calls to read: pass --calls FILE [FILE ...] and/or --store")
        for p in self.paths:
            if not p.is_file():
                raise InvalidInputError(f"calls file {str(p)!r} does not exist; pass a JSONL, CSV or Parquet file")
            if p.suffix.lower() not in FORMATS:
                raise InvalidInputError(f"calls file {str(p)!r}: unknown kind {p.suffix!r}; use one of {sorted(FORMATS)}")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.check()
        seen: set[int] = set()  # 64-bit digests of the call ids read
        sources: list[Iterator[tuple[str, Any]]] = [iter_records(p, batch_rows=self.batch_rows) for p in self.paths]
        if self.store is not None:
            sources.append(read_store(self.store, since=self.since))
        for source in sources:
            for where, raw in source:
                self.n_read_ += 1
                try:
                    if isinstance(raw, InvalidInputError):
                        raise raw
                    call = validate_call(raw, where, max_chars=self.max_chars, max_turns=self.max_turns)
                    digest = int.from_bytes(hashlib.blake2b(call["call_id"].encode(), digest_size=8).digest(), "big")
                    if digest in seen:
                        raise InvalidInputError(f"{where}: field 'call_id' = {call['call_id']!r} was already read "
                                                "earlier in the input; call ids must be unique across the input")
                    seen.add(digest)
                except InvalidInputError as e:
                    if self.on_error is ErrorPolicy.FAIL:
                        raise
                    self.n_skipped_ += 1
                    if len(self.errors_) < _MAX_ERRORS_KEPT:
                        self.errors_.append(str(e))
                    logger.warning("skipped: %s", e)
                    continue
                yield call
