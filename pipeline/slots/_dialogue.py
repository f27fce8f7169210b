"""What a turn does in the conversation, beyond the slots in it: a yes or no to a read-back, a correction of
some digits or words (不对,最后一位是7 / 是5678不是5687 / 不是B座是C座), a question asking for a field.

:func:`analyse_turn` reads it from one utterance; the call-level merge (:mod:`.call`) applies it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hotline.core.errors import InvalidInputError
from hotline.core.numerals import SPOKEN_DIGITS, parse_int, read_digits
from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._lexicon import alternation, words

__all__ = ["Edit", "TurnInfo", "analyse_turn"]

_D = rf"[\d{SPOKEN_DIGITS}]"
_COUNT = r"[一两二三四五六七八九十\d]{1,2}"
_TEXT = r"[^\s,，。.!?！？、;；:：]"
_PARTICLES = "的啊呀吧呢嘛哈"  # not 了: 对了, is "by the way"
_BREAK = ",，。.!！?？;；、 \n"


@dataclass(frozen=True)
class Edit:
    """A change the caller asks for.

    Attributes:
        kind: ``suffix`` (the last digits), ``prefix``, ``position`` (one digit, 0-based ``at``), ``middle``
            (digits 4–7 of a mobile) or ``replace`` (``old`` → ``new``, digits or words).
        new: The digits or words to put in.
        old: What they replace (``replace`` only).
        at: The digit position (``position`` only).
        evidence: The masked text around the correction.
        readback_only: It may only correct a number the agent has just read back (不对，是4672).
    """

    kind: str
    new: str
    old: str | None = None
    at: int | None = None
    evidence: str = ""
    readback_only: bool = False


@dataclass(frozen=True)
class TurnInfo:
    """The dialogue side of one utterance.

    Attributes:
        affirm: A yes (对, 是的, 没错 …) at the start.
        deny: A no (不对, 不是, 错了 …) at the start.
        question: It asks something (吗, 什么, 请问 …).
        asks: Field names a question in it asks for (an agent's 请问对方号码是多少 → fault_number).
        edits: Corrections of digits or words, in order.
        phone_role: The role of the number the phone slot came from (``own``, ``bare``, ``correction``).
        bare: Slots of numbers said without any cue, to file under the field the agent just asked for.
        answers: ``{field: slot}`` read only as the answer to the agent's question for that field (a quoted
            message after 请问短信写的什么, with no 短信 in the answer; 她是… after 您爱人的号码是多少).
        parts: ``(digits, evidence)`` of the three-to-eight-digit runs said: pieces of a number given in parts.
        ref: When it was said, to resolve a corrected time again.
    """

    affirm: bool = False
    deny: bool = False
    question: bool = False
    asks: frozenset[str] = frozenset()
    edits: tuple[Edit, ...] = ()
    phone_role: str | None = None
    bare: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    answers: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    parts: tuple[tuple[str, str], ...] = ()
    ref: datetime | None = None


# Digit corrections: "<where> [is] <digits>", e.g. 最后一位是7, 后四位是五六七八, 第三位是9, 尾号5678.
_IS = r"(?:数字|数|号码)?(?:应该|其实)?(?:是|为|改成|换成|改为)?"
# Digits may be listed one by one (最后两位是7、2).
_LISTED = rf"{_D}(?:、?{_D}){{0,3}}"
_EDITS = [
    # (?!位): in 最后四位是 七七五四 the 四 is the count, never the digits (a pause may follow 是)
    ("suffix", rf"(?:最后|末尾|末|尾数|尾号)(?:的|那)?(?:(?P<n>{_COUNT})位)?{_IS}\s?(?P<d>{_LISTED})(?!、?{_D})(?!位)"),
    ("suffix", rf"(?<!最)后(?P<n>{_COUNT})位{_IS}\s?(?P<d>{_LISTED})(?!、?{_D})"),
    ("prefix", rf"(?:前|开头)(?:(?P<n>{_COUNT})位)?{_IS}\s?(?P<d>{_D}{{2,5}})(?!{_D})(?!位)"),
    ("position", rf"第(?P<n>{_COUNT})位{_IS}\s?(?P<d>{_D})(?!{_D})"),
    ("middle", rf"中间(?:四位|那四位|那几位|几位|的)?{_IS}\s?(?P<d>{_D}{{4}})(?!{_D})"),
]
# After a no (不对，是4672): the digits said are the number's last ones.
_DENIED_DIGITS = re.compile(rf"(?<!{_D})(?:是|应该是)(?P<d>{_D}{{4,6}})(?![\d{SPOKEN_DIGITS}块元号点月年日分秒兆GgMm次个天栋楼室层])")
# Replacements: 是A不是B / 不是B是A / 把B改成A, of digits (5678 / 5687) or words (C座 / B座).
_ENDS = rf"(?=[{re.escape(_BREAK)}]|$|啊|呀|吧|哈|的)"
_REPLACES = [
    rf"(?:是|应该是)(?P<new>{_D}{{2,10}})[,，\s]*(?:而)?不是(?P<old>{_D}{{2,10}})(?!{_D})",
    rf"不是(?P<old>{_D}{{2,10}})[,，\s]*(?:而)?(?:是|应该是)(?P<new>{_D}{{2,10}})(?!{_D})",
    rf"把?(?P<old>{_D}{{2,10}})改成(?P<new>{_D}{{2,10}})(?!{_D})",
    rf"(?:是|应该是)(?P<new>{_TEXT}{{1,8}}?)[,，\s]*(?:而)?不是(?P<old>{_TEXT}{{1,8}}?){_ENDS}",
    rf"不是(?P<old>{_TEXT}{{1,8}}?)[,，\s]*(?:而)?(?:是|应该是)(?P<new>{_TEXT}{{1,8}}?){_ENDS}",
    rf"把(?P<old>{_TEXT}{{1,8}}?)改成(?P<new>{_TEXT}{{1,8}}?){_ENDS}",
]


@functools.cache
def _patterns() -> dict[str, Any]:
    fillers = alternation(words("dialogue", "fillers"))
    lead = rf"^(?:(?:{fillers})[,，。\s]*)*"
    asks = words("dialogue", "asks")
    return {
        "affirm": re.compile(rf"{lead}(?:{alternation(words('dialogue', 'affirm'))})"),
        "affirm_short": re.compile(  # 对。/ 好的 / 嗯嗯: must end the reply or its clause
            rf"{lead}(?:{alternation(words('dialogue', 'affirm_short'))})+[{_PARTICLES}]*(?:[{re.escape(_BREAK)}]|$)"
        ),
        "deny": re.compile(rf"{lead}(?:{alternation(words('dialogue', 'deny'))})"),
        "asks": {name: re.compile(alternation(cues)) for name, cues in asks.items() if not name.startswith("_")},
        "question": re.compile(alternation(words("dialogue", "question_marks"))),
        "edits": [(kind, re.compile(source)) for kind, source in _EDITS],
        "replace": [re.compile(source) for source in _REPLACES],
    }


def _count(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return parse_int(raw)
    except InvalidInputError:
        return None


def _digits(raw: str) -> str:
    return read_digits(raw) if all(c.isdigit() or c in SPOKEN_DIGITS for c in raw) else raw


def _edits(u: Utterance) -> tuple[Edit, ...]:
    text = u.norm
    p = _patterns()
    out: list[tuple[int, Edit]] = []
    if "位" in text or "尾" in text or "开头" in text or "中间" in text:
        for kind, rx in p["edits"]:
            for m in rx.finditer(text):
                # right after an ID word (the lexicon's id_verified asks: 身份证后四位是…) it is the ID's digits
                if u.has_pii(m.start(), m.end()) or p["asks"]["id_verified"].search(text, max(0, m.start() - 6), m.start()):
                    continue
                d = read_digits(m.group("d").replace("、", ""))
                n = _count(m.groupdict().get("n"))
                if kind == "position":
                    if n is None or n < 1:
                        continue
                    edit = Edit("position", d, at=n - 1, evidence=u.snippet(m.start(), m.end()))
                elif kind in ("suffix", "prefix") and n is not None and n != len(d):
                    continue  # 最后两位是7: the count and the digits disagree; too unsure to apply
                else:
                    edit = Edit(kind, d, evidence=u.snippet(m.start(), m.end()))
                out.append((m.start(), edit))
    if "不是" in text or "改成" in text:
        taken: list[tuple[int, int]] = []
        for rx in p["replace"]:
            for m in rx.finditer(text):
                if u.has_pii(m.start(), m.end()) or any(s < m.end() and m.start() < e for s, e in taken):
                    continue
                old, new = _digits(m.group("old")), _digits(m.group("new"))
                # unpunctuated ASR runs on past the word: 不是B座是C座你们快来 → C座
                if not new.isdigit() and len(new) > len(old) + 2:
                    new = new[: len(old)]
                elif not old.isdigit() and len(old) > len(new) + 2:
                    old = old[: len(new)]
                if old == new:
                    continue
                taken.append((m.start(), m.end()))
                out.append((m.start(), Edit("replace", new, old=old, evidence=u.snippet(m.start(), m.end()))))
    out.sort(key=lambda e: e[0])
    return tuple(e for _, e in out)


def _denied_digits(u: Utterance, found: tuple[Edit, ...]) -> tuple[Edit, ...]:
    """不对，是4672: after a no, four to six digits said with 是 (no unit after them) correct the last digits of
    a number the agent has just read back."""
    taken = {e.new for e in found}
    extra = []
    for m in _DENIED_DIGITS.finditer(u.norm):
        d = read_digits(m.group("d"))
        if d not in taken and not u.has_pii(m.start(), m.end()):
            extra.append(Edit("suffix", d, evidence=u.snippet(m.start(), m.end()), readback_only=True))
    return (*extra, *found) if extra else found


def analyse_turn(u: Utterance, *, phone_role: str | None, bare: tuple[dict[str, Any], ...],
                 answers: Mapping[str, dict[str, Any]] | None = None,
                 parts: tuple[tuple[str, str], ...] = ()) -> TurnInfo:
    """The dialogue acts of ``u`` (see :class:`TurnInfo`)."""
    p = _patterns()
    text = u.norm
    affirm = bool(p["affirm"].match(text) or p["affirm_short"].match(text))
    deny = not affirm and bool(p["deny"].match(text))
    edits = _edits(u)
    if deny:
        edits = _denied_digits(u, edits)
    asks: frozenset[str] = frozenset()
    question = bool(p["question"].search(text))
    if question:
        spans = [(name, m.span()) for name, rx in p["asks"].items() for m in rx.finditer(text)]
        # 对方号码是多少 overlaps the phone's own 号码是多少: the other number field is what is asked
        asks = frozenset(name for name, (s, e) in spans if name != "phone" or not any(
            o != "phone" and os < e and s < oe for o, (os, oe) in spans))
    return TurnInfo(affirm=affirm, deny=deny, question=question, asks=asks, edits=edits, phone_role=phone_role, bare=bare,
                    answers=dict(answers or {}), parts=parts,
                    ref=u.ref)
