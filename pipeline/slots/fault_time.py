"""Fault-time slot: when the fault began (昨天晚上八点开始, 三天前, 从上周开始), as said and resolved."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from hotline.core.mask import PiiEntity
from hotline.pipeline.slots._evidence import snippet
from hotline.pipeline.slots.dates import CLOCK, CLOCK_ALONE, DATE, NUMERAL_CHARS, PERIOD, resolve_time

__all__ = ["extract_fault_time"]


def _strip_names(pattern: str) -> str:
    """The same regex without named groups, so it can appear more than once in a larger pattern."""
    return re.sub(r"\(\?P<\w+>", "(?:", pattern)


_SINCE_PREFIX = r"(?P<since>从|自从|自)?"
_SINCE_SUFFIX = r"(?P<suffix>开始|以来|起|之后|以后|左右|前后|那会儿?|的时候)?"
_DATE_S, _PERIOD_S, _CLOCK_S = _strip_names(DATE), _strip_names(PERIOD), _strip_names(CLOCK)
# Every character a fault-time expression can start with: lets `re` skip other positions fast.
_FAULT_TIME_FIRST = rf"(?=[从自大前昨今上这本周星礼几半去最近过凌清早中下傍晚夜深白\d{NUMERAL_CHARS}])"
_FAULT_TIME_RE = re.compile(
    rf"{_FAULT_TIME_FIRST}{_SINCE_PREFIX}(?:(?:{_DATE_S})的?\s?(?:{_PERIOD_S})?\s?(?:{_CLOCK_S})?"
    rf"|(?:{_PERIOD_S})\s?(?:{_CLOCK_S})?|(?:{CLOCK_ALONE})){_SINCE_SUFFIX}"
)


def extract_fault_time(
    norm: str, masked: str, entities: list[PiiEntity], ref: datetime | None
) -> dict[str, Any] | None:
    """``{"value", "resolved", "evidence"}`` for when the fault began, or None.

    The most specific expression wins (date + period + clock over a bare date), and one said as a start
    (从…, …开始) over one that is not; ties go to the first. Expressions inside a masked number are skipped.

    Args:
        norm: The normalised text.
        masked: ``norm`` with ``entities`` masked, for the evidence snippet.
        entities: PII found in ``norm``.
        ref: When the text was said; see :func:`~hotline.pipeline.slots.dates.resolve_time`.
    """
    pii_spans = [(e.start, e.end) for e in entities]
    best: tuple[int, int, re.Match[str], str | None] | None = None  # (score, -start, match, resolved)
    for m in _FAULT_TIME_RE.finditer(norm):
        if not m.group() or any(s < m.end() and m.start() < e for s, e in pii_spans):
            continue
        # the date/period/clock core, without 从… and …开始
        start = m.start() + len(m.group("since") or "")
        end = m.end() - len(m.group("suffix") or "")
        parsed = resolve_time(norm, start, end, ref)
        if parsed is None:
            continue
        n_parts, resolved = parsed
        score = n_parts + (1 if m.group("since") or m.group("suffix") in ("开始", "以来", "起") else 0)
        key = (score, -m.start())
        if best is None or key > best[:2]:
            best = (score, -m.start(), m, resolved)
    if best is None:
        return None
    m, resolved = best[2], best[3]
    return {
        "value": m.group(),
        "resolved": resolved,
        "evidence": snippet(entities, masked, m.start(), m.end()),
    }
