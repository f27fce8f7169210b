"""Billing-month slot: the month a bill or charge is about (上个月的账单, 十月份的话费, 2026年9月扣费), as said and
resolved to ``YYYY-MM`` against the call time.

A month counts only with a billing cue in the same clause (lexicon ``billing.cues``): 上个月开始没信号 is
not a billing month. A month without a year later than the call month is last year's.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any

from hotline.core.errors import InvalidInputError
from hotline.core.numerals import parse_int
from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._lexicon import alternation, words

__all__ = ["billing_month_answer", "extract_billing_month", "resolve_month"]

_MONTH = r"(?:1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])"
_YEAR = r"(?:\d{4}|[零〇一二三四五六七八九]{4}|\d{2})"
_MONTH_RE = re.compile(
    rf"(?P<rel>上上个?月|上个?月|这个?月|本月|当月|下个?月)份?"
    rf"|(?:(?P<y>{_YEAR})年|(?P<yrel>去年|今年|前年))?(?<![\d个几])(?P<m>{_MONTH})月份?(?![\d一二三四五六七八九十])"
)
_CUE_WINDOW = 12
_JOIN_RE = re.compile(r"\s?(?:、|和|跟|还有|与|及|到|至|,|，)\s?")  # between two months said together


@functools.cache
def _cue_re() -> re.Pattern[str]:
    return re.compile(alternation(words("billing", "cues")))


def _to_int(s: str) -> int | None:
    try:
        return parse_int(s)
    except InvalidInputError:
        return None


def resolve_month(said: str, ref: datetime | None) -> str | None:
    """``YYYY-MM`` of a month as said (上个月, 十月份, 2025年12月, 去年十二月); None if unknown without ``ref``.

    Example:
        >>> from datetime import datetime
        >>> resolve_month("上个月", datetime(2026, 1, 5)), resolve_month("十二月", datetime(2026, 1, 5))
        ('2025-12', '2025-12')
    """
    m = _MONTH_RE.search(said)
    return _resolve(m, ref) if m else None


def _resolve(m: re.Match[str], ref: datetime | None) -> str | None:
    if m.group("rel"):
        if ref is None:
            return None
        rel = m.group("rel")
        shift = -2 if rel.startswith("上上") else -1 if rel.startswith("上") else 1 if rel.startswith("下") else 0
        y, mo = divmod(ref.year * 12 + ref.month - 1 + shift, 12)
        return f"{y:04d}-{mo + 1:02d}"
    month = _to_int(m.group("m"))
    if month is None or not 1 <= month <= 12:
        return None
    if m.group("y"):
        year = _to_int(m.group("y"))
        if year is None:
            return None
        if year < 100:
            year += 2000  # 25年 said for 2025
    elif ref is None:
        return None
    elif m.group("yrel"):
        year = ref.year + {"去年": -1, "前年": -2, "今年": 0}[m.group("yrel")]
    else:
        year = ref.year - 1 if month > ref.month else ref.year
    return f"{year:04d}-{month:02d}"


def extract_billing_month(u: Utterance) -> dict[str, Any] | None:
    """``{"value", "resolved", "evidence"}`` for the first month said next to a billing cue, or None.

    Months said together (九月和十月份的账单) make one value as said; ``resolved`` is the first of them."""
    return _first_month(u, cued=True)


def billing_month_answer(u: Utterance) -> dict[str, Any] | None:
    """The first month said, with no billing cue needed: what a caller answers to 请问是哪个月的账单
    (九月和十月份的。). The call-level merge uses it only right after such a question."""
    return _first_month(u, cued=False)


def _first_month(u: Utterance, *, cued: bool) -> dict[str, Any] | None:
    text = u.norm
    if "月" not in text:
        return None
    cue = _cue_re()
    for m in _MONTH_RE.finditer(text):
        if u.has_pii(m.start(), m.end()):
            continue
        lo, hi = u.clause_start(m.start(), _CUE_WINDOW), u.clause_end(m.end(), _CUE_WINDOW)
        if cued and cue.search(text, lo, hi) is None:
            continue
        end = m.end()
        while (join := _JOIN_RE.match(text, end)) and (more := _MONTH_RE.match(text, join.end())):
            end = more.end()  # 九月和十月份, 九月、十月: the months said together, as said
        return {"value": text[m.start():end], "resolved": _resolve(m, u.ref), "evidence": u.snippet(m.start(), end)}
    return None
