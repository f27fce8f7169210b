"""Reading and writing labelled JSONL with errors that name the file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hotline.core.errors import InvalidInputError

__all__ = ["read_jsonl", "write_jsonl", "read_labelled"]


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"file not found: {path}")
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise InvalidInputError(f"{path}:{n}: not valid JSON ({e.msg}); each line must be one JSON object") from None
            if not isinstance(row, dict):
                raise InvalidInputError(f"{path}:{n}: expected a JSON object, got {type(row).__name__}")
            rows.append(row)
    return rows


def write_jsonl(rows: list[dict[str, Any]], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def read_labelled(path: str | Path, *, text_key: str = "text", label_key: str = "label") -> tuple[list[str], list[str]]:
    """Texts and labels from ``{"text","label"}`` JSONL; every line must have both as non-empty strings."""
    texts, labels = [], []
    for n, row in enumerate(read_jsonl(path), 1):
        t, y = row.get(text_key), row.get(label_key)
        if not isinstance(t, str) or not t.strip():
            raise InvalidInputError(f"{path}: record {n} has no non-empty string {text_key!r}")
        if y is None or (isinstance(y, str) and not y.strip()):
            raise InvalidInputError(f"{path}: record {n} has no {label_key!r}")
        texts.append(t)
        labels.append(str(y))
    if not texts:
        raise InvalidInputError(f"{path} holds no records")
    return texts, labels
