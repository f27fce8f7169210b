"""Broadband-account slot: the account said after 宽带账号 / 上网账号 (digits, spoken or not, or letters and digits).

The value is the account as one string (``057188886666``, ``hz12345678``); a mobile number used as the
account also gets its masked form.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._lexicon import alternation, words
from hotline.pipeline.slots._numbers import number_slot, numbers

__all__ = ["extract_broadband_account"]

_ACCOUNT_CHARS = "A-Za-z0-9@._-"


@functools.cache
def _alnum_re() -> re.Pattern[str]:
    # 宽带账号是hz_12345: an account with letters, which the number scan does not see
    return re.compile(
        rf"(?:{alternation(words('numbers', 'broadband'))})(?:就|也)?(?:是|为|叫)?[:：]?\s?"
        rf"(?P<acct>[A-Za-z][{_ACCOUNT_CHARS}]{{3,31}})"
    )


def extract_broadband_account(u: Utterance) -> dict[str, Any] | None:
    """``{"value", "masked"?, "evidence"}`` for the broadband account, or None."""
    text = u.norm
    for n in numbers(u):
        if not (n.role == "broadband" or n.also_broadband and n.role == "own") or n.kind in ("id_card", "bank_card"):
            continue
        start, end = n.start, n.end
        while start > 0 and re.match(rf"[{_ACCOUNT_CHARS}]", text[start - 1]) and text[start - 1] != "-":
            start -= 1  # hz057112345678: letters before the digits
        while end < len(text) and re.match(rf"[{_ACCOUNT_CHARS}]", text[end]):
            end += 1
        slot = number_slot(u, n)
        if (start, end) != (n.start, n.end):
            slot["value"] = text[start:n.start] + n.digits + text[n.end:end]
        return slot
    m = _alnum_re().search(text) if ("账" in text or "帐" in text) else None
    if m is not None:
        return {"value": m.group("acct"), "evidence": u.snippet(m.start("acct"), m.end("acct"))}
    return None
