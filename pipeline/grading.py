"""Complaint grading: 普通 / 重要 / 紧急 from what the call shows, and the handling deadline from its spec.

One pure function, :func:`grade_call`, used by the live ticket draft (:func:`hotline.pipeline.live.ticket.draft_ticket`)
and by batch analysis (:mod:`hotline.pipeline.batch.analyze`, then the aggregation pass that knows repeats and
mass incidents), so a live ticket and a batch record of the same call agree.

The rules (each raising factor is named in ``reasons``):

* **紧急** (urgent): the caller threatens the regulator, the media or the law (工信部, 12300, 通管局, 记者,
  曝光, 律师, 起诉 … — the ``regulator`` / ``media`` / ``legal`` reasons of
  :class:`~hotline.pipeline.escalation.EscalationDetector`), or two or more of the factors below.
* **重要** (important): one of — the call escalated on anger or abuse (``escalate`` without a threat); a
  repeat complaint (the same caller about the same problem family within 7 days); the call is part of a mass
  incident; a VIP customer (customer metadata ``{"vip": true}``, or a level such as ``金卡`` / ``白金`` /
  ``钻石`` / ``vip`` / ``五星`` and above).
* **普通** (ordinary): none of these.

The deadline is the call's start plus the first time limit its handling spec's ``dispatch_route`` states
(``…，24小时内回复用户`` → 24 h; ``2小时内联系用户`` → 2 h; ``3个工作日内`` → 72 h, counted as calendar days):
the first limit is the one the route sets for the dispatched ticket; later ones are sub-cases (确属误停的2小时内复机).
A route without a limit (``无需派单，一线直接解答``) has no deadline.

Example:
    >>> from datetime import datetime, timedelta, timezone
    >>> g = grade_call(escalation={"escalate": True, "level": "high",
    ...                            "reasons": [{"type": "regulator", "match": "工信部", "turn": 3}]},
    ...                customer={"level": "金卡"}, dispatch_route="派单至装维调度中心，24小时内上门修复",
    ...                started_at=datetime(2024, 5, 1, 9, 0, tzinfo=timezone(timedelta(hours=8))))
    >>> g.grade.value, g.reasons, g.deadline
    ('紧急', ['threat:regulator', 'vip'], '2024-05-02T09:00:00+08:00')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hotline.core.numerals import parse_int
from hotline.core.results import THREAT_TYPES, ComplaintGrade

__all__ = ["Grading", "grade_call", "time_limit_hours", "is_vip", "THREAT_TYPES"]  # THREAT_TYPES: hotline.core.results

_LIMIT_RE = re.compile(r"(\d+(?:\.\d+)?|[一二两三四五六七八九十百]+)\s*个?\s*(小时|工作日|天|日)\s*(?:之内|以内|内)")
_UNIT_HOURS = {"小时": 1.0, "工作日": 24.0, "天": 24.0, "日": 24.0}
_TRUE = frozenset({"true", "1", "yes", "y", "是", "vip"})
# customer levels that mark a VIP, as CRMs write them (lower-cased); star levels 5+ count too
_VIP_LEVELS = frozenset({"vip", "svip", "gold", "platinum", "diamond", "金卡", "白金", "白金卡", "钻石", "钻石卡",
                         "钻卡", "贵宾", "大客户", "集团客户", "政企"})
_STAR_RE = re.compile(r"^\s*(\d|[一二三四五六七])\s*(?:星|星级|star)", re.IGNORECASE)
_VIP_STARS = 5


@dataclass(frozen=True)
class Grading:
    """The grade of one call and its handling deadline.

    Attributes:
        grade: 普通 / 重要 / 紧急.
        reasons: What raised it, in rule order: ``threat:regulator``, ``escalated``, ``repeat``,
            ``mass_incident``, ``vip`` (empty for 普通).
        time_limit_h: The spec's time limit in hours, or None.
        deadline: ``started_at + time_limit_h`` as ISO 8601, or None.
    """

    grade: ComplaintGrade
    reasons: list[str] = field(default_factory=list)
    time_limit_h: float | None = None
    deadline: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"grade": self.grade.value, "grade_reasons": list(self.reasons), "time_limit_h": self.time_limit_h,
                "deadline": self.deadline}


def time_limit_hours(dispatch_route: str | None) -> float | None:
    """The first time limit a dispatch route states, in hours (``24小时内回复`` → 24.0), or None.

    Example:
        >>> time_limit_hours("派单至计费复机支撑组，2小时内完成复机并短信通知用户")
        2.0
        >>> time_limit_hours("无需派单，一线直接解答") is None
        True
    """
    if not dispatch_route:
        return None
    m = _LIMIT_RE.search(dispatch_route)
    if m is None:
        return None
    number = m.group(1)
    try:
        n = float(number) if number[0].isdigit() else float(parse_int(number))
    except ValueError:
        return None
    return n * _UNIT_HOURS[m.group(2)] if n > 0 else None


def is_vip(customer: Mapping[str, Any] | None) -> bool:
    """Whether customer metadata marks a VIP: ``vip`` true, or a ``level`` / ``vip_level`` / ``star`` that is one.

    Example:
        >>> is_vip({"vip": "true"}), is_vip({"level": "五星"}), is_vip({"level": "普通"}), is_vip(None)
        (True, True, False, False)
    """
    if not customer:
        return False
    flag = customer.get("vip")
    if isinstance(flag, bool):
        if flag:
            return True
    elif flag is not None and str(flag).strip().lower() in _TRUE:
        return True
    for key in ("level", "vip_level", "star", "star_level", "customer_level"):
        value = customer.get(key)
        if value is None:
            continue
        text = str(value).strip().lower()
        if text in _VIP_LEVELS or any(w in text for w in ("vip", "钻石", "白金", "金卡", "贵宾")):
            return True
        star = _STAR_RE.match(text) or (re.fullmatch(r"\d", text) if key.startswith("star") else None)
        if star is not None:
            digit = star.group(1) if star.groups() else star.group(0)
            if (int(digit) if digit.isdigit() else parse_int(digit)) >= _VIP_STARS:
                return True
    return False


def grade_call(*, escalation: Mapping[str, Any] | None = None, customer: Mapping[str, Any] | None = None,
               repeat: bool = False, mass_incident: bool = False, dispatch_route: str | None = None,
               started_at: datetime | None = None) -> Grading:
    """Grade one call (see the module docstring for the rules).

    Args:
        escalation: The call's escalation state (``escalate``, ``level``, ``reasons`` with ``type``), as the live
            engine and batch records keep it.
        customer: Customer metadata (``vip``, ``level`` …); masked values are fine.
        repeat: The same caller complained about the same problem family within 7 days.
        mass_incident: The call is part of a mass incident.
        dispatch_route: The handling spec's dispatch route (its first time limit sets the deadline), or None.
        started_at: When the call started (aware); None gives no deadline.
    """
    esc = escalation or {}
    reasons: list[str] = []
    threats = [t for t in THREAT_TYPES if any(r.get("type") == t for r in esc.get("reasons") or [])]
    reasons += [f"threat:{t}" for t in threats]
    factors = 0
    if esc.get("escalate") and not threats:
        reasons.append("escalated")
        factors += 1
    for name, on in (("repeat", repeat), ("mass_incident", mass_incident), ("vip", is_vip(customer))):
        if on:
            reasons.append(name)
            factors += 1
    if threats or factors >= 2:
        grade = ComplaintGrade.URGENT
    elif factors == 1:
        grade = ComplaintGrade.IMPORTANT
    else:
        grade = ComplaintGrade.ORDINARY
    hours = time_limit_hours(dispatch_route)
    deadline = None
    if hours is not None and started_at is not None:
        try:
            deadline = (started_at + timedelta(hours=hours)).isoformat()
        except OverflowError:  # a call timed at the end of the calendar (year 9999) has no representable deadline
            deadline = None
    return Grading(grade=grade, reasons=reasons, time_limit_h=hours, deadline=deadline)
