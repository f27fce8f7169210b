"""SMS-content slot: what a message said (短信上说您的积分即将过期…, 收到一条短信："…"), as said; ``sender`` is
the number it came from when said (10658xxx发来的).

Content starts after a cue (短信说, 短信上写着, 内容是 …) or inside quotes next to 短信/信息, and ends at the
closing quote, a sentence end, a word that ends it in unpunctuated ASR text (然后我, 是不是 …) or 60
characters. When only the sender is said, the value is its digits. Content holding a phone number gets a
``masked`` form as well.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._lexicon import alternation, words
from hotline.pipeline.slots._numbers import numbers

__all__ = ["extract_sms_content", "sms_answer"]

_MAX_CONTENT = 60
_SENTENCE_END = "。!?！？\n"
_TRAILING = "的短信", "的信息", "这样的", "之类的", "什么的"
_LEAD_FILLERS = "啊呀哈嗯哦 :：,，"
_QUOTES = {"“": "”", '"': '"', "「": "」", "『": "』", "‘": "’", "'": "'"}


@functools.cache
def _patterns() -> dict[str, re.Pattern[str]]:
    return {
        "cue": re.compile(rf"(?:{alternation(words('sms', 'cues'))})[:：,，]?\s?"),
        "end": re.compile(alternation(words("sms", "ends"))),
        "quote_cue": re.compile(alternation(words("sms", "quote_cues"))),
        "answer_cue": re.compile(rf"(?:{alternation(words('sms', 'answer_cues'))})[:：,，]?\s?"),
        "sender": re.compile(alternation(words("sms", "senders"))),
        "gate": re.compile("短信|信息|消息|内容|写着"),
    }


def _content_end(u: Utterance, start: int) -> int:
    text = u.norm
    close = _QUOTES.get(text[start - 1 : start]) if start > 0 else None
    limit = min(len(text), start + _MAX_CONTENT)
    if close is not None:
        at = text.find(close, start, limit)
        return at if at >= 0 else limit
    end = next((i for i in range(start, limit) if text[i] in _SENTENCE_END), limit)
    stop = _patterns()["end"].search(text, start + 2, end)
    return stop.start() if stop else end


def _trim_end(text: str, start: int, end: int) -> int:
    """``end`` moved back over trailing separators (内容是：…， → …)."""
    while end > start and text[end - 1] in ",，、;；:： ":
        end -= 1
    return end


def _content(u: Utterance) -> tuple[int, int] | None:
    p, text = _patterns(), u.norm
    for m in p["cue"].finditer(text):
        start = m.end()
        if start < len(text) and text[start] in _QUOTES:
            start += 1
        end = _content_end(u, start)
        end = _trim_end(text, start, end)
        for tail in _TRAILING:
            if text.endswith(tail, start, end):
                end -= len(tail)
        if end - start >= 2:
            return start, end
    for i, ch in enumerate(text):
        if ch not in _QUOTES:
            continue
        end = _content_end(u, i + 1)
        # “…” next to 短信/信息: before it (短信上“…”) or right after it (“…”的短信)
        near = p["quote_cue"].search(text, max(0, i - 10), i) or p["quote_cue"].search(text, end + 1, end + 4)
        if near and end - i - 1 >= 2:
            return i + 1, end
    return None


def extract_sms_content(u: Utterance) -> dict[str, Any] | None:
    """``{"value", "masked"?, "sender"?, "evidence"}`` for the message said, or None."""
    text = u.norm
    p = _patterns()
    if p["gate"].search(text) is None:
        return None
    sender = next((n for n in numbers(u) if p["sender"].match(text, n.end)
                   or p["sender"].match(text, n.end + 1)), None)
    span = _content(u)
    slot: dict[str, Any]
    if span is not None:
        start, end = span
        slot = {"value": text[start:end]}
        if u.has_pii(start, end):
            slot["masked"] = u.masked_span(start, end)
    elif sender is not None:
        start, end = sender.start, sender.end
        slot = {"value": sender.digits}
        if sender.entity is not None:
            slot["masked"] = sender.entity.masked
    else:
        return None
    if sender is not None and span is not None:
        slot["sender"] = sender.digits
    slot["evidence"] = u.snippet(start, end)
    return slot


def sms_answer(u: Utterance) -> dict[str, Any] | None:
    """``{"value", "masked"?, "evidence"}``: the message as a caller gives it right after the agent asked what it
    said (请问是什么内容的短信 → 上面写的是 您的包裹已到…), where 短信 need not be said again: a quoted text, else
    what follows 写的是 / 上面说 …, to the closing quote, a sentence end or a word that ends it."""
    text = u.norm
    spans: list[tuple[int, int]] = []
    for i, ch in enumerate(text):
        if ch in _QUOTES:
            spans.append((i + 1, _content_end(u, i + 1)))
            break
    if not spans:
        m = _patterns()["answer_cue"].search(text)
        if m is not None:
            start = m.end()
            while start < len(text) and text[start] in _LEAD_FILLERS:  # 我念一下啊 尊敬的用户…
                start += 1
            start += 1 if start < len(text) and text[start] in _QUOTES else 0
            spans.append((start, _content_end(u, start)))
    for start, end in spans:
        end = _trim_end(text, start, end)
        if end - start >= 4:
            slot: dict[str, Any] = {"value": text[start:end]}
            if u.has_pii(start, end):
                slot["masked"] = u.masked_span(start, end)
            slot["evidence"] = u.snippet(start, end)
            return slot
    return None
