"""Evidence snippets: the PII-masked text around a slot, so raw numbers never leave in evidence."""

from __future__ import annotations

from hotline.core.mask import PiiEntity

__all__ = ["evidence", "masked_pos", "snippet"]

_EVIDENCE_CONTEXT = 12
_SENTENCE_END = "。!?！？\n"


def evidence(masked: str, start: int, end: int) -> str:
    """The masked text around ``[start, end)`` (offsets on the masked text), not crossing sentence ends."""
    left = max(0, start - _EVIDENCE_CONTEXT)
    for i in range(start - 1, left - 1, -1):
        if masked[i] in _SENTENCE_END:
            left = i + 1
            break
    right = min(len(masked), end + _EVIDENCE_CONTEXT)
    for i in range(end, right):
        if masked[i] in _SENTENCE_END:
            right = i + 1
            break
    return masked[left:right].strip()


def masked_pos(entities: list[PiiEntity], pos: int) -> int:
    """Offset in the masked text of original offset ``pos`` (outside any entity)."""
    shift = 0
    for e in entities:
        if e.end <= pos:
            shift += len(e.masked) - (e.end - e.start)
    return pos + shift


def snippet(entities: list[PiiEntity], masked: str, start: int, end: int) -> str:
    """:func:`evidence` for ``[start, end)`` given as offsets on the original (unmasked) text."""
    return evidence(masked, masked_pos(entities, start), masked_pos(entities, end))
