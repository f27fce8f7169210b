"""SP-name slot: the value-added service, SP or promotion the ticket is about (咪咕视频会员, 叫"XX"的业务,
充一百送一百的活动), as said.

A quoted name that holds a known name or a head word, or is followed by one (“悦看视频钻石会员”的包月费), wins,
quotes and head word left out; then known names (lexicon ``sp.names``); then a name said after 叫; then a name before a head
word (会员, 包月, 业务, 活动 …), cut at the words that begin it (开通了一个…, 参加了…) and refused when too
generic (这个业务, 宽带业务) or said with no subscription or promotion cue in the text.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._lexicon import alternation, words
from hotline.pipeline.slots._names import name_start

__all__ = ["extract_sp_name"]

_TIER = r"(?:[A-Za-z0-9]|[^\W\d_的了我你他她是在就也都还有没不给扣收])"  # 钻石, VIP: a tier between name and head word
_QUOTED = r"[\"“「《'‘](?P<q>[^\"”」》'’]{2,16})[\"”」》'’]"


@functools.cache
def _patterns() -> dict[str, Any]:
    suffixes = alternation(words("sp", "suffixes"))
    return {
        # a known name and what follows it up to a head word: 咪咕视频钻石会员, 优酷VIP月卡, 彩铃音乐盒
        "known": re.compile(rf"(?:{alternation(words('sp', 'names'))})(?:{_TIER}{{0,4}}?(?:{suffixes}))?"),
        "called": re.compile(
            rf"(?:叫做|叫|名叫|名字是|名称是)(?:什么)?(?:{_QUOTED}|(?P<n>[^\s,，。!?！？]{{2,14}}?))(?:的)?(?:{suffixes})"
        ),
        "quoted": re.compile(rf"{_QUOTED}(?:的)?(?P<s>{suffixes})?"),
        "suffix": re.compile(suffixes),
        "boundary": re.compile(alternation(words("sp", "boundaries"))),
        "generic": frozenset(words("sp", "generic")),
        "cue": re.compile(alternation(words("sp", "cues"))),
    }


def _slot(u: Utterance, start: int, end: int) -> dict[str, Any]:
    return {"value": u.norm[start:end], "evidence": u.snippet(start, end)}


def extract_sp_name(u: Utterance) -> dict[str, Any] | None:
    """``{"value", "evidence"}`` for the service or promotion named, or None."""
    p = _patterns()
    text = u.norm
    for m in p["quoted"].finditer(text):  # “炫铃音乐包”: a quoted name holding a known one, or before 的包月, whole
        q = m.group("q")
        if m.group("s") or p["known"].search(q) or p["suffix"].search(q):
            return _slot(u, m.start("q"), m.end("q"))
    m = p["known"].search(text)
    if m is not None:
        return _slot(u, m.start(), m.end())
    m = p["called"].search(text)
    if m is not None:
        if m.group("q"):
            return _slot(u, m.start("q"), m.end("q"))
        # 叫我开通一个业务 is no name: cut at the words that begin one
        start = max(m.start("n"), name_start(text, m.end("n"), p["boundary"]))
        if _is_name(text[start : m.end("n")], p["generic"]):
            return _slot(u, start, m.end("n"))
    if p["cue"].search(text) is None:
        return None
    for m in p["suffix"].finditer(text):
        start = name_start(text, m.start(), p["boundary"])
        if _is_name(text[start : m.start()].removesuffix("的"), p["generic"]):
            return _slot(u, start, m.end())
    return None


def _is_name(name: str, generic: frozenset[str]) -> bool:
    return len(name) >= 2 and name not in generic and not name.startswith(("这", "那", "什么", "哪"))
