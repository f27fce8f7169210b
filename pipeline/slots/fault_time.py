"""Fault-time slot: when the fault began (昨天晚上八点开始, 前天傍晚六点多, 刚才, 上周三开始, 从国庆节之后),
as said and resolved."""

from __future__ import annotations

from typing import Any

from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._times import after_today, appointment_cued, order_cued, restore_cued, times

__all__ = ["extract_fault_time"]


def extract_fault_time(u: Utterance) -> dict[str, Any] | None:
    """``{"value", "resolved", "evidence"}`` for when the fault began, or None; the value is the time as said,
    without 从 / 开始 (:attr:`~hotline.pipeline.slots._times.TimeMention.onset`), the evidence the words around it.

    The most specific expression wins (date + period + clock over a bare date), and one said as a start
    (从…, …开始) over one that is not; ties go to the first. Not fault times: times ahead of the call (明天,
    下周), one said as when something was done (上周办的: the order time) and one that may lie ahead said
    about a visit (周六上午在家: the appointment time), and when service is expected back (预计十点前恢复).
    Expressions inside a masked number are skipped.
    """
    best = None
    best_key: tuple[int, int] | None = None
    for m in times(u):
        if m.future_marked or after_today(m.past, u.ref) or order_cued(u, m) or restore_cued(u, m):
            continue
        if appointment_cued(u, m) and m.past != m.future(u):
            continue
        score = m.n_parts + (1 if m.since else 0)
        key = (score, -m.start)
        if best_key is None or key > best_key:
            best, best_key = m, key
    if best is None:
        return None
    return {"value": best.onset, "resolved": best.past, "evidence": u.snippet(best.start, best.end)}

