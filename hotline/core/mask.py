"""PII masking: mainland mobile numbers, 18-digit ID card numbers and 16–19 digit bank card numbers.

Numbers are found as written by people and by ASR: Arabic or full-width digits, Chinese digit words
(幺=1, 两=2, 零/〇/洞=0) or a mix, with spaces, dashes or commas between spoken groups
(``幺三八 一二三四 五六七八``, ``138-1234-5678``). Amounts with place values (五十块, 2024年,
100元) and short service numbers (10086, 12300) are never masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from hotline.core.errors import InvalidInputError
from hotline.core.numerals import SPOKEN_DIGITS, read_digits

__all__ = ["PiiType", "PiiEntity", "MaskResult", "mask_pii", "masked_text", "PiiMasker"]


class PiiType(str, Enum):
    """Kinds of personal data that are masked."""

    PHONE = "phone"
    ID_CARD = "id_card"
    BANK_CARD = "bank_card"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class PiiEntity:
    """One personal number found in a text.

    Attributes:
        type: ``"phone"``, ``"id_card"`` or ``"bank_card"`` (a :class:`PiiType`, equal to the str).
        start: Offset of the first character in the ORIGINAL text.
        end: Offset one past the last character in the ORIGINAL text (separators inside included).
        value: Canonical digits (Chinese numerals converted; an ID card's check letter as ``X``).
    """

    type: PiiType
    start: int
    end: int
    value: str

    @property
    def masked(self) -> str:
        """The masked form that replaces ``text[start:end]``, e.g. ``138****5678``."""
        return _mask_value(self.type, self.value)


@dataclass
class MaskResult:
    """Output of :func:`mask_pii`: the masked text and the entities, offsets on the original text."""

    text: str
    entities: list[PiiEntity] = field(default_factory=list)


_ARABIC = "0-9\uff10-\uff19"
_CHINESE = SPOKEN_DIGITS  # read digit by digit: 幺=1, 两=2, 零/〇/洞=0
# A run of digit groups; spaces, dashes, dots or commas (at most two) may separate spoken groups.
_RUN_RE = re.compile(rf"[{_ARABIC}{_CHINESE}]+(?:[ \t\u3000\-\uff0d.,\uff0c\u3001]{{1,2}}[{_ARABIC}{_CHINESE}]+)*")
# Groups inside a run: one script each, so "13812345678一直" splits into "13812345678" + "一".
_GROUP_RE = re.compile(rf"[{_ARABIC}]+|[{_CHINESE}]+")
_MIN_DIGITS = 11
_MAX_GROUPS = 10

_PHONE_RE = re.compile(r"1[3-9]\d{9}")
_ID_RE = re.compile(r"[1-8]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dX]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Issuer prefixes of cards sold in China: 62 UnionPay, 4 Visa, 5 Mastercard, 3 JCB/Amex, 9 domestic.
_BANK_FIRST = frozenset("345689")


def _id_checksum_ok(value: str) -> bool:
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17]


def _luhn_ok(value: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(value)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _classify(value: str) -> PiiType | None:
    """The PII type of a canonical digit string, or None."""
    n = len(value)
    if n == 11:
        return PiiType.PHONE if _PHONE_RE.fullmatch(value) else None
    if n == 18:
        if value.endswith("X"):
            return PiiType.ID_CARD if _ID_RE.fullmatch(value) else None
        id_like = _ID_RE.fullmatch(value) is not None
        bank_like = value[0] in _BANK_FIRST
        if id_like and _id_checksum_ok(value):
            return PiiType.ID_CARD
        if bank_like and _luhn_ok(value):
            return PiiType.BANK_CARD
        # Spoken numbers carry ASR errors, so a failed checksum does not clear a number.
        if id_like:
            return PiiType.ID_CARD
        return PiiType.BANK_CARD if bank_like else None
    if 16 <= n <= 19 and value[0] in _BANK_FIRST:
        return PiiType.BANK_CARD
    return None


def _mask_value(kind: PiiType | str, value: str) -> str:
    keep_head = 4 if kind == PiiType.BANK_CARD else 3
    return value[:keep_head] + "*" * (len(value) - keep_head - 4) + value[-4:]


def _find(text: str) -> list[PiiEntity]:
    """All PII entities in ``text``, in order, non-overlapping."""
    found: list[PiiEntity] = []
    for run in _RUN_RE.finditer(text):
        r_start, r_end = run.span()
        if r_end - r_start < _MIN_DIGITS:  # fewer characters than the shortest number (a phone)
            continue
        run_text = run.group()
        # [(start, end, digits)] with offsets on the original text
        groups = [
            (r_start + g.start(), r_start + g.end(), read_digits(g.group()))
            for g in _GROUP_RE.finditer(run_text)
        ]
        # A trailing Chinese numeral glued to the next word (一直, 两个) is not part of a number.
        last_start, last_end, last_digits = groups[-1]
        trim_tail = (
            last_end == r_end
            and text[last_start] in _CHINESE
            and r_end < len(text)
            and "\u4e00" <= text[r_end] <= "\u9fff"
        )
        found.extend(_match_groups(text, groups, trim_tail))
    return found


def _match_groups(text: str, groups: list[tuple[int, int, str]], trim_tail: bool) -> list[PiiEntity]:
    """Greedy left-to-right: from each group, the longest run of whole groups that forms PII.

    A group that is PII on its own is taken alone, so ``13812345678 13912345678`` gives two phones.
    """
    out: list[PiiEntity] = []
    n = len(groups)
    i = 0
    while i < n:
        best: PiiEntity | None = None
        best_j = i
        digits = ""
        for j in range(i, min(n, i + _MAX_GROUPS)):
            digits += groups[j][2]
            if len(digits) > 19:
                break
            end = groups[j][1]
            candidates = [(digits, end)]
            if len(digits) == 17 and text[end : end + 1] in ("X", "x"):
                candidates.insert(0, (digits + "X", end + 1))
            if trim_tail and j == n - 1:
                for cut in (1, 2):
                    if len(digits) - cut >= _MIN_DIGITS and len(groups[j][2]) > cut:
                        candidates.append((digits[:-cut], end - cut))
            for value, v_end in candidates:
                kind = _classify(value)
                if kind is not None:
                    best, best_j = PiiEntity(kind, groups[i][0], v_end, value), j
                    break
            if best is not None and j == i:
                break
        if best is not None:
            out.append(best)
            i = best_j + 1
        else:
            i += 1
    return out


def mask_pii(text: str) -> MaskResult:
    """Find and mask personal numbers in one utterance.

    Phones keep the first 3 and last 4 digits (``138****5678``), ID cards 3 + 4
    (``110***********1234``), bank cards 4 + 4 (``6222********1234``). The masked form replaces the
    whole original span, separators and Chinese numerals included; entity offsets index the
    ORIGINAL text.

    Args:
        text: The utterance (normalised or not; full-width digits are understood).

    Returns:
        :class:`MaskResult` with the masked text and the entities in order.

    Raises:
        InvalidInputError: If ``text`` is not a str.

    Example:
        >>> r = mask_pii("我的手机是幺三八 一二三四 五六七八，谢谢")
        >>> r.text
        '我的手机是138****5678，谢谢'
        >>> r.entities[0].value, r.entities[0].start, r.entities[0].end
        ('13812345678', 5, 18)
    """
    if not isinstance(text, str):
        raise InvalidInputError(
            f"text must be a str, got {type(text).__name__} ({text!r:.50}); pass the utterance as a string"
        )
    entities = _find(text)
    if not entities:
        return MaskResult(text, [])
    parts: list[str] = []
    pos = 0
    for e in entities:
        parts.append(text[pos : e.start])
        parts.append(e.masked)
        pos = e.end
    parts.append(text[pos:])
    return MaskResult("".join(parts), entities)


class PiiMasker:
    """Pipeline stage wrapping :func:`mask_pii`.

    Example:
        >>> masker = PiiMasker()
        >>> out = masker.run(["电话138-1234-5678", "没有号码"])
        >>> out["texts"]
        ['电话138****5678', '没有号码']
        >>> [[e.type.value for e in ents] for ents in out["entities"]]
        [['phone'], []]
    """

    def __init__(self) -> None:
        pass

    def warm_up(self) -> None:
        """Nothing to load (regexes compile at import); present for the stage shape."""

    def run(self, texts: list[str]) -> dict[str, list]:
        """Mask a batch.

        Args:
            texts: Utterances.

        Returns:
            ``{"texts": [masked, ...], "entities": [[PiiEntity, ...], ...]}`` in input order.
        """
        if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
            raise InvalidInputError(
                f"texts must be a list of str, got {type(texts).__name__}; wrap a single utterance as [text]"
            )
        results = [mask_pii(t) for t in texts]
        return {"texts": [r.text for r in results], "entities": [r.entities for r in results]}


def masked_text(text: str) -> str:
    """Normalise, then mask: the form in which every utterance is classified, searched, stored and logged.

    Example:
        >>> masked_text("我的号码是１３８１２３４５６７８")
        '我的号码是138****5678'
    """
    from hotline.core.normalise import normalise_text

    return mask_pii(normalise_text(text)).text
