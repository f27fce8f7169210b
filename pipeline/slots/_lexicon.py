"""The extractor's word lists: ``data/lexicon/slots.json``, read once, and regex alternations built from them."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from typing import Any

from hotline.core.errors import ArtifactError
from hotline.core.resources import data_path

__all__ = ["lexicon", "words", "alternation"]

_FILE = ("lexicon", "slots.json")


@functools.cache
def lexicon() -> dict[str, Any]:
    """The parsed lexicon (cached for the process; restart to pick up an edit)."""
    path = data_path(*_FILE)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ArtifactError(f"the slot lexicon {path} is missing; reinstall hotline or restore the file") from exc
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"the slot lexicon {path} is not valid JSON ({exc}); fix the file and restart") from exc


def words(*keys: str) -> Any:
    """The entry at ``keys`` (``words("amount", "units")``); a missing key names itself and the file."""
    node: Any = lexicon()
    for i, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            where = ".".join(keys[: i + 1])
            raise ArtifactError(
                f"the slot lexicon {data_path(*_FILE)} has no entry {where!r}; restore it (see the _doc keys)"
            )
        node = node[key]
    return node


def alternation(items: Iterable[str], *, guard: bool = False) -> str:
    """A regex alternation matching any of ``items`` literally, longest first (so 宽带账号 beats 账号).

    ``guard`` puts a look-ahead on the first characters in front: inside a larger pattern (a look-ahead, a
    branch after others) ``re`` then rejects a position with one test instead of one per word. At the very
    start of a pattern leave it off: ``re`` already scans for the first characters of a plain alternation.
    """
    unique = sorted({w for w in items if w}, key=lambda w: (-len(w), w))
    if not unique:
        raise ArtifactError(f"an empty word list in the slot lexicon {data_path(*_FILE)}; add words or restore it")
    body = "|".join(re.escape(w) for w in unique)
    if not guard:
        return body
    firsts = "".join(sorted({re.escape(w[0]) for w in unique}))
    return f"(?=[{firsts}])(?:{body})"
