"""The slot-filling stage: ticket fields from conversation text.

Rule-based and fast (regexes compiled at import). Each slot is a dict or None::

    {"phone": {"value": "13812345678", "masked": "138****5678", "evidence": "…"},
     "location": {"value": "杭州市西湖区文三路100号", "evidence": "…"},
     "device": {"value": "华为Mate60", "evidence": "…"},
     "fault_time": {"value": "昨天晚上八点", "resolved": "2026-11-19T20:00:00+08:00", "evidence": "…"}}

Evidence snippets are cut from the PII-masked text, so raw numbers appear only in ``phone.value``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hotline.core.errors import InvalidInputError
from hotline.core.mask import mask_pii
from hotline.core.normalise import normalise_text
from hotline.core.numerals import parse_int
from hotline.pipeline.slots.device import extract_device
from hotline.pipeline.slots.fault_time import extract_fault_time
from hotline.pipeline.slots.location import extract_location
from hotline.pipeline.slots.phone import extract_phone

__all__ = ["SlotExtractor"]


class SlotExtractor:
    """Extract ticket fields (phone, location, device, fault time) from conversation text.

    Example:
        >>> from datetime import datetime, timezone, timedelta
        >>> ref = datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=8)))
        >>> slots = SlotExtractor().extract("我家在杭州市西湖区文三路100号,华为Mate60昨天晚上八点开始没信号,"
        ...                                 "回电幺三八一二三四五六七八", reference_time=ref)
        >>> slots["phone"]["masked"], slots["location"]["value"], slots["device"]["value"]
        ('138****5678', '杭州市西湖区文三路100号', '华为Mate60')
        >>> slots["fault_time"]["value"], slots["fault_time"]["resolved"]
        ('昨天晚上八点开始', '2026-11-19T20:00:00+08:00')
    """

    def __init__(self) -> None:
        pass

    def warm_up(self) -> None:
        """Build the shared normaliser and load the numeral parser so the first call is fast. Idempotent."""
        normalise_text("")
        parse_int("二十")  # imports cn2an (~0.15 s) now rather than on the first 二十号

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

    def extract(self, text: str, reference_time: datetime | None = None) -> dict[str, dict[str, Any] | None]:
        """Slots for one text.

        Args:
            text: The utterance or conversation (normalised here: width, traditional, spaces).
            reference_time: See :meth:`run`; a timezone-aware value keeps its timezone in ``resolved``.

        Returns:
            ``{"phone": …, "location": …, "device": …, "fault_time": …}``, each a dict or None.
        """
        if reference_time is not None and not isinstance(reference_time, datetime):
            raise InvalidInputError(
                f"reference_time must be a datetime or None, got {type(reference_time).__name__} "
                f"({reference_time!r}); pass datetime.now(tz) or the call's start time"
            )
        norm = normalise_text(text)
        masked = mask_pii(norm)
        return {
            "phone": extract_phone(masked.entities, norm, masked.text),
            "location": extract_location(norm, masked.text, masked.entities),
            "device": extract_device(norm, masked.text, masked.entities),
            "fault_time": extract_fault_time(norm, masked.text, masked.entities, reference_time),
        }
