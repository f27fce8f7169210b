"""Chinese numerals → numbers: the one parser every layer uses.

Three readings, as callers and ASR write them:

* digit by digit, the way phone and card numbers are said: ``一三八幺二三四五六七八`` → ``"13812345678"``.
  幺 (1) and 洞 (0) are the phone/radio readings, 两 is 2, 零/〇 are 0; financial capitals
  (壹贰叁肆伍陆柒捌玖) and Arabic digits (ASCII or full width) mix in freely. Leading zeros are kept.
* positional, with place values: ``二十三``, ``两千零二十六``, ``一万二`` (12000), ``壹佰贰拾捌``, ``3千``;
  handed to the ``cn2an`` library, imported on first use because building its tables takes ~0.15 s.
* amounts: ``五十块``, ``一百二十八元``, ``五块三毛`` (5.3), ``两块五`` (2.5), ``1.5万``.

Example:
    >>> read_digits("一三八幺二三四五六七八")
    '13812345678'
    >>> parse_int("两千零二十六"), parse_int("二〇二六"), parse_int("两万")
    (2026, 2026, 20000)
    >>> parse_amount("五十块"), parse_amount("两块五")
    (50, 2.5)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from hotline.core.errors import InvalidInputError

__all__ = ["SPOKEN_DIGITS", "CAPITAL_DIGITS", "read_digits", "parse_int", "parse_amount"]

# Digits as people say them and ASR writes them, in regex-class-ready form.
_SPOKEN = {
    "零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3",
    "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9",
}  # fmt: skip
# Financial capitals (大写数字), written on bills and forms rather than spoken; 零 is shared.
_CAPITAL = {"壹": "1", "贰": "2", "叁": "3", "肆": "4", "伍": "5", "陆": "6", "柒": "7", "捌": "8", "玖": "9"}
_FULL_WIDTH = {chr(0xFF10 + i): str(i) for i in range(10)}

SPOKEN_DIGITS = "".join(_SPOKEN)
"""Every character read as one spoken digit (``零〇洞一幺二两三四五六七八九``), for regex classes."""
CAPITAL_DIGITS = "".join(_CAPITAL)
"""The financial capitals read as one digit each (``壹贰叁肆伍陆柒捌玖``; their zero is 零), for regex classes."""

_DIGIT_TABLE = str.maketrans({**_SPOKEN, **_CAPITAL, **_FULL_WIDTH})
_DIGIT_GLYPHS = frozenset({*"0123456789", *_SPOKEN, *_CAPITAL, *_FULL_WIDTH})
# Colloquial money words → the ones cn2an knows: 块 is 元 and 毛 is 角.
_MONEY_TABLE = str.maketrans({"块": "元", "毛": "角"})
# 两元五 (两块五): a bare digit after 元 counts tenths.
_TRAILING_TENTHS_RE = re.compile(rf".+[元圆][{SPOKEN_DIGITS}{''.join(_CAPITAL)}]")
_FORMS = (
    "Arabic digits (2026), digits read one by one (二〇二六, 幺三八) "
    "or a positional numeral (两千零二十六, 一万二, 壹佰贰拾捌)"
)
# Place values below 万 and their rank, to refuse what cn2an would read anyway (十百零 → 10, 百百一 → 110).
_SMALL_UNITS = {"十": 1, "拾": 1, "百": 2, "佰": 2, "千": 3, "仟": 3}
_AMOUNT_FORMS = f"{_FORMS}, optionally with 块/元/圆 (五十块, 一百二十八元, 五块三毛, 两块五, 三点五元)"


def read_digits(text: str) -> str:
    """Read a number said digit by digit into ASCII digits, leading zeros kept.

    Args:
        text: Digits only: Arabic (ASCII or full width), spoken (零〇洞一幺二两三四五六七八九) or capital
            (壹贰叁肆伍陆柒捌玖), mixed freely; no separators.

    Returns:
        The digit string, e.g. ``"13812345678"`` for ``一三八幺二三四五六七八``.

    Raises:
        InvalidInputError: If ``text`` is empty, not a str, or holds anything but digits.

    Example:
        >>> read_digits("幺八六洞洞洞洞幺幺幺幺"), read_digits("零幺零")
        ('18600001111', '010')
    """
    _check_str(text)
    digits = text.translate(_DIGIT_TABLE)
    if not digits or not (digits.isascii() and digits.isdigit()):
        bad = next((c for c in text if c not in _DIGIT_GLYPHS), "")
        raise InvalidInputError(
            f"text must be digits read one by one, got {text!r}"
            + (f" ({bad!r} is not a digit)" if bad else "")
            + f"; valid digits are 0-9, {SPOKEN_DIGITS} and {''.join(_CAPITAL)}"
        )
    return digits


def parse_int(text: str) -> int:
    """A whole number as written or said: digit by digit or positional.

    Args:
        text: ``2026``, ``二〇二六`` or ``幺三八`` (digit by digit), ``二十三``, ``十五``, ``两千零二十六``,
            ``一百二`` (120), ``两万``, ``壹佰贰拾捌``, ``3千``.

    Returns:
        The integer.

    Raises:
        InvalidInputError: If ``text`` is not a whole number in one of those forms; the message names it.

    Example:
        >>> parse_int("二十三"), parse_int("一九九〇"), parse_int("一百二十八")
        (23, 1990, 128)
    """
    _check_str(text)
    if text and all(c in _DIGIT_GLYPHS for c in text):
        return int(read_digits(text))
    value = _positional(text, forms=_FORMS)
    if value != int(value):
        raise InvalidInputError(
            f"text must be a whole number, got {text!r} (= {value}); valid forms: {_FORMS}"
        )
    return int(value)


def parse_amount(text: str) -> int | float:
    """A money amount or count, in yuan where a currency word is said.

    Args:
        text: ``五十块``, ``一百二十八元``, ``五十块钱``, ``三千``, ``两万``, ``五块三毛`` (5.3), ``两块五`` (2.5),
            ``三点五元``, ``1.5万``, ``128元``.

    Returns:
        An int for whole amounts, else a float.

    Raises:
        InvalidInputError: If ``text`` is not an amount in one of those forms; the message names it.

    Example:
        >>> parse_amount("一百二十八元"), parse_amount("五块三毛"), parse_amount("三千")
        (128, 5.3, 3000)
    """
    _check_str(text)
    core = text.translate(_MONEY_TABLE).removesuffix("钱")
    tenths = _TRAILING_TENTHS_RE.fullmatch(core)
    if tenths:
        core += "角"
    elif core.endswith(("元", "圆")):
        core = core[:-1]
    if core and all(c in _DIGIT_GLYPHS for c in core):
        return int(read_digits(core))
    value = _positional(core, original=text, forms=_AMOUNT_FORMS)
    return int(value) if value == int(value) else value


def _check_str(text: object) -> None:
    if not isinstance(text, str):
        raise InvalidInputError(
            f"text must be a str, got {type(text).__name__} ({text!r:.50}); pass the numeral as a string"
        )


def _positional(text: str, *, forms: str, original: str | None = None) -> int | float:
    """cn2an's reading of a numeral with place values (smart mode: Arabic digits may mix in)."""
    shown = text if original is None else original
    if not text or not _units_in_order(text):
        raise InvalidInputError(f"text must be a number, got {shown!r}; valid forms: {forms}")
    try:
        value = _cn2an()(text, "smart")
    # cn2an says why in Chinese (ValueError), or trips over a leading 零 (零十一: KeyError); either way
    # we name the value and the valid forms.
    except (ValueError, KeyError) as exc:
        raise InvalidInputError(f"text must be a number, got {shown!r}; valid forms: {forms}") from exc
    if not isinstance(value, (int, float)):  # pragma: no cover - smart mode returns numbers only
        raise InvalidInputError(
            f"text must be a number, got {shown!r} (read as {value!r}); valid forms: {forms}"
        )
    return value


def _units_in_order(text: str) -> bool:
    """Whether place values fall within each 万/亿 group (千 > 百 > 十), apart, and not after a leading 零.

    Two place values in a row stand only as 百十 (一百十五 = 115).
    """
    if text[0] in "零〇" and any(c in _SMALL_UNITS or c in "万亿" for c in text):
        return False
    last, prev = 4, ""
    for c in text:
        if c in "万亿":
            last = 4
        elif c in _SMALL_UNITS:
            rank = _SMALL_UNITS[c]
            if rank >= last or (prev in _SMALL_UNITS and (_SMALL_UNITS[prev], rank) != (2, 1)):
                return False
            last = rank
        prev = c
    return True


@functools.cache
def _cn2an() -> Callable[[str, str], int | float]:
    try:
        import cn2an
    except ImportError as exc:
        raise ImportError(
            "Chinese positional numerals (二十三, 两千零二十六) need the cn2an package, a dependency of hotline: "
            "pip install cn2an==0.5.24, or reinstall with pip install -e ."
        ) from exc
    return cn2an.cn2an
