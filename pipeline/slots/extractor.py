"""The slot-filling stage: ticket fields from conversation text, for one utterance or a whole call.

Rule-based and fast (regexes built once from the lexicon ``data/lexicon/slots.json``). Each slot is a dict
or None; ``value`` is what was said (digits for numbers), ``resolved`` the machine reading where there is
one::

    {"phone": {"value": "13812345678", "masked": "138****5678", "evidence": "…"},
     "location": {"value": "万达广场B座那个写字楼里面", "evidence": "…"},
     "fault_time": {"value": "前天傍晚六点多", "resolved": "2026-11-18T18:00:00+08:00", "evidence": "…"},
     "amount": {"value": "三十八块钱", "resolved": 38, "evidence": "…"},
     "billing_month": {"value": "上个月", "resolved": "2026-10", "evidence": "…"}, …}

Evidence snippets are cut from the PII-masked text, so raw personal numbers (mobiles, landlines, ID and bank
cards) appear only in a slot's ``value``, and every slot whose value holds one has its ``masked`` form beside
it: the number fields (phone, fault_number, broadband_account), and any other value with a number in it (an
address said with a phone number: ``幸福小区138****5678号``). What the agent sees is ``masked`` where there is
one; the raw ``value`` goes only to the dispatch copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hotline.core.errors import InvalidInputError
from hotline.core.mask import mask_pii
from hotline.core.normalise import normalise_text
from hotline.core.numerals import parse_int
from hotline.core.results import Speaker
from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._dialogue import TurnInfo, analyse_turn
from hotline.pipeline.slots._fields import FIELD_NAMES, FIELDS
from hotline.pipeline.slots._numbers import number_parts, number_slot, numbers
from hotline.pipeline.slots.appointment_time import appointment_answer
from hotline.pipeline.slots.billing_month import billing_month_answer
from hotline.pipeline.slots.call import CallSlotTracker
from hotline.pipeline.slots.phone import phone_mention
from hotline.pipeline.slots.sms_content import sms_answer

__all__ = ["SlotExtractor", "UtteranceSlots"]

_SPEAKERS = tuple(s.value for s in Speaker)
_NOT_BARE = ("id_card", "bank_card")


class UtteranceSlots(dict[str, "dict[str, Any] | None"]):
    """``{name: slot | None}`` for one utterance, and ``turn``: its dialogue acts (yes/no, corrections, what a
    question asks for), which :class:`~hotline.pipeline.slots.call.CallSlotTracker` reads. Compares and
    serialises as the plain dict."""

    __slots__ = ("turn",)

    def __init__(self, slots: dict[str, dict[str, Any] | None], turn: TurnInfo) -> None:
        super().__init__(slots)
        self.turn = turn


class SlotExtractor:
    """Extract the handling specs' ticket fields from conversation text.

    Field kinds: phone, location, device, fault_time, fault_number, amount, billing_month, id_verified,
    order_time, channel, appointment_time, broadband_account, sms_content, charge_item, sp_name,
    roaming_place (one module each in :mod:`hotline.pipeline.slots`).

    Example:
        >>> from datetime import datetime, timezone, timedelta
        >>> ref = datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=8)))
        >>> slots = SlotExtractor().extract("我家在杭州市西湖区文三路100号,华为Mate60昨天晚上八点开始没信号,"
        ...                                 "回电幺三八一二三四五六七八", reference_time=ref)
        >>> slots["phone"]["masked"], slots["location"]["value"], slots["device"]["value"]
        ('138****5678', '杭州市西湖区文三路100号', '华为Mate60')
        >>> slots["fault_time"]["value"], slots["fault_time"]["resolved"]
        ('昨天晚上八点开始', '2026-11-19T20:00:00+08:00')
        >>> call = SlotExtractor().extract_call([("customer", "我的号码是13812345687"),
        ...                                      ("agent", "您的号码是13812345687对吗"),
        ...                                      ("customer", "不对,最后两位是78")])
        >>> call["phone"]["value"], call["phone"]["evidence_turn"], call["phone"]["status"]
        ('13812345678', 2, 'corrected')
    """

    def __init__(self) -> None:
        pass

    def warm_up(self) -> None:
        """Read the lexicon, build the regexes and load the numeral parser so the first call is fast.

        Idempotent.
        """
        normalise_text("")
        parse_int("二十")  # imports cn2an (~0.15 s) now rather than on the first 二十号
        self.extract("我的号码是13812345678,宽带账号是hz123456,昨天晚上八点开始没信号,上个月扣了我三十块,对")

    def run(self, texts: list[str], *, reference_time: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
        """Slots for a batch.

        Args:
            texts: Utterances or whole conversations.
            reference_time: When the text was said (the call time); relative times such as 昨天 are
                resolved against it. None leaves relative times unresolved.

        Returns:
            ``{"slots": [slots, ...]}`` in input order, each as returned by :meth:`extract`.
        """
        if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
            raise InvalidInputError(
                f"texts must be a list of str, got {type(texts).__name__}; wrap a single utterance as [text]"
            )
        return {"slots": [self.extract(t, reference_time=reference_time) for t in texts]}

    def extract(self, text: str, reference_time: datetime | None = None) -> UtteranceSlots:
        """Slots for one text.

        Args:
            text: The utterance or conversation (normalised here: width, traditional, spaces).
            reference_time: See :meth:`run`; a timezone-aware value keeps its timezone in ``resolved``.

        Returns:
            ``{name: slot dict | None}`` for every field kind, in a fixed order (an :class:`UtteranceSlots`).
        """
        _check_reference_time(reference_time)
        norm = normalise_text(text)
        masked = mask_pii(norm)
        u = Utterance(norm, masked.text, masked.entities, reference_time)
        slots = {name: read(u) for name, read in FIELDS.items()}
        for slot in slots.values():
            if slot is not None and "masked" not in slot and isinstance(slot.get("value"), str):
                shown = u.masked_value(slot["value"])
                if shown is not None:
                    slot["masked"] = shown
        source = phone_mention(u)
        # numbers said with no cue: the call-level merge files them under the field the agent just asked for
        said = [n for n in numbers(u) if n.kind not in _NOT_BARE]
        bare = tuple(number_slot(u, n) for n in said if n.role == "bare")
        # read only as the answer to the agent's question for the field: a message quoted without 短信, a
        # month said without 账单 (哪个月的发票？九月和十月份的), and someone else's number (她是…) when the agent
        # asked for it (您爱人的号码是多少)
        answers: dict[str, dict[str, Any]] = {}
        sms = sms_answer(u) if slots.get("sms_content") is None else None
        if sms is not None:
            answers["sms_content"] = sms
        visit = appointment_answer(u) if slots.get("appointment_time") is None else None
        if visit is not None:
            answers["appointment_time"] = visit
        month = billing_month_answer(u) if slots.get("billing_month") is None else None
        if month is not None:
            answers["billing_month"] = month
        other = next((n for n in said if n.role == "other"), None)
        if other is not None:
            answers["fault_number"] = number_slot(u, other)
        return UtteranceSlots(slots, analyse_turn(u, phone_role=source.role if source else None, bare=bare,
                                                  answers=answers, parts=number_parts(u)))

    def extract_call(
        self, turns: Sequence[tuple[str, str]], *, reference_time: datetime | None = None
    ) -> dict[str, dict[str, Any] | None]:
        """One value per field for a whole call, from both speakers' turns.

        The caller's statements give values, the agent's read-back confirms them, the caller's correction
        after a read-back wins, and otherwise the latest confident value wins; see
        :mod:`hotline.pipeline.slots.call`. Live calls apply the same rules turn by turn.

        Args:
            turns: ``(speaker, text)`` pairs in order; speaker ``"customer"`` or ``"agent"``.
            reference_time: The call time; see :meth:`run`.

        Returns:
            ``{name: slot | None}`` for every field kind; each slot as :meth:`extract` gives it plus
            ``evidence_turn`` (the index in ``turns`` of the turn the value comes from) and ``status``
            (``stated``, ``confirmed``, ``corrected`` or ``unconfirmed``: said only by the agent).
        """
        if isinstance(turns, str) or not isinstance(turns, Sequence):
            raise InvalidInputError(
                f"turns must be a list of (speaker, text) pairs, got {type(turns).__name__}; "
                "e.g. [('customer', '宽带断了'), ('agent', '请问您的宽带账号是多少')]"
            )
        _check_reference_time(reference_time)
        tracker = CallSlotTracker()
        for idx, turn in enumerate(turns):
            if not (isinstance(turn, (tuple, list)) and len(turn) == 2 and isinstance(turn[1], str)):
                raise InvalidInputError(
                    f"turns[{idx}] must be a (speaker, text) pair, got {turn!r:.80}; speaker is one of {_SPEAKERS}"
                )
            speaker, text = turn
            tracker.add(self.extract(text, reference_time=reference_time), idx=idx, speaker=speaker)
        return tracker.result(FIELD_NAMES)


def _check_reference_time(reference_time: object) -> None:
    if reference_time is not None and not isinstance(reference_time, datetime):
        raise InvalidInputError(
            f"reference_time must be a datetime or None, got {type(reference_time).__name__} "
            f"({reference_time!r}); pass datetime.now(tz) or the call's start time"
        )
