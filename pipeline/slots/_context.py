"""One utterance as every field module sees it: the normalised text, its masked twin and PII, the call time.

Work several modules share (the numbers said, the time expressions) is done once per utterance, on first
use, and kept in :attr:`Utterance.cache` by the module that does it.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hotline.core.mask import PiiEntity, mask_pii
from hotline.pipeline.slots._evidence import evidence

__all__ = ["Utterance"]

CLAUSE_END = "。!?！？;；\n"
"""Characters that end a clause for cue windows (a comma does not: ASR often has none at all)."""
_CLAUSE_END_RE = re.compile(f"[{CLAUSE_END}]")


@dataclass
class Utterance:
    """The text of one turn and what was found in it.

    Attributes:
        norm: The normalised text; offsets of every mention index it.
        masked: ``norm`` with ``entities`` masked.
        entities: PII found in ``norm``.
        ref: When it was said (the call time), or None.
        cache: Shared intermediate results by name (``"numbers"``, ``"times"``, offsets).
    """

    norm: str
    masked: str
    entities: list[PiiEntity] = field(default_factory=list)
    ref: datetime | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    def _masked_pos(self, pos: int) -> int:
        """Offset in the masked text of ``norm`` offset ``pos`` (outside any entity)."""
        shifts = self.cache.get("shifts")
        if shifts is None:
            total, ends, cum = 0, [], []
            for e in self.entities:
                total += len(e.masked) - (e.end - e.start)
                ends.append(e.end)
                cum.append(total)
            shifts = self.cache["shifts"] = (ends, cum)
        ends, cum = shifts
        i = bisect.bisect_right(ends, pos)
        return pos + (cum[i - 1] if i else 0)

    def snippet(self, start: int, end: int) -> str:
        """The masked evidence around ``norm[start:end]``."""
        if not self.entities:
            return evidence(self.masked, start, end)
        return evidence(self.masked, self._masked_pos(start), self._masked_pos(end))

    def masked_span(self, start: int, end: int) -> str:
        """``norm[start:end]`` as it reads in the masked text (a phone inside shows as 138****5678)."""
        if not self.entities:
            return self.norm[start:end]
        return self.masked[self._masked_pos(start) : self._masked_pos(end)]

    def masked_value(self, value: str) -> str | None:
        """A slot's ``value`` as the agent may see it, or None where it holds no personal number.

        A number found in the text is masked where the value repeats it as said (幸福小区13812345678号 →
        幸福小区138****5678号); whatever else the value holds is masked on its own, so a value taken apart
        from its text still never shows a number whole.
        """
        out = value
        for e in self.entities:
            said = self.norm[e.start : e.end]
            if said in out:
                out = out.replace(said, e.masked)
        out = mask_pii(out).text
        return None if out == value else out

    def has_pii(self, start: int, end: int) -> bool:
        return bool(self.entities) and any(e.start < end and start < e.end for e in self.entities)

    def _clause_ends(self) -> list[int]:
        found = self.cache.get("clause_ends")
        if found is None:
            found = self.cache["clause_ends"] = [m.start() for m in _CLAUSE_END_RE.finditer(self.norm)]
        return found

    def clause_start(self, pos: int, limit: int) -> int:
        """Where the clause holding ``pos`` starts, looking back at most ``limit`` characters."""
        ends = self._clause_ends()
        i = bisect.bisect_left(ends, pos)
        return max(pos - limit, ends[i - 1] + 1 if i else 0, 0)

    def clause_end(self, pos: int, limit: int) -> int:
        """Where the clause holding ``pos`` ends, looking ahead at most ``limit`` characters."""
        ends = self._clause_ends()
        i = bisect.bisect_left(ends, pos)
        return min(pos + limit, ends[i] if i < len(ends) else len(self.norm), len(self.norm))
