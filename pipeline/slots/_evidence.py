"""Evidence snippets: the PII-masked text around a slot, so raw numbers never leave in evidence."""

from __future__ import annotations

import re

__all__ = ["evidence"]

_EVIDENCE_CONTEXT = 12
_SENTENCE_END = "。!?！？\n"
_UP_TO_LAST_END = re.compile(f"(?s:.*)[{_SENTENCE_END}]")
_END = re.compile(f"[{_SENTENCE_END}]")


def evidence(masked: str, start: int, end: int) -> str:
    """The masked text around ``[start, end)`` (offsets on the masked text), not crossing sentence ends."""
    left = max(0, start - _EVIDENCE_CONTEXT)
    last = _UP_TO_LAST_END.match(masked, left, start)
    if last is not None:
        left = last.end()
    right = min(len(masked), end + _EVIDENCE_CONTEXT)
    first = _END.search(masked, end, right)
    if first is not None:
        right = first.end()
    return masked[left:right].strip()
