"""Roaming-place slot: where the caller is while roaming (我在日本东京, 人在泰国曼谷出差, 到香港了), as said;
``resolved`` names the country or region when the lexicon knows the place.

A known place counts after 在/到/去 or with a roaming cue in the text (漫游, 出国, 境外 …); any place name
counts in ``在X出差 / 到X旅游 / X漫游``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._lexicon import alternation, words

__all__ = ["extract_roaming_place"]

_PLACE_CHARS = r"[^\W\d_a-zA-Z我你他她在是的了到去来这那个就也都还要想说呢吗吧啊呀哦嗯出差旅游玩]"


@functools.cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str], dict[str, str]]:
    places: dict[str, list[str]] = words("roaming", "places")
    region_of = {name: region for region, names in places.items() if not region.startswith("_") for name in names}
    known = alternation(region_of)
    # 日本东京, 泰国曼谷: a country then a city of it is one place
    known_re = re.compile(rf"(?:{known})(?:{known})?")
    one_re = re.compile(known)
    verbs = alternation(words("roaming", "place_verbs"))
    said_re = re.compile(
        rf"(?:在|到|去|来)(?P<a>{_PLACE_CHARS}{{2,6}}?)(?:这边|那边)?(?:{verbs})|(?P<b>{_PLACE_CHARS}{{2,6}}?)漫游"
        rf"|漫游(?:到|在)(?P<c>{_PLACE_CHARS}{{2,6}})"
    )
    cue_re = re.compile(alternation(words("roaming", "cues")))
    return known_re, one_re, said_re, cue_re, region_of


def extract_roaming_place(u: Utterance) -> dict[str, Any] | None:
    """``{"value", "resolved", "evidence"}`` for the roaming place, or None."""
    text = u.norm
    known_re, one_re, said_re, cue_re, region_of = _patterns()

    def region(value: str) -> str | None:  # of the first known place in it: 东京 → 日本
        m = one_re.search(value)
        return region_of[m.group()] if m else None

    has_cue = cue_re.search(text) is not None
    for m in known_re.finditer(text):
        if has_cue or text[m.start() - 1 : m.start()] in ("在", "到", "去"):
            return {"value": m.group(), "resolved": region(m.group()),
                    "evidence": u.snippet(m.start(), m.end())}
    s = said_re.search(text) if has_cue else None
    if s is not None:
        group = "a" if s.group("a") else "b" if s.group("b") else "c"
        value = s.group(group)
        return {"value": value, "resolved": region(value),
                "evidence": u.snippet(s.start(group), s.end(group))}
    return None
