"""Dates and times as callers say them (昨天晚上八点, 三天前, 上周三, 11月3号, 国庆节, 刚才, 明天上午), resolved.

The grammar pieces (:func:`date_grammar`, :data:`PERIOD`, :data:`CLOCK`, :data:`CLOCK_ALONE`) are regex sources
with named groups; :func:`resolve_time` turns a matched span into an ISO date or datetime relative to the call
time, looking back (a fault began) or, with ``future=True``, ahead (an appointment). Numerals are read by
:mod:`hotline.core.numerals`; holiday names and dates come from ``data/lexicon/slots.json``.
"""

from __future__ import annotations

import calendar
import functools
import re
from datetime import MAXYEAR, MINYEAR, date, datetime, time, timedelta
from typing import Any

from hotline.core.errors import InvalidInputError
from hotline.core.numerals import parse_int
from hotline.pipeline.slots._lexicon import alternation, words

__all__ = ["DATE", "PERIOD", "CLOCK", "CLOCK_ALONE", "NUMERAL_CHARS", "date_grammar", "resolve_time"]

NUMERAL_CHARS = "零〇一二两三四五六七八九十百千"
"""Chinese numeral characters a count in a time expression may use (三天前, 两千零二十六年)."""

_TNUM = rf"(?:\d{{1,4}}|[{NUMERAL_CHARS}]{{1,6}})"
_MNUM = r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})"  # a month or a day of the month
_DAY_OFFSETS = {
    "大前天": (-3, None), "前天": (-2, None), "前晚": (-2, "晚上"), "昨天": (-1, None), "昨日": (-1, None),
    "昨晚": (-1, "晚上"), "昨儿": (-1, None), "今天": (0, None), "今日": (0, None), "今早": (0, "早上"),
    "今晚": (0, "晚上"), "今儿": (0, None), "明天": (1, None), "明日": (1, None), "明早": (1, "早上"),
    "明晚": (1, "晚上"), "明儿": (1, None), "后天": (2, None), "大后天": (3, None),
}  # fmt: skip
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5, "1": 0, "2": 1,
             "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}  # fmt: skip
_MONTH_PARTS = {"初": 1, "上旬": 1, "中": 11, "中旬": 11, "下旬": 21, "底": 31, "末": 31}  # 31: the last day
_MONTH_PART = r"(?:初|上旬|中旬|下旬|底|末)"
DATE = "|".join(
    [
        r"(?P<now>就在刚才|刚才那会儿?|刚刚|刚才|方才)",
        rf"(?P<day>(?=[{''.join(sorted({d[0] for d in _DAY_OFFSETS}))}])(?:{'|'.join(sorted(_DAY_OFFSETS, key=len, reverse=True))}))",
        r"(?P<wk>上上|下下|上|下|这|本)?个?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天末1-7])",
        rf"(?P<ago_n>{_TNUM}|几|半)(?P<ago_more>多)?个?(?:(?P<ago_half>半)|多)?"
        r"(?P<ago_u>天|日|周|星期|礼拜|月|小时|钟头|分钟|年)(?:前|之前|以前)",
        rf"(?P<mrel>上上个?月|上个?月|这个?月|本月|下个?月)(?:(?P<md>{_MNUM})[号日]|(?P<mrel_p>{_MONTH_PART}))",
        rf"(?P<yrel>去年|前年|今年|明年)(?P<ym>{_MNUM})月份?(?:(?P<yd>{_MNUM})[号日]|(?P<yp>{_MONTH_PART}))?",
        r"(?P<per>上上周|上周|上个?星期|上个?礼拜|这周|本周|这个?星期|这个?礼拜|下周|下个?星期|下个?礼拜"
        r"|上上个?月|上个?月|这个月|本月|下个?月|去年|前年|今年|明年)",
        rf"(?P<rec>这|最近|近|前|过去)(?P<rec_n>{_TNUM}|几)个?(?P<rec_u>天|日|周|星期|礼拜|月)",
        r"(?:(?P<y>\d{4}|[零〇一二三四五六七八九]{4})年)?(?P<m>\d{1,2}|[一二三四五六七八九十]{1,3})月份?"
        rf"(?:(?P<d>{_MNUM})[号日]|(?P<mp>{_MONTH_PART}))?",
        r"(?<![路街巷弄道楼栋幢院\d])(?P<d2>\d{1,2}|[一二三四五六七八九十]{1,3})[号日](?![线楼院门机位床口码])",
        r"(?P<vague>最近|近来|这段时间|这阵子|这几天)",
    ]
)  # fmt: skip
"""The date grammar without the holidays (see :func:`date_grammar`)."""
PERIOD = (
    r"(?P<period>凌晨|清晨|一大早|大清早|大早上|一早|早上|早晨|上午|中午|下午|傍晚|晚上|后半夜|上半夜|夜里|夜间|半夜|深夜"
    r"|白天|晚间)"
)
# 六七点 (six or seven): a pair of neighbouring numerals is a range; 十点多钟, 六点来钟, 七点五十几分: about.
CLOCK = (
    r"(?P<h>\d{1,2}|[零一二两三四五六七八九十]{1,3})(?:点钟|点|时(?![间候]))"
    r"(?:(?P<half>半)|(?P<quarter>一刻|三刻)|(?P<mi>\d{1,2}|[零一二三四五六七八九十]{1,3})几?分?)?(?:左右|多钟|来钟|多|整|不到|过一点|过)?"
    r"|(?P<h2>\d{1,2})[:：](?P<m2>[0-5]\d)"
)
# A clock alone must look like a time: "一点" / "三点" alone are "a bit" / "three points".
CLOCK_ALONE = (
    r"\d{1,2}(?:点钟|点|时(?![间候]))(?:半|一刻|三刻|\d{1,2}分?|[零一二三四五六七八九十]{1,3}分)?(?:左右|多钟|来钟|多|整)?"
    r"|[零一二两三四五六七八九十]{1,3}(?:点钟|点半|点多钟|点[零一二三四五六七八九十\d]{1,3}分)(?:左右|多)?"
    # 七点多, 八点左右, 七点不到, 七点过一点, 九点零几分, 七点开始 (not 一点: "a bit")
    r"|(?:十[一二]?|[两三四五六七八九])点(?:多钟?|左右|不到|过一点|零?几分|整|(?=开始|以后|之后|的时候|前后|就|钟))"
    r"|\d{1,2}[:：][0-5]\d"
)
_PERIOD_RE = re.compile(PERIOD)
_CLOCK_RE = re.compile(CLOCK)
_LATE_PERIODS = frozenset({"下午", "傍晚", "晚上", "夜里", "夜间", "晚间", "深夜", "半夜", "后半夜", "上半夜"})
_NIGHT_PERIODS = frozenset({"晚上", "夜里", "夜间", "晚间", "深夜", "半夜", "后半夜", "上半夜"})
_DIGIT_WORDS = "零一二三四五六七八九"


@functools.cache
def _holidays() -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """(name said → holiday key, holiday key → its entry) from the lexicon."""
    table: dict[str, dict[str, Any]] = words("time", "holidays")
    names = {name: key for key, entry in table.items() if not key.startswith("_") for name in entry["names"]}
    return names, table


@functools.cache
def date_grammar() -> str:
    """:data:`DATE` plus the holidays of the lexicon (国庆节, 春节 …) as the ``hol`` group.

    A holiday name is not one when a place word follows (五一路, 五一广场).
    """
    names, _ = _holidays()
    return rf"(?P<hol>{alternation(names, guard=True)})(?![路街巷道广场桥村镇区号楼大])|" + DATE


@functools.cache
def _date_re() -> re.Pattern[str]:
    return re.compile(date_grammar())


def _month_shift(d: date, months: int) -> date:
    """``d`` moved by whole months (day clamped to the month's last); OverflowError past the calendar's ends."""
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    return date(_in_calendar(y), m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def _in_calendar(year: int) -> int:
    """``year`` if :class:`datetime.date` can hold it (1–9999), else OverflowError, as date arithmetic raises."""
    if not MINYEAR <= year <= MAXYEAR:
        raise OverflowError(f"year {year} is outside {MINYEAR}..{MAXYEAR}")
    return year


def _to_int(s: str) -> int | None:
    """:func:`~hotline.core.numerals.parse_int`, or None where the grammar let a non-number through (十十)."""
    try:
        return parse_int(s)
    except InvalidInputError:
        return None


def _range(s: str) -> tuple[int, int] | None:
    """两三 / 三四 / 六七: two neighbouring digit words said as a range, as (low, high); else None."""
    if len(s) != 2:
        return None
    lo, hi = ("2" if c == "两" else str(_DIGIT_WORDS.find(c)) for c in s)
    if lo.isdigit() and hi.isdigit() and lo != "-1" and int(hi) == int(lo) + 1:
        return int(lo), int(hi)
    return None


def _count(s: str, *, high: bool) -> int | None:
    """A count said in a time expression; a range (三四天) gives its high or low end."""
    pair = _range(s)
    if pair is not None:
        return pair[1] if high else pair[0]
    return _to_int(s)


def resolve_time(
    text: str, pos: int, end: int, ref: datetime | None, *, future: bool = False
) -> tuple[int, str | None] | None:
    """Read the date, period and clock said in ``text[pos:end]`` and resolve them against ``ref``.

    Args:
        text: The normalised text.
        pos: Where the expression starts (after any 从/自从).
        end: Where it ends (before any 开始/以来 …).
        ref: When it was said; None leaves relative expressions (昨天, 三天前) unresolved.
        future: Resolve what is left open (a bare weekday, 八点, 11月3号) to the next occurrence rather
            than the last one: for appointments.

    Returns:
        ``(number of parts said, ISO date or datetime or None)``; None when nothing there reads as a time
        or the clock is impossible (25点). The value is None (the expression still counts as said) when it
        cannot be resolved: relative with no ``ref``, or beyond the calendar's ends (三千年前, 明天 on 9999-12-31).

    Example:
        >>> from datetime import datetime
        >>> resolve_time("昨天晚上八点", 0, 6, datetime(2026, 11, 20, 10, 0))
        (3, '2026-11-19T20:00:00')
        >>> resolve_time("周六上午", 0, 4, datetime(2026, 11, 20, 10, 0), future=True)
        (2, '2026-11-21')
    """
    d = _date_re().match(text, pos, end)
    day: date | None = None
    exact: datetime | None = None
    implied_period: str | None = None
    n_parts = 0
    if d:
        n_parts += 1
        pos = d.end()
        if pos < end and text[pos] == "的":
            pos += 1
        try:
            day, exact, implied_period = _resolve_date(d, ref, future)
        except OverflowError:
            # past the calendar's ends (三千年前, or 明天 said on 9999-12-31): said, not resolvable
            day, exact, implied_period = None, None, None
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
        try:
            return n_parts, _at_clock(day, d is not None, hour_min, period, ref, future)
        except OverflowError:  # 明天夜里两点 said on 9999-12-31
            return n_parts, None
    return n_parts, day.isoformat() if day is not None else None


def _at_clock(day: date | None, date_said: bool, hour_min: tuple[int, int], period: str | None,
              ref: datetime | None, future: bool) -> str | None:
    relative_day = day is None and not date_said and ref is not None
    if relative_day and ref is not None:
        day = ref.date()
    if day is None:
        return None
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
    if relative_day and ref is not None and period is None and 1 <= hour < 12 and not future:
        # 七点多 said at 19:20 with no period looks back to the latest seven o'clock (19:00, not 07:00);
        # an appointment keeps the daytime reading (九点半过来 is tomorrow morning)
        for cand in (when + timedelta(hours=12), when, when - timedelta(hours=12)):
            if cand <= ref:
                return cand.isoformat()
    if relative_day and ref is not None:
        if not future and when > ref:
            when -= timedelta(days=1)  # a fault time is in the past: 八点 said at 07:00 is yesterday
        elif future and when < ref:
            when += timedelta(days=1)  # an appointment is ahead: 九点 said at 10:00 is tomorrow
    return when.isoformat()


def _clock(c: re.Match[str]) -> tuple[int, int] | None:
    if c.group("h2"):
        hour, minute = int(c.group("h2")), int(c.group("m2"))
    else:
        hour = _count(c.group("h"), high=False)
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


def _on(year: int, month: int | None, dom: int | None) -> date | None:
    """date(year, month, dom) with dom 31 meaning the month's last day; None if impossible."""
    if not month or not dom or not 1 <= month <= 12:
        return None
    if dom == 31:
        dom = calendar.monthrange(year, month)[1]
    try:
        return date(year, month, dom)
    except ValueError:
        return None


def _resolve_date(
    d: re.Match[str], ref: datetime | None, future: bool
) -> tuple[date | None, datetime | None, str | None]:
    """(start date, exact datetime, implied period) of a date expression; None where unknown."""
    g = d.group
    today = ref.date() if ref is not None else None
    if g("day"):
        offset, period = _DAY_OFFSETS[g("day")]
        return (today + timedelta(days=offset) if today else None), None, period
    if g("y") or g("m"):
        return _resolve_ymd(g, today, future), None, None
    if g("hol"):
        return _resolve_holiday(g("hol"), today, future), None, None
    if today is None or ref is None:
        return None, None, None
    if g("now"):
        return None, ref.replace(second=0, microsecond=0), None
    monday = today - timedelta(days=today.weekday())
    if g("wd"):
        week_shift = {"上上": -14, "上": -7, "下": 7, "下下": 14}.get(g("wk") or "", 0)
        result = monday + timedelta(days=week_shift + _WEEKDAYS[g("wd")])
        if not g("wk"):
            if not future and result > today:
                result -= timedelta(days=7)  # bare 周五 said on a Tuesday means last Friday
            elif future and result < today:
                result += timedelta(days=7)  # … or next Friday, for an appointment
        return result, None, None
    if g("ago_n"):
        return _resolve_ago(g, ref, today)
    if g("mrel"):
        first = _month_shift(today.replace(day=1), _month_offset(g("mrel")))
        dom = _to_int(g("md")) if g("md") else _MONTH_PARTS[g("mrel_p")]
        return _on(first.year, first.month, dom), None, None
    if g("yrel"):
        year = today.year + {"去年": -1, "前年": -2, "今年": 0, "明年": 1}[g("yrel")]
        dom = _to_int(g("yd")) if g("yd") else _MONTH_PARTS[g("yp")] if g("yp") else 1
        return _on(year, _to_int(g("ym")), dom), None, None
    if g("per"):
        per = g("per")
        if per.endswith("月"):
            return _month_shift(today.replace(day=1), _month_offset(per)), None, None
        if per.endswith("年"):
            return date(_in_calendar(today.year + {"去年": -1, "前年": -2, "今年": 0, "明年": 1}[per]), 1, 1), None, None
        week = -14 if per.startswith("上上") else -7 if per.startswith("上") else 7 if per.startswith("下") else 0
        return monday + timedelta(days=week), None, None
    if g("rec"):
        raw, unit = g("rec_n"), g("rec_u")
        n = None if raw == "几" else _count(raw, high=True)
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
        if not future and result > today:
            result = _month_shift(result, -1)
        elif future and result < today:
            result = _month_shift(result, 1)
        return result, None, None
    return None, None, None  # vague: 最近, 这段时间


def _month_offset(said: str) -> int:
    """上个月 → -1, 上上个月 → -2, 这个月/本月 → 0, 下个月 → 1."""
    if said.startswith("上上"):
        return -2
    return -1 if said.startswith("上") else 1 if said.startswith("下") else 0


def _resolve_ymd(g: Any, today: date | None, future: bool) -> date | None:
    year = _to_int(g("y")) if g("y") else None
    month = _to_int(g("m"))
    dom = _to_int(g("d")) if g("d") else _MONTH_PARTS[g("mp")] if g("mp") else 1
    if year is None:
        if today is None:
            return None
        year = today.year
    result = _on(year, month, dom)
    if result is None or g("y") or today is None:
        return result
    if not future and result > today:
        return _on(year - 1, month, dom)  # 11月20号 said in March means last year
    if future and result < today and (g("d") or result.month != today.month):
        return _on(year + 1, month, dom)
    return result


def _resolve_holiday(said: str, today: date | None, future: bool) -> date | None:
    """The last (or, ``future``, the next) day the holiday fell on, from the lexicon's table."""
    if today is None:
        return None
    names, table = _holidays()
    entry = table[names[said]]
    for year in (today.year, today.year + 1) if future else (today.year, today.year - 1):
        mmdd = entry.get("date") or entry.get("dates", {}).get(str(year))
        if not mmdd or not MINYEAR <= year <= MAXYEAR:
            continue
        month, dom = (int(x) for x in mmdd.split("-"))
        when = date(year, month, dom)
        if (when >= today) if future else (when <= today):
            return when
    return None


def _resolve_ago(g: Any, ref: datetime, today: date) -> tuple[date | None, datetime | None, str | None]:
    unit, raw = g("ago_u"), g("ago_n")
    if raw == "几":
        return None, None, None
    n: float | None = 0.5 if raw == "半" else _count(raw, high=True)
    if n is None:
        return None, None, None
    if g("ago_half"):
        n += 0.5  # 一个半小时前
    if unit in ("小时", "钟头"):
        return None, ref - timedelta(hours=n), None
    if unit == "分钟":
        return None, ref - timedelta(minutes=n), None
    if unit in ("天", "日"):
        return today - timedelta(days=int(n) if n >= 1 else 0), None, None
    if unit in ("周", "星期", "礼拜"):
        return today - timedelta(days=round(7 * n)), None, None
    if unit == "月":
        return (_month_shift(today, -int(n)) if n >= 1 else today - timedelta(days=15)), None, None
    return (_month_shift(today, -12 * int(n)) if n >= 1 else _month_shift(today, -6)), None, None
