"""Callback phone slot: the caller's own mobile number, corrections honoured.

Numbers said as someone else's (我老婆的号是…), a scammer's or the other end of a failing call (see
:mod:`.fault_number`), a ticket, order or broadband account number, or as the wrong one (是A不是B) are not
the callback phone; see :mod:`._numbers` for how a number's role is read.
"""

from __future__ import annotations

from typing import Any

from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._numbers import NumberMention, number_slot, numbers

__all__ = ["extract_phone", "phone_mention"]

_CALLER_ROLES = frozenset({"own", "bare", "correction"})


def phone_mention(u: Utterance) -> NumberMention | None:
    """The mention the callback phone comes from: the last correction, else the first own, else the first bare."""
    if "phone_mention" in u.cache:
        return u.cache["phone_mention"]
    mobiles = [n for n in numbers(u) if n.kind == "mobile" and n.role in _CALLER_ROLES
               and not (n.role == "bare" and n.fault)]
    chosen = None
    if mobiles:
        corrections = [n for n in mobiles if n.role == "correction"]
        chosen = corrections[-1] if corrections else next((n for n in mobiles if n.role == "own"), mobiles[0])
    u.cache["phone_mention"] = chosen
    return chosen


def extract_phone(u: Utterance) -> dict[str, Any] | None:
    """``{"value", "masked", "evidence"}`` for the callback phone, or None.

    Digits are read by :mod:`hotline.core.numerals` (幺三八… is ``138…``); the evidence is masked.
    """
    n = phone_mention(u)
    return number_slot(u, n) if n is not None else None
