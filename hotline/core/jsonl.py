"""Reading and writing labelled JSONL with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hotline.core.errors import InvalidInputError

__all__ = ["read_jsonl", "iter_jsonl", "write_jsonl", "read_labelled"]


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a JSONL file, read lazily.

    Raises:
        InvalidInputError: the file is missing, or a line is not JSON or not an object (naming ``file:line``).
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"file not found: {path}; pass an existing JSONL file (one JSON object a line)")
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise InvalidInputError(f"{path}:{n}: not valid JSON ({e.msg} at column {e.colno}); "
                                        "each line must be one JSON object") from None
            if not isinstance(row, dict):
                raise InvalidInputError(f"{path}:{n}: expected a JSON object, got {type(row).__name__}")
            yield n, row


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """All objects of a JSONL file (blank lines skipped); errors as :func:`iter_jsonl`."""
    return [row for _, row in iter_jsonl(path)]


def write_jsonl(rows: list[dict[str, Any]], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def read_labelled(path: str | Path, *, text_key: str = "text", label_key: str = "label",
                  allow_null: bool = False) -> tuple[list[str], list[str | None]]:
    """Texts and labels from ``{"text","label"}`` JSONL; every line must have both as non-empty strings.

    ``allow_null``: a record may say ``"label": null`` (no label applies, e.g. off-topic speech); its label is
    ``None``. The key must still be there.
    """
    texts, labels = [], []
    for n, row in enumerate(read_jsonl(path), 1):
        t, y = row.get(text_key), row.get(label_key)
        if not isinstance(t, str) or not t.strip():
            raise InvalidInputError(f"{path}: record {n} has no non-empty string {text_key!r}")
        if allow_null and label_key in row and y is None:
            texts.append(t)
            labels.append(None)
            continue
        if y is None or (isinstance(y, str) and not y.strip()):
            hint = ", or null when none applies" if allow_null else ""
            raise InvalidInputError(f"{path}: record {n} has no {label_key!r}{hint}")
        texts.append(t)
        labels.append(str(y))
    if not texts:
        raise InvalidInputError(f"{path} holds no records")
    return texts, labels
