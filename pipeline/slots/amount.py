"""Amount slot: a sum of money as said (三十八块钱, 一百二十八元, 两块五, 五十多块, 扣了我三十八), resolved to yuan by
:func:`hotline.core.numerals.parse_amount`.

An amount is a numeral with a currency word, or a bare numeral right after a money verb (扣了我…, 充了…).
With several, the one said next to a dispute cue (扣, 多收, 退, 补偿 …) wins, ties to the first. Word lists
are in the lexicon (``amount``).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from hotline.core.errors import InvalidInputError
from hotline.core.numerals import parse_amount, parse_int
from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._lexicon import alternation, words

__all__ = ["extract_amount"]

_NUM = r"(?:\d+(?:\.\d+)?[万千]?|[零〇一二两三四五六七八九十百千万点几壹贰叁肆伍陆柒捌玖拾佰仟]+)"
_SUB_YUAN = r"[零一二两三四五六七八九\d](?:毛|角)?(?:[零一二三四五六七八九\d]分?)?"
_DISPUTE_WINDOW = 6
# a count, not money: 充了两次, 扣了三个月, 用了五十G
_NOT_MONEY_AFTER = "个天月年号点分秒次遍条张套位岁周期gGmM兆%人家"


@functools.cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    not_after_kuai = alternation(words("amount", "not_money_after_kuai"))
    amount = re.compile(
        rf"(?P<num>{_NUM})(?P<approx>多|来)?"
        rf"(?:(?P<yuan>块钱|元钱|块(?!{not_after_kuai})|元|圆)(?P<sub>{_SUB_YUAN})?(?P<more>多)?(?P<qian>钱)?"
        r"|(?P<mao>毛钱|毛|角))"
    )
    verb = re.compile(
        rf"(?:{alternation(words('amount', 'money_verbs'))})(?P<num>{_NUM})(?P<approx>多)?(?![{_NOT_MONEY_AFTER}\d])"
    )
    gate = re.compile(rf"[块元圆毛角]|{alternation(words('amount', 'money_verbs'))}")
    return amount, verb, gate


@functools.cache
def _dispute_re() -> re.Pattern[str]:
    return re.compile(alternation(words("amount", "dispute_cues")))


@functools.lru_cache(maxsize=4096)
def _resolve(num: str, unit: str) -> int | float | None:
    try:
        if unit in ("毛", "角"):  # 五毛: tenths of a yuan, which parse_amount reads only after 元 (两块五毛)
            return round(parse_int(num) / 10, 1)
        return parse_amount(num + unit)
    except InvalidInputError:
        return None  # 几十块: said, but no number to report


def extract_amount(u: Utterance) -> dict[str, Any] | None:
    """``{"value", "resolved", "evidence"}``: the amount as said, in yuan (int or float, None if vague), or None.

    ``approximate`` is added (True) for 五十多块 / 十来块, whose resolved value is the round number said.
    """
    text = u.norm
    amount_re, verb_re, gate = _patterns()
    if gate.search(text) is None:
        return None
    found: list[tuple[int, int, str, str, bool, bool]] = []  # (start, end, num, unit, approximate, by a verb)
    for m in amount_re.finditer(text):
        num = m.group("num")
        if num.startswith("点") or u.has_pii(m.start(), m.end()):
            continue
        unit = (m.group("yuan") or m.group("mao") or "").removesuffix("钱") + (m.group("sub") or "")
        found.append((m.start(), m.end(), num, unit, bool(m.group("approx") or m.group("more")), False))
    for m in verb_re.finditer(text):
        num = m.group("num")
        if not (re.search("[十百千万]", num) or (num.replace(".", "").isdigit() and len(num) >= 2)):
            continue  # 充了一 (次) / 扣了3: a single digit alone is not said as money
        if not any(s <= m.start("num") < e for s, e, *_ in found):
            found.append((m.start("num"), m.end(), num, "", bool(m.group("approx")), True))
    if not found:
        return None
    dispute = _dispute_re()

    def key(c: tuple[int, int, str, str, bool, bool]) -> tuple[int, int]:
        near = c[5] or dispute.search(text, max(0, c[0] - _DISPUTE_WINDOW), c[0]) is not None
        return (1 if near else 0, -c[0])

    start, end, num, unit, approximate, _ = max(found, key=key)
    slot: dict[str, Any] = {"value": text[start:end], "resolved": _resolve(num, unit)}
    if approximate:
        slot["approximate"] = True
    slot["evidence"] = u.snippet(start, end)
    return slot
