"""Charge-item slot: the item on the bill the caller disputes (视频彩铃功能费, 国际漫游费, 月租, 违约金), as said.

Candidates are known items (lexicon ``charge.names``) and names before a fee word (…费, …费用, …月租) cut at
the words that begin them (扣了我…, 有一笔…); fee words that are verbs or too generic (话费, 扣费, 收费) are
not items. The longest candidate wins, ties to the first; nothing is reported without a charge cue (扣, 收,
费, 账单 …) in the text.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._lexicon import alternation, words
from hotline.pipeline.slots._names import name_start

__all__ = ["extract_charge_item"]

_NUMERALS = r"\d零〇一二两三四五六七八九十百千万."
# 五十流量费 left after cutting at 块: an amount is not part of the item (10G流量费 keeps 10G)
_LEAD_AMOUNT = re.compile(rf"[{_NUMERALS}]+(?![{_NUMERALS}GgMm兆个])")


@functools.cache
def _patterns() -> dict[str, Any]:
    return {
        "known": re.compile(alternation(words("charge", "names"))),
        "suffix": re.compile(rf"(?:{alternation(words('charge', 'suffixes'))})(?![劲心力事解尽])"),
        "boundary": re.compile(alternation(words("charge", "boundaries"))),
        "not_items": frozenset(words("charge", "not_items")),
        "generic": frozenset(words("sp", "generic")),
        "cue": re.compile(alternation(words("charge", "cues"))),
    }


def extract_charge_item(u: Utterance) -> dict[str, Any] | None:
    """``{"value", "evidence"}`` for the charge item named, or None."""
    text = u.norm
    p = _patterns()
    if p["cue"].search(text) is None:
        return None
    found: list[tuple[int, int]] = [(m.start(), m.end()) for m in p["known"].finditer(text)]
    for m in p["suffix"].finditer(text):
        start = name_start(text, m.start(), p["boundary"], max_len=10)
        lead = _LEAD_AMOUNT.match(text, start, m.start())
        if lead is not None:
            start = lead.end()
        name = text[start : m.start()]
        if not name or name in p["generic"] or text[start : m.end()] in p["not_items"]:
            continue
        found.append((start, m.end()))
    found = [(s, e) for s, e in found if text[s:e] not in p["not_items"]]
    if not found:
        return None
    start, end = max(found, key=lambda se: (se[1] - se[0], -se[0]))
    return {"value": text[start:end], "evidence": u.snippet(start, end)}
