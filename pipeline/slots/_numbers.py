"""Phone-like numbers said in an utterance and whose they are: the caller's, someone else's, a scammer's …

A number is a mobile, ID or bank card number found by PII masking, or any other run of five or more digits
(landlines, 95xxx and 106xx service numbers, account and order numbers), Arabic or spoken (幺三八…). Its
role comes from the nearest cue before it in the same clause (``我老婆的号是…`` → other, ``那个骗子的号码是…``
→ party, ``工单号…`` → ticket, ``宽带账号…`` → broadband, ``不对,应该是…`` → correction, ``您的号码是…`` →
own), then from cues right after it (``…打来的``, ``…是我老婆的``, ``…打不通``). Cue words are in the lexicon.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from hotline.core.mask import PiiEntity, PiiType
from hotline.core.numerals import SPOKEN_DIGITS, read_digits
from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._lexicon import alternation, words

__all__ = ["NumberMention", "numbers", "find_numbers", "number_parts", "number_slot"]

_ROLES = ("own", "other", "party", "ticket", "broadband", "correction")
_AFTER = ("after_party", "after_other", "after_own", "after_fault")
_LEFT_WINDOW = 16
_RIGHT_WINDOW = 8
_RUN_RE = re.compile(rf"[0-9{SPOKEN_DIGITS}](?:[0-9{SPOKEN_DIGITS}]|[ \-—](?=[0-9{SPOKEN_DIGITS}])){{4,}}")
_GROUP_RE = re.compile(rf"[0-9]+|[{SPOKEN_DIGITS}]+")
# A piece of a number given in parts (幺五幺 七三零八 … 后面是 四二六六): three to eight digits.
_PART_RE = re.compile(rf"(?<![0-9{SPOKEN_DIGITS}])[0-9{SPOKEN_DIGITS}](?:[0-9{SPOKEN_DIGITS}]|[ \-—](?=[0-9{SPOKEN_DIGITS}])){{2,9}}"
                      rf"(?![0-9{SPOKEN_DIGITS}])")
_NEGATED_RE = re.compile(r"不是(?:这个|那个)?(?:号码?|电话|手机号?)?(?:是)?\s?$")
_SERVICE_RE = re.compile(r"(?:95|96)\d{3,4}|(?:400|800)\d{7}|106\d{2,17}|1\d{4}")  # 95588, 400…, 10658…, 10086


@dataclass(frozen=True)
class NumberMention:
    """One number said.

    Attributes:
        start, end: Offsets on the normalised text.
        digits: Canonical digits (``+`` kept for an international number).
        kind: ``mobile``, ``id_card``, ``bank_card`` (found by PII masking), ``landline``, ``service`` or
            ``other``.
        role: ``own``, ``other`` (someone else's), ``party`` (a scammer's, a marketer's, the other end of a
            failing call), ``ticket`` (an order or ticket number), ``broadband``, ``correction``, ``negated``
            (said as the wrong one: 是A不是B) or ``bare`` (no cue).
        fault: A failure is said right after it (…打不通, …收不到).
        entity: The PII entity, when masking found one.
        also_broadband: A broadband cue came first although another role won (宽带账号就是我的手机号…).
    """

    start: int
    end: int
    digits: str
    kind: str
    role: str
    fault: bool
    entity: PiiEntity | None
    also_broadband: bool = False


@functools.cache
def _cues() -> tuple[re.Pattern[str], re.Pattern[str]]:
    table = words("numbers")
    left = re.compile("|".join(f"(?P<{r}>{alternation(table[r])})" for r in _ROLES))
    after = re.compile("|".join(f"(?P<{a}>{alternation(table[a])})" for a in _AFTER))
    return left, after


def numbers(u: Utterance) -> list[NumberMention]:
    """:func:`find_numbers` of ``u``, computed once per utterance."""
    found = u.cache.get("numbers")
    if found is None:
        found = u.cache["numbers"] = find_numbers(u)
    return found


def _kind(digits: str) -> str:
    bare = digits.lstrip("+")
    if _SERVICE_RE.fullmatch(bare):
        return "service"
    if bare.startswith("0") and 10 <= len(bare) <= 12 or len(bare) in (7, 8) and bare[0] != "0":
        return "landline"
    return "other"


def _spans(u: Utterance) -> list[tuple[int, int, str, str, PiiEntity | None]]:
    """(start, end, digits, kind, entity) of every number, in order."""
    out: list[tuple[int, int, str, str, PiiEntity | None]] = [
        (e.start, e.end, e.value, "mobile" if e.type == PiiType.PHONE else str(e.type), e) for e in u.entities
    ]
    text = u.norm
    for run in _RUN_RE.finditer(text):
        if u.has_pii(run.start(), run.end()):
            continue
        groups = list(_GROUP_RE.finditer(run.group()))
        end = run.end()
        # 10086一直 / 95588两次: a trailing spoken digit glued to the next word is not part of the number
        if (len(groups) > 1 and groups[-1].group()[0] in SPOKEN_DIGITS and len(groups[-1].group()) <= 2
                and end < len(text) and "\u4e00" <= text[end] <= "\u9fff"):
            end = run.start() + groups[-1].start()
        said = text[run.start() : end]
        digits = "".join(ch for ch in said if ch.isdigit() or ch in SPOKEN_DIGITS)
        if len(digits) < 5:
            continue
        digits = ("+" if text[run.start() - 1 : run.start()] == "+" else "") + read_digits(digits)
        out.append((run.start(), end, digits, _kind(digits), None))
    out.sort(key=lambda s: s[0])
    return out


def find_numbers(u: Utterance) -> list[NumberMention]:
    """Every number in ``u`` with its role, in order."""
    spans = _spans(u)
    if not spans:
        return []
    left_re, after_re = _cues()
    text = u.norm
    out: list[NumberMention] = []
    prev_end = 0
    for start, end, digits, kind, entity in spans:
        lo = max(prev_end, u.clause_start(start, _LEFT_WINDOW))
        role = "bare"
        if _NEGATED_RE.search(text, max(lo, start - 8), start):
            role = "negated"
        elif start > 0 and text[start - 1] == "我":
            role = "own"
        broadband = False
        if role == "bare":
            last = None
            for m in left_re.finditer(text, lo, start):
                broadband = broadband or m.lastgroup == "broadband"
                if last is None or m.end() >= last.end():
                    last = m
            if last is not None:
                role = last.lastgroup or "bare"
        after = {m.lastgroup for m in after_re.finditer(text, end, u.clause_end(end, _RIGHT_WINDOW))}
        if role in ("bare", "own", "correction"):
            if "after_other" in after:
                role = "other"
            elif "after_party" in after:
                role = "party"
            elif role == "bare" and "after_own" in after:
                role = "own"
        fault = "after_fault" in after
        out.append(NumberMention(start, end, digits, kind, role, fault, entity, broadband and role != "broadband"))
        prev_end = end
    return out


def number_slot(u: Utterance, n: NumberMention) -> dict[str, object]:
    """``{"value", "masked"?, "evidence"}`` for a number: digits as value, the masked form where it is PII."""
    slot: dict[str, object] = {"value": n.digits}
    if n.entity is not None:
        slot["masked"] = n.entity.masked
    slot["evidence"] = u.snippet(n.start, n.end)
    return slot


def number_parts(u: Utterance) -> tuple[tuple[str, str], ...]:
    """``(digits, evidence)`` of every run of three to eight digits outside a PII number, in order: the pieces of a
    number said in parts, which the call-level merge joins (159 0228，后面是4713)."""
    out = []
    for m in _PART_RE.finditer(u.norm):
        digits = "".join(ch for ch in m.group() if ch.isdigit() or ch in SPOKEN_DIGITS)
        if 3 <= len(digits) <= 8 and not u.has_pii(m.start(), m.end()):
            out.append((read_digits(digits), u.snippet(m.start(), m.end())))
    return tuple(out)
