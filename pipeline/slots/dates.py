"""Dates and times as callers say them (昨天晚上八点, 三天前, 上周三, 11月3号, 二〇二五年三月一日), resolved.

The grammar pieces (:data:`DATE`, :data:`PERIOD`, :data:`CLOCK`, :data:`CLOCK_ALONE`) are regex sources with
named groups; :func:`resolve_time` turns a matched span into an ISO date or datetime relative to the call
time. Numerals are read by :mod:`hotline.core.numerals`.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from hotline.core.errors import InvalidInputError
from hotline.core.numerals import parse_int

__all__ = ["DATE", "PERIOD", "CLOCK", "CLOCK_ALONE", "NUMERAL_CHARS", "resolve_time"]

NUMERAL_CHARS = "零〇一二两三四五六七八九十百千"
"""Chinese numeral characters a count in a time expression may use (三天前, 两千零二十六年)."""

_TNUM = rf"(?:\d{{1,4}}|[{NUMERAL_CHARS}]{{1,6}})"
_DAY_OFFSETS = {
    "大前天": (-3, None), "前天": (-2, None), "前晚": (-2, "晚上"), "昨天": (-1, None), "昨日": (-1, None),
    "昨晚": (-1, "晚上"), "昨儿": (-1, None), "今天": (0, None), "今日": (0, None), "今早": (0, "早上"),
    "今晚": (0, "晚上"), "今儿": (0, None),
}  # fmt: skip
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "1": 0, "2": 1, "3": 2,
             "4": 3, "5": 4, "6": 5, "7": 6}  # fmt: skip
DATE = "|".join(
    [
        rf"(?P<day>{'|'.join(sorted(_DAY_OFFSETS, key=len, reverse=True))})",
        r"(?P<wk>上上|上|这|本)?个?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天1-7])",
        rf"(?P<ago_n>{_TNUM}|几|半)个?(?P<ago_u>天|日|周|星期|礼拜|月|小时|钟头|分钟|年)(?:前|之前|以前)",
        r"(?P<per>上上周|上周|上个?星期|上个?礼拜|这周|本周|这个?星期|这个?礼拜|上个?月|这个月|本月|去年|前年|今年)",
        rf"(?P<rec>这|最近|近|前|过去)(?P<rec_n>{_TNUM}|几)个?(?P<rec_u>天|日|周|星期|礼拜|月)",
        r"(?:(?P<y>\d{4}|[零〇一二三四五六七八九]{4})年)?(?P<m>\d{1,2}|[一二三四五六七八九十]{1,3})月份?"
        r"(?:(?P<d>\d{1,2}|[一二三四五六七八九十]{1,3})[号日])?",
        r"(?<![路街巷弄道楼栋幢院\d])(?P<d2>\d{1,2}|[一二三四五六七八九十]{1,3})[号日](?![线楼院门机位床口码])",
        r"(?P<vague>最近|近来|这段时间|这阵子)",
    ]
)  # fmt: skip
PERIOD = r"(?P<period>凌晨|清晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜里|夜间|半夜|深夜|白天|晚间)"
CLOCK = (
    r"(?P<h>\d{1,2}|[零一二两三四五六七八九十]{1,3})(?:点钟|点|时(?![间候]))"
    r"(?:(?P<half>半)|(?P<quarter>一刻|三刻)|(?P<mi>\d{1,2}|[零一二三四五六七八九十]{1,3})分?)?(?:左右|多)?"
    r"|(?P<h2>\d{1,2})[:：](?P<m2>[0-5]\d)"
)
# A clock alone must look like a time: "一点" / "三点" alone are "a bit" / "three points".
CLOCK_ALONE = (
    r"\d{1,2}(?:点钟|点|时(?![间候]))(?:半|一刻|三刻|\d{1,2}分?|[零一二三四五六七八九十]{1,3}分)?(?:左右|多)?"
    r"|[零一二两三四五六七八九十]{1,3}(?:点钟|点半|点[零一二三四五六七八九十\d]{1,3}分)(?:左右|多)?"
    r"|\d{1,2}[:：][0-5]\d"
)
_DATE_RE = re.compile(DATE)
_PERIOD_RE = re.compile(PERIOD)
_CLOCK_RE = re.compile(CLOCK)
_LATE_PERIODS = frozenset({"下午", "傍晚", "晚上", "夜里", "夜间", "晚间", "深夜", "半夜"})
_NIGHT_PERIODS = frozenset({"晚上", "夜里", "夜间", "晚间", "深夜", "半夜"})


def _month_shift(d: date, months: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    m += 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(y, m, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _to_int(s: str) -> int | None:
    """:func:`~hotline.core.numerals.parse_int`, or None where the grammar let a non-number through (十十)."""
    try:
        return parse_int(s)
    except InvalidInputError:
        return None


def resolve_time(text: str, pos: int, end: int, ref: datetime | None) -> tuple[int, str | None] | None:
    """Read the date, period and clock said in ``text[pos:end]`` and resolve them against ``ref``.

    Args:
        text: The normalised text.
        pos: Where the expression starts (after any 从/自从).
        end: Where it ends (before any 开始/以来 …).
        ref: When it was said; None leaves relative expressions (昨天, 三天前) unresolved.

    Returns:
        ``(number of parts said, ISO date or datetime or None)``; None when nothing there reads as a time
        or the clock is impossible (25点).

    Example:
        >>> from datetime import datetime
        >>> resolve_time("昨天晚上八点", 0, 6, datetime(2026, 11, 20, 10, 0))
        (3, '2026-11-19T20:00:00')
    """
    d = _DATE_RE.match(text, pos, end)
    day: date | None = None
    exact: datetime | None = None
    implied_period: str | None = None
    n_parts = 0
    if d:
        n_parts += 1
        pos = d.end()
        if pos < end and text[pos] == "的":
            pos += 1
        day, exact, implied_period = _resolve_date(d, ref)
    while pos < end and text[pos] == " ":
        pos += 1
    p = _PERIOD_RE.match(text, pos, end)
    period = p.group("period") if p else implied_period
    if p:
        n_parts += 1
        pos = p.end()
    while pos < end and text[pos] == " ":
        pos += 1
    c = _CLOCK_RE.match(text, pos, end)
    hour_min: tuple[int, int] | None = None
    if c:
        n_parts += 1
        hour_min = _clock(c)
        if hour_min is None:
            return None
    if n_parts == 0:
        return None
    if exact is not None:
        return n_parts, exact.isoformat()
    if hour_min is not None:
        if day is None and not d and ref is not None:
            day = ref.date()
            relative_day = True
        else:
            relative_day = False
        if day is None:
            return n_parts, None
        hour, minute = hour_min
        extra_days = 0
        if period in _LATE_PERIODS and hour < 12:
            if period in _NIGHT_PERIODS and hour <= 5:
                extra_days = 1  # 昨天夜里两点 is early the next morning
            else:
                hour += 12
        elif period in _NIGHT_PERIODS and hour == 12:
            hour, extra_days = 0, 1
        elif period == "中午" and hour <= 3:
            hour += 12
        elif period == "凌晨" and hour == 12:
            hour = 0
        tz = ref.tzinfo if ref is not None else None
        when = datetime.combine(day + timedelta(days=extra_days), time(hour % 24, minute), tzinfo=tz)
        if relative_day and ref is not None and when > ref:
            when -= timedelta(days=1)  # a fault time is in the past: 八点 said at 07:00 is yesterday
        return n_parts, when.isoformat()
    return n_parts, day.isoformat() if day is not None else None


def _clock(c: re.Match[str]) -> tuple[int, int] | None:
    if c.group("h2"):
        hour, minute = int(c.group("h2")), int(c.group("m2"))
    else:
        hour = _to_int(c.group("h"))
        if c.group("half"):
            minute = 30
        elif c.group("quarter"):
            minute = 15 if c.group("quarter") == "一刻" else 45
        elif c.group("mi"):
            minute = _to_int(c.group("mi")) or 0
        else:
            minute = 0
    if hour is None or hour > 24 or minute > 59:
        return None
    return hour, minute


def _resolve_date(d: re.Match[str], ref: datetime | None) -> tuple[date | None, datetime | None, str | None]:
    """(start date, exact datetime, implied period) of a date expression; None where unknown."""
    g = d.group
    today = ref.date() if ref is not None else None
    if g("day"):
        offset, period = _DAY_OFFSETS[g("day")]
        return (today + timedelta(days=offset) if today else None), None, period
    if g("y") or g("m"):
        year = _to_int(g("y")) if g("y") else None
        month = _to_int(g("m"))
        dom = _to_int(g("d")) if g("d") else 1
        if year is None:
            if today is None:
                return None, None, None
            year = today.year
        try:
            result = date(year, month or 0, dom or 0)
        except ValueError:
            return None, None, None
        if not g("y") and today is not None and result > today:
            result = result.replace(year=year - 1)  # 11月20号 said in March means last year
        return result, None, None
    if today is None or ref is None:
        return None, None, None
    if g("wd"):
        monday = today - timedelta(days=today.weekday())
        week_shift = {"上上": -14, "上": -7}.get(g("wk") or "", 0)
        result = monday + timedelta(days=week_shift + _WEEKDAYS[g("wd")])
        if not g("wk") and result > today:
            result -= timedelta(days=7)  # bare 周五 said on a Tuesday means last Friday
        return result, None, None
    if g("ago_n"):
        unit, raw = g("ago_u"), g("ago_n")
        if raw == "几":
            return None, None, None
        n = 0.5 if raw == "半" else _to_int(raw)
        if n is None:
            return None, None, None
        if unit in ("小时", "钟头"):
            return None, ref - timedelta(hours=n), None
        if unit == "分钟":
            return None, ref - timedelta(minutes=n), None
        if unit in ("天", "日"):
            return today - timedelta(days=n), None, None
        if unit in ("周", "星期", "礼拜"):
            return today - timedelta(days=7 * n), None, None
        if unit == "月":
            return (_month_shift(today, -int(n)) if n >= 1 else today - timedelta(days=15)), None, None
        return (_month_shift(today, -12 * int(n)) if n >= 1 else _month_shift(today, -6)), None, None
    if g("per"):
        per = g("per")
        monday = today - timedelta(days=today.weekday())
        if per.startswith("上上"):
            return monday - timedelta(days=14), None, None
        if per.startswith("上") and not per.endswith("月"):
            return monday - timedelta(days=7), None, None
        if per in ("这周", "本周") or per.startswith("这") and not per.endswith("月"):
            return monday, None, None
        if per.endswith("月"):
            first = today.replace(day=1)
            return (_month_shift(first, -1) if per.startswith("上") else first), None, None
        years = {"去年": -1, "前年": -2, "今年": 0}[per]
        return date(today.year + years, 1, 1), None, None
    if g("rec"):
        raw, unit = g("rec_n"), g("rec_u")
        n = None if raw == "几" else _to_int(raw)
        if n is None:
            return None, None, None
        if unit in ("天", "日"):
            return today - timedelta(days=n), None, None
        if unit in ("周", "星期", "礼拜"):
            return today - timedelta(days=7 * n), None, None
        return _month_shift(today, -n), None, None
    if g("d2"):
        dom = _to_int(g("d2"))
        try:
            result = today.replace(day=dom or 0)
        except ValueError:
            return None, None, None
        if result > today:
            result = _month_shift(result, -1)
        return result, None, None
    return None, None, None  # vague: 最近, 这段时间
