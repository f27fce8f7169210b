"""Callback phone slot: the mobile number the caller gave, corrections honoured."""

from __future__ import annotations

import re
from typing import Any

from hotline.core.mask import PiiEntity, PiiType
from hotline.pipeline.slots._evidence import evidence, masked_pos

__all__ = ["extract_phone"]

_CORRECTION_RE = re.compile("不对|不是|错了|应该是|更正|改成|换成|重新说")


def extract_phone(entities: list[PiiEntity], norm: str, masked: str) -> dict[str, Any] | None:
    """``{"value", "masked", "evidence"}`` for the callback phone, or None.

    Args:
        entities: PII found in ``norm`` by :func:`hotline.core.mask.mask_pii` (digits read by
            :mod:`hotline.core.numerals`, so 幺三八… is already ``138…``).
        norm: The normalised text.
        masked: ``norm`` with the entities masked.
    """
    phones = [e for e in entities if e.type == PiiType.PHONE]
    if not phones:
        return None
    chosen = phones[0]
    # A later number after a correction cue (不对, 应该是 …) replaces the first one.
    for e in phones[1:]:
        if _CORRECTION_RE.search(norm, max(0, e.start - 8), e.start):
            chosen = e
    start = masked_pos(entities, chosen.start)
    return {
        "value": chosen.value,
        "masked": chosen.masked,
        "evidence": evidence(masked, start, start + len(chosen.masked)),
    }
