"""Channel slot: where the caller did what the ticket is about (在文三路营业厅办的, 用支付宝充的, 打10086),
as said; ``resolved`` is the channel kind (营业厅, 手机营业厅, 微信, 支付宝, 客服热线 …).

Kinds and their words are in the lexicon (``channel.kinds``); everyday words (微信, 支付宝, app, 短信) count only
with a doing-verb next to them (用支付宝充的, 在微信上交的), so 微信打不开 is no channel. A named outlet keeps
its name (文三路营业厅). A channel said next to an order verb wins, ties to the first.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._lexicon import alternation, words

__all__ = ["extract_channel"]

_NAME_CHARS = re.compile(r"[^\W_]")
_NAME_MAX = 8
_ORDER_WINDOW = 6


@functools.cache
def _patterns() -> dict[str, Any]:
    kinds: dict[str, dict[str, Any]] = words("channel", "kinds")
    kind_of, needs_cue, named = {}, set(), set()
    for kind, entry in kinds.items():
        if kind.startswith("_"):
            continue
        for w in entry["words"]:
            kind_of[w] = kind
            if entry.get("named"):
                named.add(w)
        needs_cue.update(entry.get("needs_cue", ()))
    word_re = re.compile(alternation(kind_of))
    return {
        "word": word_re, "kind_of": kind_of, "needs_cue": frozenset(needs_cue), "named": frozenset(named),
        "before": re.compile(rf"(?:{alternation(words('channel', 'cue_before'))})(?:那个|这个)?$"),
        "after": re.compile(rf"(?:上|里|上面|里面)?(?:{alternation(words('channel', 'cue_after'))})"),
        "stop": re.compile(rf"(?:{alternation(words('channel', 'named_stop'))})$"),
        "order": re.compile(alternation(words("time", "order_verbs"))),
    }


def _name_start(text: str, start: int, stop: re.Pattern[str]) -> int:
    """Where a named outlet's name starts before ``start`` (文三路营业厅), stopping at a stop word."""
    i = start
    while i > 0 and start - i < _NAME_MAX and _NAME_CHARS.match(text[i - 1]) and not stop.search(text, max(0, i - 3), i):
        i -= 1
    return i


def extract_channel(u: Utterance) -> dict[str, Any] | None:
    """``{"value", "resolved", "evidence"}`` for the channel said, or None."""
    p = _patterns()
    text = u.norm
    best: tuple[int, int, int, int, str] | None = None  # (near an order verb, -start, start, end, word)
    for m in p["word"].finditer(text):
        word, start, end = m.group(), m.start(), m.end()
        if u.has_pii(start, end):
            continue
        if word.isdigit() and (text[start - 1 : start].isdigit() or text[end : end + 1].isdigit()):
            continue  # 10086 inside a longer number
        if word in p["needs_cue"] and not (p["before"].search(text, max(0, start - 6), start)
                                           or p["after"].match(text, end)):
            continue
        if word in p["named"]:
            start = _name_start(text, start, p["stop"])
        lo, hi = u.clause_start(start, _ORDER_WINDOW), u.clause_end(end, _ORDER_WINDOW)
        near = 1 if p["order"].search(text, lo, hi) else 0
        if best is None or (near, -start) > best[:2]:
            best = (near, -start, start, end, word)
    if best is None:
        return None
    _, _, start, end, word = best
    return {"value": text[start:end], "resolved": p["kind_of"][word], "evidence": u.snippet(start, end)}
