"""Call-level slots: one value per field from all the turns of a call, both speakers, by the read-back rules.

* The caller's own statements give values; the latest one wins, except where the value held stands
  (``_HELD_STANDS``): a fault time is replaced only by a more specific one (the date, period and clock said; a
  vague 最近 ranks lowest), so the onset said first (今天早上开始) stands against a vaguer later time (今天); a
  place against a passing mention less than half its length (武进区湖塘镇聚湖雅苑8幢1203 against 家里), and the
  address or message given when the agent asked for it against a later one said unasked and no longer; a
  named device or model against a bare kind said later (魔百和, then 机顶盒).
* A mobile said in parts is joined: in one turn (159 0228，后面是4713) or over the caller's turns after the
  agent asked for the number (幺八五 八幺零幺 / 后四位呢 / 六六三七).
* Right after the agent asks for a field, the caller's answer may give it without the words that mark it
  elsewhere (``TurnInfo.answers``): a message read out (请问短信怎么写的 → 我念一下 …), a month (哪个月的发票
  → 九月和十月份的), a visit time (您什么时间方便 → 明天全天我都在), someone else's number (您爱人的号码是多少 →
  她是…). An agent's question gives no free-text value (SMS text, SP name, charge item).
* The agent's read-back (您的号码是138…对吗) confirms a value when it matches; when it differs, the caller's
  next reply decides: a yes (对 / 是的) adopts the read-back, a correction (不对,最后一位是7 / 是5678不是5687 /
  a new number) replaces it, anything else leaves the caller's value. A correction said in the same turn as
  the number (…八八六六 哦不对 最后一位是七) applies to it.
* A value only the agent said counts until the caller gives one (it is marked ``unconfirmed``); the agent's
  verdict on the identity check is the value itself.
* A number the caller says with no cue right after the agent asked for another number field (请问对方号码是
  多少) goes to that field rather than the phone.

Which number is whose (someone else's, a scammer's, a ticket number) is decided per utterance, by the field
modules. :class:`CallSlotTracker` applies the rules one turn at a time, so a live call
(:class:`~hotline.pipeline.live.ticket.SlotMemory`) and a replayed transcript
(:meth:`~hotline.pipeline.slots.SlotExtractor.extract_call`) get the same result.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from hotline.core.errors import InvalidInputError
from hotline.core.mask import mask_pii
from hotline.core.results import Speaker
from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._dialogue import Edit, TurnInfo
from hotline.pipeline.slots._fields import FIELD_NAMES, FIELDS, NUMBER_FIELDS, TIME_FIELDS
from hotline.pipeline.slots._times import times
from hotline.pipeline.slots.device import is_generic_device

__all__ = ["CallSlotTracker", "SlotStatus"]

_MOBILE_RE = re.compile(r"1[3-9]\d{9}")
_AGENT_DECIDES = frozenset({"id_verified"})  # the agent's verdict is the value, not a read-back
_REROUTE = ("fault_number", "broadband_account")  # number fields a bare number may answer
_MOBILE_PREFIX_RE = re.compile(r"1[3-9]\d|1[3-9]\d{5}")  # the first part of a mobile said in parts: 3 or 7 digits
_FREE_TEXT = frozenset({"sms_content", "sp_name", "charge_item"})  # an agent's question gives none of these
_SPEAKERS = frozenset(s.value for s in Speaker)


class SlotStatus(str, Enum):
    """How a call-level value was established."""

    STATED = "stated"  # the caller said it
    CONFIRMED = "confirmed"  # read back by the agent as said, or a read-back the caller agreed to
    CORRECTED = "corrected"  # the caller corrected a read-back or an earlier value
    UNCONFIRMED = "unconfirmed"  # said only by the agent

    def __str__(self) -> str:
        return self.value


@dataclass
class _Held:
    slot: dict[str, Any]
    turn: int
    status: SlotStatus
    asked: bool = False  # the caller said it right after the agent asked for that field


def _has_value(slot: Any) -> bool:
    return isinstance(slot, Mapping) and slot.get("value") not in (None, "")


def _covers(name: str, held: Mapping[str, Any], said: Mapping[str, Any]) -> bool:
    """Whether ``said`` adds nothing to ``held``: the same digits for numbers; else the same value or reading,
    or ``said`` inside ``held`` (the agent reads back 万达广场B座 for 万达广场B座那个写字楼里面)."""
    vh, vs = str(held.get("value")), str(said.get("value"))
    if name in NUMBER_FIELDS or vh == vs:
        return vh == vs
    rh, rs = held.get("resolved"), said.get("resolved")
    if rh is not None and rh == rs:
        return True
    if name == "device" and is_generic_device(vs) and not is_generic_device(vh):
        return True  # 魔百和, then 机顶盒: the same box named by its kind
    return len(vs) >= 2 and vs in vh


def _agree(name: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return _covers(name, a, b) or _covers(name, b, a)


def _edit_digits(edit: Edit, digits: str) -> str | None:
    """``digits`` with ``edit`` applied, or None where it does not fit."""
    new = edit.new
    if not new.isdigit():
        return None
    if edit.kind == "suffix" and edit.readback_only and len(digits) == 11 and len(new) == 4:
        # 不对，是0238 after a read-back of 133 0283 7756: the four digits correct the group they are closest to
        # (here the middle one, two digits swapped), the last four when both are as close
        def misses(lo: int) -> int:
            return sum(a != b for a, b in zip(digits[lo : lo + 4], new, strict=True))

        if 0 < misses(3) < misses(7):
            return digits[:3] + new + digits[7:]
    if edit.kind == "suffix" and len(new) < len(digits):
        return digits[: -len(new)] + new
    if edit.kind == "prefix" and len(new) < len(digits):
        return new + digits[len(new) :]
    if edit.kind == "position" and edit.at is not None and edit.at < len(digits) and len(new) == 1:
        return digits[: edit.at] + new + digits[edit.at + 1 :]
    if edit.kind == "middle" and len(digits) == 11 and len(new) == 4:
        return digits[:3] + new + digits[7:]
    if edit.kind == "replace" and edit.old and edit.old.isdigit() and edit.old in digits:
        i = digits.rfind(edit.old)
        return digits[:i] + new + digits[i + len(edit.old) :]
    return None


def _resolve_again(name: str, value: str, ref: datetime | None) -> Any:
    """The resolved reading of a corrected value (不是前天是大前天 → 大前天…)."""
    u = Utterance(value, value, [], ref)
    if name in TIME_FIELDS:
        found = times(u)
        if not found:
            return None
        return found[0].future(u) if name == "appointment_time" else found[0].past
    slot = FIELDS[name](u)
    return slot.get("resolved") if slot else None


def _time_rank(slot: Mapping[str, Any], ref: datetime | None) -> int:
    """How specific a time value is: the parts said (date, period, clock); a vague one (最近, 这段时间: no
    reading) ranks below any that can be read."""
    value = str(slot.get("value") or "")
    found = times(Utterance(value, value, [], ref))
    return max((m.n_parts + (1 if m.past is not None else -1) for m in found), default=0)


def _vaguer_time(new: Mapping[str, Any], held: _Held, ref: datetime | None, asked: bool) -> bool:
    """今天早上开始, then 今天: a later time no more specific is no new onset."""
    return _time_rank(new, ref) <= _time_rank(held.slot, ref)


def _passing_place(new: Mapping[str, Any], held: _Held, ref: datetime | None, asked: bool) -> bool:
    """A full address, then 商场 / 家里: a mention under half as long is a passing one; so is one said
    unasked and no longer than the address the caller gave when the agent asked where (我老母亲在医院)."""
    n, h = len(str(new.get("value") or "")), len(str(held.slot.get("value") or ""))
    return 2 * n < h or _answer_stands(new, held, ref, asked)


def _answer_stands(new: Mapping[str, Any], held: _Held, ref: datetime | None, asked: bool) -> bool:
    """What the caller said when the agent asked for the field stands against a later mention said unasked
    that is no longer (the message quoted on 请问短信写的什么, then 这短信是手机上收的嘛)."""
    return held.asked and not asked and len(str(new.get("value") or "")) <= len(str(held.slot.get("value") or ""))


def _vaguer_device(new: Mapping[str, Any], held: _Held, ref: datetime | None, asked: bool) -> bool:
    """我家魔百和看不了, then 机顶盒背面贴了个条: a bare kind after a named product or model is the same device."""
    return is_generic_device(str(new.get("value") or "")) and not is_generic_device(str(held.slot.get("value") or ""))


# Per field: whether the value held stands against a new one the caller states (not a correction: an edit),
# given whether the agent's last turn asked for the field. Fields not named here take the latest value.
_HELD_STANDS: dict[str, Callable[[Mapping[str, Any], _Held, datetime | None, bool], bool]] = {
    "fault_time": _vaguer_time,
    "location": _passing_place,
    "sms_content": _answer_stands,
    "device": _vaguer_device,
}


class CallSlotTracker:
    """Merge the per-turn slots of one call (see the module docstring for the rules).

    Feed it :meth:`~hotline.pipeline.slots.SlotExtractor.extract` results turn by turn with :meth:`add`;
    read :meth:`best` or :meth:`result`. Not thread-safe: the call's owner serialises updates.

    Example:
        >>> from hotline.pipeline.slots import SlotExtractor
        >>> ext, calls = SlotExtractor(), CallSlotTracker()
        >>> calls.add(ext.extract("我的号码是13812345687"), idx=0, speaker="customer")
        >>> calls.add(ext.extract("您的号码是13812345687对吗"), idx=1, speaker="agent")
        >>> calls.add(ext.extract("不对,是5678不是5687"), idx=2, speaker="customer")
        >>> phone, turn = calls.best("phone")
        >>> phone["value"], phone["masked"], phone["status"], turn
        ('13812345678', '138****5678', 'corrected', 2)
    """

    def __init__(self) -> None:
        self._current: dict[str, _Held] = {}  # confident values: the caller's, confirmed or corrected
        self._agent: dict[str, _Held] = {}  # the agent's latest value per field, used while nothing else is
        self._pending: dict[str, _Held] = {}  # read-backs waiting for the caller's reply
        self._asks: frozenset[str] = frozenset()  # what the agent's last question asked for
        self._phone_part: tuple[str, str, int] | None = None  # (digits, evidence, turn): a mobile's first part
        self._read_back: frozenset[str] = frozenset()  # fields the agent's last turn said a value of
        self._recent: list[str] = []  # field names, the most recently touched last

    def add(self, found: Mapping[str, Any], idx: int, speaker: str) -> None:
        """Take in the slots ``found`` in turn ``idx`` said by ``speaker`` (``customer`` or ``agent``).

        ``found`` is :meth:`~hotline.pipeline.slots.SlotExtractor.extract`'s result; a plain
        ``{name: slot}`` dict works too (without dialogue acts: no yes/no, no corrections). Empty slots are
        ignored.
        """
        speaker = getattr(speaker, "value", speaker)
        if speaker not in _SPEAKERS:
            raise InvalidInputError(
                f"speaker must be one of {sorted(_SPEAKERS)}, got {speaker!r}; pass 'customer' for the caller"
            )
        info: TurnInfo = getattr(found, "turn", None) or TurnInfo()
        values = {name: dict(slot) for name, slot in found.items() if _has_value(slot)}
        if speaker == Speaker.AGENT.value:
            self._add_agent(values, info, idx)
        else:
            self._add_customer(values, info, idx)

    def best(self, name: str) -> tuple[dict[str, Any], int] | None:
        """``(slot, turn idx)`` of the value to use for ``name``, or None.

        The slot carries ``evidence_turn`` (that idx) and ``status`` (a :class:`SlotStatus` value).
        """
        held = self._current.get(name) or self._agent.get(name)
        if held is None:
            return None
        return {**held.slot, "evidence_turn": held.turn, "status": held.status.value}, held.turn

    def result(self, names: tuple[str, ...] | None = None) -> dict[str, dict[str, Any] | None]:
        """``{name: slot | None}`` for ``names`` (default: every field kind), as :meth:`best` gives them."""
        out: dict[str, dict[str, Any] | None] = {}
        for name in names if names is not None else FIELD_NAMES:
            found = self.best(name)
            out[name] = found[0] if found else None
        return out

    # -- the rules ------------------------------------------------------------------------------
    def _touch(self, name: str) -> None:
        if name in self._recent:
            self._recent.remove(name)
        self._recent.append(name)

    def _add_agent(self, values: dict[str, dict[str, Any]], info: TurnInfo, idx: int) -> None:
        for name, slot in values.items():
            if info.question and name in _FREE_TEXT:
                continue  # 这些短信是从什么号码发过来的: the agent asking about a message quotes none
            self._agent[name] = _Held(slot, idx, SlotStatus.UNCONFIRMED)
            cur = self._current.get(name)
            if name in _AGENT_DECIDES:
                self._current[name] = _Held(slot, idx, SlotStatus.STATED)
            elif cur is not None and _covers(name, cur.slot, slot):
                cur.status = SlotStatus.CONFIRMED  # read back as the caller said it (or shortened)
                self._pending.pop(name, None)
            else:
                self._pending[name] = _Held(slot, idx, SlotStatus.UNCONFIRMED)
            self._touch(name)
        self._asks = info.asks
        self._read_back = frozenset(values)

    def _add_customer(self, values: dict[str, dict[str, Any]], info: TurnInfo, idx: int) -> None:
        asked, self._asks = self._asks, frozenset()
        read_back, self._read_back = self._read_back, frozenset()
        self._join_phone_parts(values, info, idx, asked=asked)
        for target in _REROUTE:
            if target in asked and "phone" not in asked and target not in values and info.bare:
                values[target] = dict(info.bare[0])
                if info.phone_role == "bare":
                    values.pop("phone", None)
        for name, slot in info.answers.items():
            if name in asked and name not in values:
                values[name] = dict(slot)
        edits = info.edits
        if "id_verified" in asked and "phone" not in asked:  # 后四位八八七三 answers 身份证后四位, not a correction
            edits = tuple(e for e in edits if e.kind == "replace")
        handled: set[str] = set()
        missed: list[Edit] = []  # edits that found no field yet
        for edit in edits:
            name = self._apply(edit, idx, info.ref, read_back)
            if name is not None:
                handled.add(name)
            else:
                missed.append(edit)
        if info.affirm:
            for name, held in self._pending.items():
                if name not in values and name not in handled:
                    self._current[name] = _Held(held.slot, held.turn, SlotStatus.CONFIRMED)
        for name, slot in values.items():
            if name in handled:
                continue
            pending, cur = self._pending.get(name), self._current.get(name)
            if pending is None and cur is not None and cur.slot.get("value") == slot.get("value"):
                continue  # said again: nothing new
            stands = _HELD_STANDS.get(name)
            if (pending is None and cur is not None and stands is not None
                    and stands(slot, cur, info.ref, name in asked)):
                continue  # the value held stands against a vaguer later mention (a correction is an edit)
            if pending is not None and _agree(name, pending.slot, slot):
                status = SlotStatus.CONFIRMED
            elif pending is not None or (name == "phone" and info.phone_role == "correction"):
                status = SlotStatus.CORRECTED
            else:
                status = SlotStatus.STATED
            self._current[name] = _Held(slot, idx, status, asked=name in asked)
            self._touch(name)
        self._pending.clear()
        for edit in missed if values else ():  # 一三八…六六 哦不对 最后一位是七: of a number said in this turn
            if not edit.readback_only:
                self._apply(edit, idx, info.ref, read_back)

    def _join_phone_parts(self, values: dict[str, dict[str, Any]], info: TurnInfo, idx: int, *,
                          asked: frozenset[str]) -> None:
        """A mobile said in parts: 159 0228，后面是4713 in one turn, or 幺五幺 七三零八 answering the agent's
        question for the number, then (您继续 / 后四位呢) 四二六六 in a caller's turn soon after. The first part
        must start like a mobile."""
        prefix, self._phone_part = self._phone_part, None
        if "phone" in values or not info.parts:
            return
        digits = [d for d, _ in info.parts]
        joined = None
        for i in range(len(digits) - 1):  # within the turn: two or three consecutive parts (138 中间0013 后面8866)
            for j in (i + 2, i + 3):
                number = "".join(digits[i:j])
                if j <= len(digits) and _MOBILE_RE.fullmatch(number) and _MOBILE_PREFIX_RE.fullmatch(digits[i]):
                    joined = (number, f"{info.parts[i][1]} … {info.parts[j - 1][1]}")
                    break
            if joined is not None:
                break
        if joined is None and prefix is not None and idx - prefix[2] <= 3:
            number = prefix[0] + digits[0]
            if _MOBILE_RE.fullmatch(number):
                joined = (number, f"{prefix[1]} … {info.parts[0][1]}")
            elif len(digits) == 1 and _MOBILE_PREFIX_RE.fullmatch(number):  # 幺三八 / 零零幺三 / 八八六六
                self._phone_part = (number, f"{prefix[1]} … {info.parts[0][1]}", idx)
                return
        if joined is not None:
            number, evidence = joined
            values["phone"] = {"value": number, "masked": f"{number[:3]}****{number[-4:]}", "evidence": evidence}
        elif len(digits) == 1 and _MOBILE_PREFIX_RE.fullmatch(digits[0]) and "phone" in asked:
            self._phone_part = (digits[0], info.parts[0][1], idx)

    def _targets(self, edit: Edit, read_back: frozenset[str]) -> list[str]:
        """Fields an edit may apply to: read-backs waiting first, then the most recently touched (only what the
        agent's last turn read back, for an edit that needs a read-back)."""
        order = [n for n in reversed(self._recent) if n in self._pending]
        order += [n for n in reversed(self._recent) if n not in self._pending
                  and (not edit.readback_only or n in read_back)]
        digits = edit.new.isdigit() and (edit.kind != "replace" or (edit.old or "").isdigit())
        return [n for n in order if (n in NUMBER_FIELDS) == digits]

    def _bases(self, name: str) -> list[_Held]:
        """What a correction of ``name`` may apply to, in order: digits correct the read-back (the whole
        number the agent heard); words correct the caller's own value first (a read-back often shortens it:
        前天傍晚 for 前天傍晚六点多), else the read-back."""
        held = [self._pending.get(name), self._current.get(name), self._agent.get(name)]
        if name not in NUMBER_FIELDS:
            held[0], held[1] = held[1], held[0]
        return [h for h in held if h is not None]

    def _apply(self, edit: Edit, idx: int, ref: datetime | None, read_back: frozenset[str]) -> str | None:
        """Apply a correction to the field it fits; the field's name, or None where it fits none."""
        for name in self._targets(edit, read_back):
            for base in self._bases(name):
                edited = self._edited(name, base, edit, ref)
                if edited is None:
                    continue
                self._keep_edit(name, base, edited, idx)
                return name
        return None

    def _edited(self, name: str, base: _Held, edit: Edit, ref: datetime | None) -> dict[str, Any] | None:
        """``base``'s slot with ``edit`` applied, or None where it does not fit."""
        value = str(base.slot["value"])
        if name in NUMBER_FIELDS:
            new = _edit_digits(edit, value)
            if new is None or (name == "phone" and not _MOBILE_RE.fullmatch(new)):
                return None
            slot: dict[str, Any] = {"value": new}
            entities = mask_pii(new).entities
            if entities and entities[0].value == new:
                slot["masked"] = entities[0].masked
        else:
            if not edit.old or edit.old not in value:
                return None
            i = value.rfind(edit.old)
            new = value[:i] + edit.new + value[i + len(edit.old) :]
            slot = {k: v for k, v in base.slot.items() if k not in ("evidence", "masked")}
            slot["value"] = new
            shown = mask_pii(new).text  # a corrected address may now hold a number
            if shown != new:
                slot["masked"] = shown
            if "resolved" in base.slot:
                slot["resolved"] = _resolve_again(name, new, ref)
        slot["evidence"] = edit.evidence
        return slot

    def _keep_edit(self, name: str, base: _Held, slot: dict[str, Any], idx: int) -> None:
        if slot["value"] == base.slot["value"]:  # 尾号5678 after a read-back ending in 5678: a yes
            kept = SlotStatus.CORRECTED if base.status is SlotStatus.CORRECTED else SlotStatus.CONFIRMED
            self._current[name] = _Held(base.slot, base.turn, kept)
        else:
            self._current[name] = _Held(slot, idx, SlotStatus.CORRECTED)
        self._pending.pop(name, None)
        self._touch(name)
