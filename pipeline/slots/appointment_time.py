"""Appointment-time slot: when a visit suits (明天上午九点到十一点, 周六下午在家, 后天吧), as said and resolved
looking ahead: a bare 周六 is the next Saturday, 九点 said at ten is tomorrow."""

from __future__ import annotations

from typing import Any

from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._times import appointment_cued, is_after, is_before, rejected, times

__all__ = ["appointment_answer", "extract_appointment_time"]

_NARRATIVE = ("的时候", "那会")


def extract_appointment_time(u: Utterance) -> dict[str, Any] | None:
    """``{"value", "resolved", "evidence"}`` for the last time said about a visit, or None.

    A time counts when said with a future word (明天, 下周) or next to an appointment cue (上门, 在家, 方便),
    and not turned down (明天不行); one that can only lie in the past (昨天师傅没来) does not.
    """
    chosen = None
    for m in times(u):
        if not (m.future_marked or appointment_cued(u, m)) or rejected(u, m):
            continue
        if not m.future_marked and any(w in u.norm[m.core[1] : u.clause_end(m.end, 8)] for w in _NARRATIVE):
            continue  # 今天早上在家的时候断网: a past scene, not a visit
        if _in_past(m.future(u), u) and not m.future_marked:
            continue
        if chosen is not None and m.value in chosen.value:
            continue  # 后天下午吧，我后天调休在家: the later 后天 is the same time, said vaguer
        chosen = m
    if chosen is None:
        return None
    return {"value": chosen.value, "resolved": chosen.future(u), "evidence": u.snippet(chosen.start, chosen.end)}


def _in_past(iso: str | None, u: Utterance) -> bool:
    """A datetime not after the call (刚才), or a day before the call's day (昨天)."""
    if iso is None or u.ref is None:
        return False
    return not is_after(iso, u.ref) if "T" in iso else is_before(iso, u.ref)


def appointment_answer(u: Utterance) -> dict[str, Any] | None:
    """The last time said that can lie ahead and is not turned down, with no visit word needed: what a caller
    answers to 您什么时间方便 (明天全天我都在). The call-level merge uses it only right after such a question."""
    chosen = None
    for m in times(u):
        if rejected(u, m) or _in_past(m.future(u), u):
            continue
        chosen = m
    if chosen is None:
        return None
    return {"value": chosen.value, "resolved": chosen.future(u), "evidence": u.snippet(chosen.start, chosen.end)}
