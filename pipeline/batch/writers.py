"""Streamed writers of the per-call records: ``calls.jsonl`` and ``calls.parquet`` (one row group per chunk).

The Parquet schema is :func:`record_schema`: one column per record field of
:mod:`hotline.pipeline.batch.analyze`, nested ones as structs and lists (``slots`` is a struct with one string
field per field kind; ``customer`` a string map), so the files read back as the records that were written
(``pyarrow.parquet.read_table(...).to_pylist()``; a map column reads as key/value pairs).

Example:
    >>> with CallsWriter(out_dir, kinds=("phone", "location")) as w:  # doctest: +SKIP
    ...     for record in records:
    ...         w.write(record)
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import IO, Any

__all__ = ["CallsWriter", "JsonlWriter", "record_schema", "CALLS_JSONL", "CALLS_PARQUET"]

CALLS_JSONL = "calls.jsonl"
CALLS_PARQUET = "calls.parquet"


def record_schema(kinds: tuple[str, ...] | list[str]) -> Any:
    """The ``pyarrow`` schema of a per-call record, with ``slots`` holding the field kinds ``kinds``."""
    import pyarrow as pa

    s, i32, f64, b = pa.string(), pa.int32(), pa.float64(), pa.bool_()
    flag = pa.struct([("flag", s), ("passed", b), ("turn", i32), ("evidence", s), ("component", s)])
    return pa.schema([
        ("call_id", s), ("label", s), ("service", s), ("phenomenon", s), ("confidence", f64), ("abstain", b),
        ("level", s), ("is_complaint", b), ("region", s), ("sub_area", s), ("started_at", s), ("date", s),
        ("hour", pa.int8()), ("agent_id", s), ("team", s), ("customer", pa.map_(s, s)), ("caller", s),
        ("slots", pa.struct([(k, s) for k in kinds])), ("missing_fields", pa.list_(s)),
        ("qa", pa.struct([("passed", b), ("flags", pa.list_(flag))])),
        ("escalation", b), ("escalation_level", s), ("escalation_reason", s), ("escalation_turn", i32),
        ("escalation_reasons", pa.list_(pa.struct([("type", s), ("match", s), ("turn", i32)]))),
        ("grade", s), ("grade_reasons", pa.list_(s)), ("time_limit_h", f64), ("deadline", s),
        ("repeat_of", s), ("mass_incident", b), ("onset", s),
        ("kb_gaps", pa.list_(pa.struct([("turn", i32), ("text", s), ("confidence", f64)]))),
        ("evidence", pa.list_(i32)), ("n_turns", i32),
        ("turns", pa.list_(pa.struct([("speaker", s), ("text", s)]))),
    ])


class JsonlWriter:
    """One JSON object a line, UTF-8, flushed per chunk of lines (a streamed file, whatever its size)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.n = 0
        self._f: IO[str] | None = None

    def write(self, obj: dict[str, Any]) -> None:
        if self._f is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = self.path.open("w", encoding="utf-8")
        self._f.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self.n += 1

    def close(self) -> None:
        if self._f is None:  # nothing written: still leave an (empty) file behind
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("", encoding="utf-8")
            return
        self._f.close()
        self._f = None

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class CallsWriter:
    """``DIR/calls.jsonl`` and ``DIR/calls.parquet`` side by side, streamed: records are buffered ``chunk`` at a
    time and written as one Parquet row group.

    Args:
        out_dir: The output folder.
        kinds: The slot field kinds (the ``slots`` struct's fields).
        chunk: Records per Parquet row group.
    """

    def __init__(self, out_dir: str | Path, *, kinds: tuple[str, ...] | list[str], chunk: int = 2048) -> None:
        self.out_dir = Path(out_dir)
        self.kinds = tuple(kinds)
        self.chunk = chunk
        self.jsonl = JsonlWriter(self.out_dir / CALLS_JSONL)
        self._buffer: list[dict[str, Any]] = []
        self._parquet: Any = None
        self._schema: Any = None
        self.n = 0

    @property
    def paths(self) -> dict[str, str]:
        return {"calls_jsonl": str(self.out_dir / CALLS_JSONL), "calls_parquet": str(self.out_dir / CALLS_PARQUET)}

    def write(self, record: dict[str, Any]) -> None:
        self.jsonl.write(record)
        self._buffer.append(record)
        self.n += 1
        if len(self._buffer) >= self.chunk:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._schema is None:
            self._schema = record_schema(self.kinds)
        if self._parquet is None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._parquet = pq.ParquetWriter(self.out_dir / CALLS_PARQUET, self._schema, compression="zstd")
        if self._buffer:
            rows = [{**r, "slots": {k: (r.get("slots") or {}).get(k) for k in self.kinds}} for r in self._buffer]
            self._parquet.write_table(pa.Table.from_pylist(rows, schema=self._schema))
        self._buffer = []

    def close(self) -> None:
        self._flush()  # also creates an empty Parquet file (schema only) when nothing was written
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        self.jsonl.close()

    def __enter__(self) -> CallsWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
