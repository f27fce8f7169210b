"""Fault-number slot: the other number a fault involves: the scammer's or marketer's, the one that cannot be
reached or whose messages do not arrive (那个骗子的号码是…, 95xxx打来的, 打我老婆的号139…打不通).

The value is the digits (as for the phone); a mobile number also gets its masked form.
"""

from __future__ import annotations

from typing import Any

from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._numbers import number_slot, numbers

__all__ = ["extract_fault_number"]

_NOT_A_PARTY = frozenset({"id_card", "bank_card"})


def extract_fault_number(u: Utterance) -> dict[str, Any] | None:
    """``{"value", "masked"?, "evidence"}`` of the first number said as the other party's, or None.

    A party cue (骗子, 对方, …打来的) makes one; someone else's number or a bare one counts when a failure
    is said right after it (…打不通).
    """
    for n in numbers(u):
        if n.kind in _NOT_A_PARTY:
            continue
        if n.role == "party" or (n.role in ("other", "bare") and n.fault):
            return number_slot(u, n)
    return None
