"""Order-time slot: when the caller did something the ticket is about: ordered, paid, topped up, cancelled,
first complained (上周三在营业厅办的, 昨天交的话费, 办理时间是十月五号), as said and resolved."""

from __future__ import annotations

from typing import Any

from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._times import after_today, order_cued, times

__all__ = ["extract_order_time"]


def extract_order_time(u: Utterance) -> dict[str, Any] | None:
    """``{"value", "resolved", "evidence"}`` for the time said with an order verb or label, or None.

    The most specific one wins, ties to the first; times ahead of the call are not order times. Order verbs
    and labels are in the lexicon (``time.order_verbs``, ``time.order_labels``).
    """
    best = None
    for m in times(u):
        if m.future_marked or after_today(m.past, u.ref) or not order_cued(u, m):
            continue
        if best is None or m.n_parts > best.n_parts:
            best = m
    if best is None:
        return None
    return {"value": best.value, "resolved": best.past, "evidence": u.snippet(best.start, best.end)}
