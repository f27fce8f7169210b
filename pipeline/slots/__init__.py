"""Ticket fields from conversation text: the 16 field kinds the handling specs ask for.

One module per field kind (:mod:`.phone`, :mod:`.location`, :mod:`.device`, :mod:`.fault_time`,
:mod:`.fault_number`, :mod:`.amount`, :mod:`.billing_month`, :mod:`.id_verified`, :mod:`.order_time`,
:mod:`.channel`, :mod:`.appointment_time`, :mod:`.broadband_account`, :mod:`.sms_content`,
:mod:`.charge_item`, :mod:`.sp_name`, :mod:`.roaming_place`), date and time resolution in :mod:`.dates`, the
call-level merge (read-backs, confirmations, corrections) in :mod:`.call`, and the stage that runs them all
in :mod:`.extractor`. Numerals (幺三八…, 二〇二五年, 两千零二十六, 三十八块) are read by
:mod:`hotline.core.numerals`, the same parser PII masking uses; word lists live in
``data/lexicon/slots.json`` for operators to edit.

Example:
    >>> from hotline.pipeline.slots import SlotExtractor
    >>> SlotExtractor().extract("回电幺三八一二三四五六七八")["phone"]["value"]
    '13812345678'
"""

from __future__ import annotations

from hotline.pipeline.slots.call import CallSlotTracker, SlotStatus
from hotline.pipeline.slots.extractor import SlotExtractor, UtteranceSlots

__all__ = ["SlotExtractor", "UtteranceSlots", "CallSlotTracker", "SlotStatus"]
