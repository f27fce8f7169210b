"""The ticket of one live call: slots remembered across turns, the draft the agent sees, the dispatch copy, the summary.

The draft lists the handling spec's fields with the best value found so far, by the read-back rules of
:mod:`hotline.pipeline.slots.call` (the caller's statements give values, the agent's read-back confirms them,
the caller's correction wins, otherwise the latest confident value; an agent-only value counts until the
caller gives one; phone numbers masked), the required fields still missing and a Chinese question for each.
The dispatch copy, made when the call ends, holds the unmasked values for the dispatch system and is never
stored in the call state or logged.

Example:
    >>> slots = SlotMemory()
    >>> slots.record({"phone": {"value": "13812345678", "masked": "138****5678"}}, idx=1, speaker="customer")
    >>> slots.best("phone")[1]
    1
"""

from __future__ import annotations

from typing import Any

from hotline.core.results import Speaker
from hotline.pipeline.grading import grade_call
from hotline.pipeline.slots import CallSlotTracker

__all__ = ["SlotMemory", "draft_ticket", "dispatch_copy", "summarise"]

_QUESTIONS = {
    "phone": "请问您的联系电话是多少？",
    "location": "请问{label}在哪里？麻烦说具体一些，比如哪个区、哪个小区、几栋。",
    "device": "请问您的{label}是什么？",
    "fault_time": "请问{label}大概是什么时候？",
    "appointment_time": "请问您方便什么时间安排上门？",
    "amount": "请问{label}是多少？",
    "id_verified": "为了保护您的账户安全，麻烦提供一下机主身份证号码的后四位，核实一下身份。",
    "roaming_place": "请问您现在在哪个国家或城市？",
    "billing_month": "请问是哪个月的账单？",
    "broadband_account": "请问您的宽带账号是多少？",
    "channel": "请问{label}是哪个？比如营业厅、网上营业厅、手机APP还是客服热线。",
    "order_time": "请问{label}大概是什么时候？",
}
_DEFAULT_QUESTION = "请问{label}是什么？"


class SlotMemory(CallSlotTracker):
    """The slots of one live call, merged turn by turn by the same rules as
    :meth:`~hotline.pipeline.slots.SlotExtractor.extract_call`, so a live call and its replay agree.

    Slots are the extractor's dicts (``value``, ``masked``, ``resolved`` …); :meth:`best` adds
    ``evidence_turn`` and ``status``. Not thread-safe: the call's owner serialises updates.
    """

    def record(self, found: dict[str, Any], idx: int, speaker: str) -> None:
        """Take in the slots found in turn ``idx`` (``SlotExtractor.extract``'s result); empty ones are ignored."""
        self.add(found, idx=idx, speaker=speaker)

    def values(self, names: tuple[str, ...]) -> dict[str, str | None]:
        """Raw best value per name (phone as digits); never log it."""
        out: dict[str, str | None] = {}
        for name in names:
            found = self.best(name)
            out[name] = str(found[0].get("value")) if found and found[0].get("value") is not None else None
        return out


def draft_ticket(spec: Any, category: str | None, slots: SlotMemory,
                 customer_masked: dict[str, str], *, escalation: dict[str, Any] | None = None,
                 mass_incident: bool = False, started_at: Any = None) -> dict[str, Any]:
    """The ticket draft of the call state (a :class:`~hotline.core.results.TicketDraft` as a dict).

    Args:
        spec: Handling spec of the shown category (``ticket_fields``, ``dispatch_route``), or ``None``.
        category: The shown category code, or ``None``.
        slots: What the call's turns said.
        customer_masked: Known customer data by field name (masked), used when no turn gave the field.
        escalation: The call's escalation state; with ``mass_incident`` and the customer data it sets the grade
            (:func:`hotline.pipeline.grading.grade_call`, the same function batch analysis uses).
        mass_incident: The call is covered by an open mass incident.
        started_at: When the call started (aware datetime); the deadline is it plus the spec's time limit.
    """
    fields = []
    missing = []
    questions = []
    for f in (spec.ticket_fields if spec is not None else []):
        name, label, required = _field(f)
        value, resolved, turn = None, None, None
        found = slots.best(name)
        if found is not None:
            slot, turn = found
            value = slot.get("masked") or slot.get("value")
            resolved = slot.get("resolved")
            if isinstance(resolved, bool):
                resolved = "true" if resolved else "false"  # id_verified
        elif customer_masked.get(name):
            value = customer_masked[name]
        entry = {"name": name, "label": label, "required": required,
                 "value": None if value is None else str(value), "evidence_turn": turn}
        if resolved is not None:
            entry["resolved"] = str(resolved)
        fields.append(entry)
        if required and value is None:
            missing.append(name)
            questions.append(_QUESTIONS.get(name, _DEFAULT_QUESTION).format(label=label))
    return {
        "category": category,
        "fields": fields,
        "missing": missing,
        "suggested_questions": questions,
        "dispatch_route": getattr(spec, "dispatch_route", None) if spec is not None else None,
        # a live call is not known to be a repeat (batch analysis finds those across calls)
        **grade_call(escalation=escalation, customer=customer_masked, mass_incident=mass_incident,
                     dispatch_route=getattr(spec, "dispatch_route", None) if spec is not None else None,
                     started_at=started_at).to_dict(),
    }


def dispatch_copy(call_id: str, region: str, ticket: dict[str, Any], slots: SlotMemory,
                  customer_raw: dict[str, str]) -> dict[str, Any]:
    """The unmasked field values of ``ticket`` for the dispatch system (resolved times where known)."""
    out: dict[str, Any] = {"call_id": call_id, "region": region, "category": ticket["category"],
                           "dispatch_route": ticket["dispatch_route"], "fields": {}}
    for f in ticket["fields"]:
        name = f["name"]
        found = slots.best(name)
        if found is not None:
            resolved = found[0].get("resolved")
            out["fields"][name] = resolved if resolved is not None else found[0].get("value")
        elif name in customer_raw:
            out["fields"][name] = customer_raw[name]
        else:
            out["fields"][name] = None
    return out


def summarise(state: dict[str, Any]) -> str:
    """One Chinese line for the ticket: category, the customer's request, fields, what is missing, risks.

    ``state`` is the call state as a dict (masked values only, so the summary is safe to log).
    """
    cat = state["category"]
    parts = [f"来电类别：{cat['phenomenon']}（{cat['service_name']}）" if cat else "来电类别：未识别"]
    first = next((t["text"] for t in state["turns"] if t["speaker"] == Speaker.CUSTOMER.value
                  and cat and t["idx"] in cat["evidence"]), None)
    if first:
        parts.append(f"客户诉求：{first[:80]}")
    ticket = state["ticket"]
    for f in ticket["fields"]:
        if f["value"] is not None:
            parts.append(f"{f['label']}：{f['value']}")
    if ticket["missing"]:
        labels = [f["label"] for f in ticket["fields"] if f["name"] in ticket["missing"]]
        parts.append("待补充：" + "、".join(labels))
    if state["escalation"]["escalate"]:
        kinds = sorted({r["type"] for r in state["escalation"]["reasons"]})
        parts.append("升级风险：" + "、".join(kinds))
    if state["notices"]:
        parts.append("已播报公告：" + "、".join(n["title"] for n in state["notices"]))
    return "；".join(parts) + "。"


def _field(f: Any) -> tuple[str, str, bool]:
    """(name, label, required) of a ticket field given as a dataclass or a dict."""
    if isinstance(f, dict):
        name = f["name"]
        return name, f.get("label") or name, bool(f.get("required", False))
    return f.name, getattr(f, "label", "") or f.name, bool(getattr(f, "required", False))
