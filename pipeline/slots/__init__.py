"""Ticket fields from conversation text: callback phone, location, device and when the fault began.

One module per field (:mod:`.phone`, :mod:`.location`, :mod:`.device`, :mod:`.fault_time`), date and time
resolution in :mod:`.dates`, and the stage that runs them all in :mod:`.extractor`. Numerals (幺三八…,
二〇二五年, 两千零二十六) are read by :mod:`hotline.core.numerals`, the same parser PII masking uses.

Example:
    >>> from hotline.pipeline.slots import SlotExtractor
    >>> SlotExtractor().extract("回电幺三八一二三四五六七八")["phone"]["value"]
    '13812345678'
"""

from __future__ import annotations

from hotline.pipeline.slots.extractor import SlotExtractor

__all__ = ["SlotExtractor"]
