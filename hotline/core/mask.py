"""PII masking: mobile and landline numbers, ID card numbers and bank card numbers, however they are said.

Numbers are found as written by people and by ASR: Arabic or full-width digits, Chinese digit words
(幺=1, 两=2, 零/〇/洞=0), financial capitals (壹叁捌…) or a mix, one by one or in groups with spaces,
dashes, dots (also 。), commas, 、, slashes or a hesitation (嗯) between them (``幺三八 一二三四 五六七八``,
``138-1234-5678``, ``1 3 8 1 2 3 4 5 6 7 8``, ``138。1234。5678``). A mobile may carry a country code
(``+86``, ``86``, ``0086``, which stay in the text) or a trunk ``0``; a landline has its area code
(``010-12345678``, ``(0755)8888 9999``, ``区号零七五五，号码八八八八九九九九``) or a cue (``座机87654321``).
Amounts with place values (五十块, 2024年, 100元), numbers said as amounts (…元) and short service numbers
(10086, 12300, 114, 400-810-8888) are never masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from hotline.core.errors import InvalidInputError
from hotline.core.numerals import CAPITAL_DIGITS, SPOKEN_DIGITS, read_digits

__all__ = ["PiiType", "PiiEntity", "MaskResult", "mask_pii", "masked_text", "PiiMasker"]


class PiiType(str, Enum):
    """Kinds of personal data that are masked."""

    PHONE = "phone"  # a mainland mobile number
    ID_CARD = "id_card"
    BANK_CARD = "bank_card"
    LANDLINE = "landline"  # a fixed-line number, with its area code or after a cue (座机…)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class PiiEntity:
    """One personal number found in a text.

    Attributes:
        type: ``"phone"`` (mobile), ``"landline"``, ``"id_card"`` or ``"bank_card"`` (a :class:`PiiType`,
            equal to the str).
        start: Offset of the first character in the ORIGINAL text.
        end: Offset one past the last character in the ORIGINAL text (separators inside included).
        value: Canonical digits (Chinese numerals converted; an ID card's check letter as ``X``; a mobile
            without its country code; a landline with its area code, trunk 0 included: ``075588889999``,
            or only its 7-8 local digits where it was said without one after 座机 / 家里电话).
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
_CHINESE = SPOKEN_DIGITS + CAPITAL_DIGITS  # read digit by digit: 幺=1, 两=2, 零/〇/洞=0, 壹=1 …
_DIGIT = f"[{_ARABIC}{_CHINESE}]"
# Between groups: spaces, dashes, dots (ASR ends a "sentence" inside a number with 。), commas, 、, slashes,
# the brackets round an area code, and hesitations (嗯, 呃); at most three in a row.
_SEPARATORS = " \t\u3000\\-\uff0d\u2010-\u2015~\uff5e_.\uff0e\u3002,\uff0c\u3001/()\uff08\uff09\u00b7嗯呃"
_RUN_RE = re.compile(rf"{_DIGIT}+(?:[{_SEPARATORS}]{{1,3}}{_DIGIT}+)*")
# Groups inside a run: one script each, so "13812345678一直" splits into "13812345678" + "一".
_GROUP_RE = re.compile(rf"[{_ARABIC}]+|[{_CHINESE}]+")
_MIN_DIGITS = 11  # the shortest number found without a cue: a mobile, or a landline with its area code
_MAX_DIGITS = 19  # the longest: a bank card
_AMOUNT_AFTER = frozenset("元块圆万亿%")  # 13800000000元 is a sum, not a number to mask
_CHECK_LETTERS = frozenset("Xx叉")  # an ID card's check character, as typed or said

_PHONE_RE = re.compile(r"1[3-9]\d{9}")
# Area codes: 010 and 02x have 3 digits and 8-digit local numbers; the rest (0[3-9]xx) 4 digits and 7 or 8.
_LANDLINE_RE = re.compile(r"0(?:10|2\d)[1-9]\d{7}|0[3-9]\d{2}[1-9]\d{6,7}")
_LOCAL_RE = re.compile(r"[2-9]\d{6,7}")  # a local number without its area code (said after 座机 …)
_ID_RE = re.compile(r"[1-8]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dX]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Issuer prefixes of cards sold in China: 62 UnionPay, 4 Visa, 5 Mastercard, 3 JCB/Amex, 9 domestic.
_BANK_FIRST = frozenset("345689")
# Prefixes dialled before a national number: country code 0086 / 86 (+86), or the trunk 0 before a mobile.
_COUNTRY_CODES = ("0086", "86")
_MAX_PREFIX = 4
# What may follow each kind of prefix: a mobile after the trunk 0; a mobile or a landline after 86.
_AFTER_PREFIX = {"trunk": (PiiType.PHONE,), "country": (PiiType.PHONE, PiiType.LANDLINE)}

# Landlines said in two parts, the area code after 区号, then the local number: 区号零七五五，号码八八八八九九九九.
_SPACED = rf"{_DIGIT}(?:[ \-]?{_DIGIT})"
_AREA_CUE_RE = re.compile(
    rf"区号(?:是|为|就是)?[:：]?\s?(?P<area>{_SPACED}{{2,3}})(?!{_DIGIT})"
    rf"[\s,，、]*(?:然后)?(?:(?:电话|号码|座机|固话|本地)(?:号码|号)?)?(?:是|为|就是)?[:：]?\s?"
    rf"(?P<local>{_SPACED}{{6,7}})(?!{_DIGIT}|[ \-]{_DIGIT})"
)
# A local number after a landline word: 座机号码是87654321, 家里电话八七六五四三二一.
_LOCAL_CUE_RE = re.compile(
    rf"(?:座机|固话|固定电话|家里(?:的)?电话|家庭电话|办公(?:室)?电话|单位(?:的)?电话|公司(?:的)?电话)"
    rf"(?:号码|号)?(?:是|为|就是)?[:：]?\s?(?P<local>{_SPACED}{{6,7}})(?!{_DIGIT}|[ \-]{_DIGIT})"
)


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
    if n in (11, 12):
        if _PHONE_RE.fullmatch(value):
            return PiiType.PHONE
        return PiiType.LANDLINE if _LANDLINE_RE.fullmatch(value) else None
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


def _area_code_len(value: str) -> int:
    """Digits of the area code a landline starts with (010, 02x: 3; 0[3-9]xx: 4), 0 for a bare local number."""
    if not value.startswith("0"):
        return 0
    return 3 if value[1] in "12" else 4


def _mask_value(kind: PiiType | str, value: str) -> str:
    if kind == PiiType.LANDLINE:
        keep_head = _area_code_len(value)  # the area code says only the city
    else:
        keep_head = 4 if kind == PiiType.BANK_CARD else 3
    return value[:keep_head] + "*" * (len(value) - keep_head - 4) + value[-4:]


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _find(text: str) -> list[PiiEntity]:
    """All PII entities in ``text``, in order, non-overlapping."""
    found: list[PiiEntity] = []
    for run in _RUN_RE.finditer(text):
        if run.end() - run.start() >= _MIN_DIGITS:  # fewer characters than the shortest number
            found.extend(_Run(text, run.start(), run.end()).entities())
    cued = _cued_landlines(text)
    if cued:
        found.extend(e for e in cued if not any(e.start < f.end and f.start < e.end for f in found))
        found.sort(key=lambda e: e.start)
    return found


class _Run:
    """One run of digit groups, read as a digit string with each digit's offset in the original text.

    Every digit glyph (Arabic, full width, spoken, capital) is one character, so digit ``k`` of
    ``digits`` sits at ``pos[k]``; a number may start and end only at group boundaries, apart from a
    dialling prefix (86…), a Chinese numeral glued to the word before (统一…) or after (…一直).
    """

    def __init__(self, text: str, start: int, end: int) -> None:
        self.text = text
        spans = [g.span() for g in _GROUP_RE.finditer(text, start, end)]
        self.pos = [p for s, e in spans for p in range(s, e)]
        self.digits = read_digits("".join(text[s:e] for s, e in spans))
        bounds, k = [], 0
        for s, e in spans:
            bounds.append((k, k + e - s))
            k += e - s
        self.bounds = bounds  # [(first digit, one past the last digit)] per group
        first_s, last_e = spans[0][0], spans[-1][1]
        # A Chinese numeral glued to a word (统一 / 一直, 两个) is not part of a number: trims to try.
        self.lead_trim = text[first_s] in _CHINESE and first_s > 0 and _is_han(text[first_s - 1])
        self.tail_trim = text[last_e - 1] in _CHINESE and last_e < len(text) and _is_han(text[last_e])

    def entities(self) -> list[PiiEntity]:
        """Greedy left to right: from each group, the longest run of whole groups that forms PII.

        A group that is PII on its own is taken alone, so ``13812345678 13912345678`` gives two phones.
        """
        out: list[PiiEntity] = []
        n = len(self.bounds)
        i = 0
        while i < n:
            best: PiiEntity | None = None
            best_j = i
            for j in range(i, n):
                if self.bounds[j][1] - self.bounds[i][0] > _MAX_DIGITS + _MAX_PREFIX:
                    break
                found = self._at(i, j)
                if found is not None:
                    best, best_j = found, j
                    if j == i:
                        break
            if best is not None:
                out.append(best)
                i = best_j + 1
            else:
                i += 1
        return out

    def _starts(self, i: int) -> list[tuple[int, str]]:
        """(first digit, prefix skipped: ``""``, ``"country"`` or ``"trunk"``) where a number may start in
        group ``i``, most likely first."""
        a, b = self.bounds[i]
        starts = [(a, "")]
        for code in _COUNTRY_CODES:
            if self.digits.startswith(code, a):
                starts.append((a + len(code), "country"))
                break
        if self.digits.startswith("0", a) and not self.digits.startswith("00", a):
            starts.append((a + 1, "trunk"))
        if i == 0 and self.lead_trim:
            starts += [(a + cut, "") for cut in (1, 2) if b - a > cut]
        return starts

    def _ends(self, j: int) -> list[int]:
        """One past the last digit where a number may end in group ``j``, most likely first."""
        a, b = self.bounds[j]
        ends = [b]
        if j == len(self.bounds) - 1 and self.tail_trim:
            ends += [b - cut for cut in (1, 2) if b - a > cut]
        return ends

    def _at(self, i: int, j: int) -> PiiEntity | None:
        """The number that starts in group ``i`` and ends in group ``j``, or None."""
        for a, how in self._starts(i):
            for b in self._ends(j):
                if b - a < _MIN_DIGITS - 1:  # 10: a landline after 86 is said without its trunk 0
                    continue
                found = self._entity(a, b, how)
                if found is not None:
                    return found
        return None

    def _entity(self, a: int, b: int, how: str) -> PiiEntity | None:
        text, value = self.text, self.digits[a:b]
        start, end = self.pos[a], self.pos[b - 1] + 1
        if len(value) == 17:  # an ID card's check character may follow: …123X, …123 叉
            nxt = end + 1 if text[end : end + 1] in (" ", "\u3000") else end
            after = text[nxt + 1 : nxt + 2]
            if text[nxt : nxt + 1] in _CHECK_LETTERS and not (after.isascii() and after.isalpha()):
                value, end = value + "X", nxt + 1
        if text[end : end + 1] in _AMOUNT_AFTER:
            return None
        kind = _classify(value)
        if how == "country" and kind is None and _LANDLINE_RE.fullmatch("0" + value):
            value, kind = "0" + value, PiiType.LANDLINE  # +86 10 12345678: said without its trunk 0
        if kind is None or how and kind not in _AFTER_PREFIX[how]:
            return None
        if start > 0 and text[start - 1] in "(（" and any(c in ")）" for c in text[start:end]):
            start -= 1  # (021)5555 6666: the bracket round the area code goes with it
        return PiiEntity(kind, start, end, value)


def _cued_landlines(text: str) -> list[PiiEntity]:
    """Landlines said in two parts after 区号, and local numbers after a landline word (座机, 家里电话)."""
    out: list[PiiEntity] = []
    if "区号" in text:
        for m in _AREA_CUE_RE.finditer(text):
            value = _read_spaced(m.group("area")) + _read_spaced(m.group("local"))
            if _LANDLINE_RE.fullmatch(value):
                out.append(PiiEntity(PiiType.LANDLINE, m.start("area"), m.end("local"), value))
    for m in _LOCAL_CUE_RE.finditer(text):
        value = _read_spaced(m.group("local"))
        if _LOCAL_RE.fullmatch(value):
            out.append(PiiEntity(PiiType.LANDLINE, m.start("local"), m.end("local"), value))
    return out


def _read_spaced(said: str) -> str:
    return read_digits(said.replace(" ", "").replace("-", ""))


def mask_pii(text: str) -> MaskResult:
    """Find and mask personal numbers in one utterance.

    Mobiles keep the first 3 and last 4 digits (``138****5678``), landlines their area code and last 4
    (``0755****9999``), ID cards 3 + 4 (``110***********1234``), bank cards 4 + 4 (``6222********1234``).
    The masked form replaces the whole original span, separators and Chinese numerals included (a
    country code before a mobile stays: ``+86 138****5678``); entity offsets index the ORIGINAL text.

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
        return MaskResult(_mask_buried(text), [])
    parts: list[str] = []
    pos = 0
    for e in entities:
        parts.append(text[pos : e.start])
        parts.append(e.masked)
        pos = e.end
    parts.append(text[pos:])
    return MaskResult(_mask_buried("".join(parts)), entities)


_LONG_RUN_RE = re.compile(r"\d{12,}")


def _mask_buried(text: str) -> str:
    """A last pass: a mobile number buried in a longer digit run (a stray digit from ASR, a number said
    twice over) is masked where it stands, so no 11 digits of a mobile survive in any form."""
    if not _LONG_RUN_RE.search(text):
        return text
    return _LONG_RUN_RE.sub(lambda m: _PHONE_RE.sub(lambda p: _mask_value(PiiType.PHONE, p.group(0)), m.group(0)),
                            text)


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
