"""Ticket fields from conversation text: callback phone, location, device and when the fault began.

Rule-based and fast (regexes compiled at import). Each slot is a dict or None::

    {"phone": {"value": "13812345678", "masked": "138****5678", "evidence": "…"},
     "location": {"value": "杭州市西湖区文三路100号", "evidence": "…"},
     "device": {"value": "华为Mate60", "evidence": "…"},
     "fault_time": {"value": "昨天晚上八点", "resolved": "2026-11-19T20:00:00+08:00", "evidence": "…"}}

Evidence snippets are cut from the PII-masked text, so raw numbers appear only in ``phone.value``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from hotline.core.errors import InvalidInputError
from hotline.core.mask import PiiEntity, PiiType, mask_pii
from hotline.core.normalise import normalise_text

__all__ = ["SlotExtractor"]

_EVIDENCE_CONTEXT = 12
_CORRECTION_RE = re.compile("不对|不是|错了|应该是|更正|改成|换成|重新说")
_SENTENCE_END = "。!?！？\n"

# ----------------------------------------------------------------------------------------------
# numbers
_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000}
_CN_NUM = "零〇一二两三四五六七八九十百千"


def _to_int(s: str) -> int | None:
    """``"23"``, ``"二十三"``, ``"二〇二六"``, ``"两千零二十六"`` → int; None if not a number."""
    if s.isdigit():
        return int(s)
    if all(c in _CN_DIGIT for c in s):  # read digit by digit: 二〇二六
        return int("".join(str(_CN_DIGIT[c]) for c in s))
    total, current = 0, 0
    for c in s:
        if c in _CN_DIGIT:
            current = _CN_DIGIT[c]
        elif c in _CN_UNIT:
            total += (current or 1) * _CN_UNIT[c]
            current = 0
        else:
            return None
    return total + current


def _strip_names(pattern: str) -> str:
    """The same regex without named groups, so it can appear more than once in a larger pattern."""
    return re.sub(r"\(\?P<\w+>", "(?:", pattern)


# ----------------------------------------------------------------------------------------------
# location
_NAME_STOP = "我你他她它们在住是的了到去回往从离近于靠说这那呢吗吧啊呀哦嗯就也都还要想给让被把跟与及或很有没不个司"
_NAME = rf"[^\W\d_a-zA-Z{_NAME_STOP}]"
_LOC_NUM = r"(?:[A-Za-z]?\d+|[A-Za-z]|[一二三四五六七八九十百零两]+)"
# Inside an admin-area name (not first): 都 is a stop word as an adverb but part of 成都市, 花都区, 丰都县.
_ADMIN_NAME = rf"{_NAME}(?:{_NAME}|都)"
_PROVINCES = (
    "河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾"
)
_CITY_NOT = "".join(f"(?<!{w})" for w in ("超市", "城市", "门市", "夜市", "菜市", "股市", "都市", "集市", "上市", "早市", "黑市"))
_DISTRICT_NOT = "".join(
    f"(?<!{w})"
    for w in ("服务区", "覆盖区", "营业区", "地区", "山区", "景区", "郊区", "市区", "城区", "校区", "专区", "辖区",
              "分区", "禁区", "灾区", "盲区", "小区", "社区", "园区")
)  # fmt: skip
_ROAD_NOT = "".join(
    f"(?<!{w})"
    for w in ("线路", "网路", "电路", "道路", "马路", "套路", "思路", "出路", "门路", "一路", "走路", "迷路", "带路",
              "短路", "回路", "铁路", "半路", "上路", "活路", "来路")
)  # fmt: skip
_LOC_COMPONENTS = [
    rf"(?:北京|天津|上海|重庆)(?!时间)市?|(?:{_PROVINCES})省?|(?:内蒙古|广西|西藏|宁夏|新疆)(?:自治区)?",
    rf"{_ADMIN_NAME}{{1,4}}?市{_CITY_NOT}(?![场民面值价长])",
    rf"{_ADMIN_NAME}{{1,4}}?区{_DISTRICT_NOT}",
    rf"{_ADMIN_NAME}{{1,4}}?(?:县|旗|街道)",
    rf"{_NAME}{{2,5}}?镇(?<!城镇)(?<!乡镇)",
    rf"{_NAME}{{2,5}}?乡(?<!家乡)(?<!老乡)(?<!下乡)(?<!城乡)(?<!故乡)(?<!他乡)",
    rf"{_NAME}{{2,5}}?(?:大道|大街|胡同|路{_ROAD_NOT}(?![由线费])|街(?<!上街)(?<!逛街)|巷|弄)(?:[东南西北中]段|{_LOC_NUM}段)?(?:{_LOC_NUM}号院?)?",
    rf"{_NAME}{{2,8}}?(?:小区|花园|家园|公寓|大厦|广场|新村|社区|大楼|写字楼|商城|园区|苑)(?:小区|社区)?",
    rf"{_NAME}{{2,4}}?村(?<!农村)(?<!乡村)",
]
# Only inside a chain: a district right after its city (深圳市南山区, although 山区 alone means "mountain area"),
# and a road named …道 (高新南一道, although 知道/频道/渠道 are not roads).
_LOC_DISTRICT_AFTER_CITY = rf"(?<=市){_ADMIN_NAME}{{1,2}}?区"
_DAO_NOT = "".join(f"(?<!{w})" for w in ("知道", "频道", "通道", "渠道", "味道", "难道", "轨道", "报道", "街道", "管道", "车道"))
_LOC_DAO_ROAD = rf"{_NAME}{{2,5}}?道{_DAO_NOT}(?:{_LOC_NUM}号)?"
_LOC_NUMBERED = rf"{_LOC_NUM}(?:号院|号楼|号|栋|幢|座|单元|楼|层|室|户|弄|组|期|区)"
_LOC_FIRST = "|".join(_LOC_COMPONENTS)
# Only right after a house number: a named place (…号东部软件园, …号环球中心) - alone these words are too common.
_LOC_AFTER_NUMBER = (
    rf"(?<=号){_NAME}{{2,8}}?(?:软件园|产业园|科技园|工业园|园区|中心|大厦|广场|花园|家园|公寓|小区|苑|商场|商城|城|村|"
    rf"酒店|医院|学校|大楼|写字楼)(?:小区|社区)?"
)
# A bare room number after 单元/栋/幢/楼/座: 2单元301, 5栋1202房, 2单元三零一.
_LOC_ROOM = (
    r"(?<=[元栋幢楼座])(?:\d{3,4}(?![\d号元块个次年月日天点分秒%])|[零一二三四五六七八九幺]{3,4}(?![零一二三四五六七八九十幺两]))"
    r"(?:室|房)?"
)
_LOC_SUFFIX_CHARS = "省市区县旗道镇乡路街巷弄同园寓厦场村苑楼城"
# Every location contains one of these; texts without any skip the (slower) location regex.
_LOC_HINT_RE = re.compile(rf"[{_LOC_SUFFIX_CHARS}]|北京|天津|上海|重庆|内蒙古|广西|西藏|宁夏|新疆|{_PROVINCES}")
_LOC_MAX_LEAD = 9  # a chain starts at most this many characters before its first hint
# Look-ahead: a suffix character within 8 name characters (or a province) - lets `re` skip positions fast.
_LOC_AHEAD = rf"(?=(?:{_NAME}|都){{0,8}}[{_LOC_SUFFIX_CHARS}]|北京|天津|上海|重庆|内蒙古|广西|西藏|宁夏|新疆|{_PROVINCES})"
_LOCATION_RE = re.compile(
    rf"{_LOC_AHEAD}(?:{_LOC_FIRST})(?:\s?(?:{_LOC_DISTRICT_AFTER_CITY}|{_LOC_FIRST}|{_LOC_NUMBERED}|{_LOC_AFTER_NUMBER}|{_LOC_ROOM}|{_LOC_DAO_ROAD}))*"
)
# "我家在滨江那边", "公司在杭州": a place name after a home/work cue, cut before the first non-place word.
_CUE_LOCATION_RE = re.compile(
    rf"(?:家|公司|单位|店|厂|住址|地址|宿舍|住)(?:里|里面)?(?:就|也|是|现在)?(?:在|住在|位于|住|是)(?P<name>{_NAME}{{2,10}})"
)
_CUE_NAME_END = re.compile(
    "那边|这边|附近|一带|那里|这里|那块|这块|那儿|这儿|宽带|网络|手机|信号|电话|一直|最近|今天|昨天|现在|老是|总是|经常|突然|出差|上班"
)

# ----------------------------------------------------------------------------------------------
# device
_PHONE_BRANDS_SURE = r"华为|红米|redmi|oppo|vivo|iphone|魅族|meizu|huawei|xiaomi|samsung|galaxy|oneplus|realme|iqoo|honor|努比亚"
_PHONE_BRANDS_NEED_MODEL = r"荣耀|小米|苹果|三星(?!期)|一加|真我|中兴|诺基亚|联想"
_MODEL = (
    r"(?:\s?(?:mate|nova|pura|note|find|reno|magic|mix|civi|galaxy|fold|flip|neo|ace|turbo|[pkxsayz])?\s?\d{1,4}[a-z]?"
    # Chinese-numeral models are two-digit (苹果十五, 小米十三): 一加一 is arithmetic, not a phone.
    r"|\s?(?:mate|nova|pura)\s?[一二三四五六七八九十]{1,3}|(?:[一二三四五六七八九]?十[一二三四五六七八九]?)(?![个天年月点号岁块元次])"
    r"|\s?(?:xs max|xr|xs|x|se))"
    r"(?:\s?(?:pro\+?|max|ultra|plus|mini|lite|se|rs|fe|5g|\+))*"
)
_PHONE_DEVICE_RE = re.compile(
    rf"(?P<sure>{_PHONE_BRANDS_SURE})(?P<model1>{_MODEL})?(?P<suffix1>手机)?"
    rf"|(?P<maybe>{_PHONE_BRANDS_NEED_MODEL})(?:(?P<model2>{_MODEL})(?P<suffix2>手机)?|(?P<suffix3>手机))"
)  # matched on lower-cased text: IGNORECASE and leading look-behinds make `re` try every position
_HOME_BRANDS = r"华为|中兴|烽火|诺基亚贝尔|贝尔|天邑|小米|tp-link|tplink|普联|腾达|水星|网件|华硕|h3c|新华三|创维|九联|长虹|海信"
_HOME_KINDS = r"光猫|宽带猫|机顶盒|电视盒子|iptv盒子|无线路由器|路由器|路由"
_HOME_MODEL = r"[a-z]{1,5}-?\d{2,5}[a-z0-9.\-]*"
_HOME_HINT_RE = re.compile("猫|盒|路由")
_HOME_DEVICE_RE = re.compile(
    rf"(?:(?P<brand>{_HOME_BRANDS})的?\s?(?P<model1>{_HOME_MODEL})?\s?)?(?P<kind>{_HOME_KINDS})"
    rf"(?:\s?(?:的)?(?:型号)?(?:是|为)?[:：]?\s?(?P<model2>{_HOME_MODEL}))?"
)

# ----------------------------------------------------------------------------------------------
# fault time
_TNUM = rf"(?:\d{{1,4}}|[{_CN_NUM}]{{1,6}})"
_DAY_OFFSETS = {
    "大前天": (-3, None), "前天": (-2, None), "前晚": (-2, "晚上"), "昨天": (-1, None), "昨日": (-1, None),
    "昨晚": (-1, "晚上"), "昨儿": (-1, None), "今天": (0, None), "今日": (0, None), "今早": (0, "早上"),
    "今晚": (0, "晚上"), "今儿": (0, None),
}  # fmt: skip
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "1": 0, "2": 1, "3": 2,
             "4": 3, "5": 4, "6": 5, "7": 6}  # fmt: skip
_DATE = "|".join(
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
_PERIOD = r"(?P<period>凌晨|清晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜里|夜间|半夜|深夜|白天|晚间)"
_CLOCK = (
    r"(?P<h>\d{1,2}|[零一二两三四五六七八九十]{1,3})(?:点钟|点|时(?![间候]))"
    r"(?:(?P<half>半)|(?P<quarter>一刻|三刻)|(?P<mi>\d{1,2}|[零一二三四五六七八九十]{1,3})分?)?(?:左右|多)?"
    r"|(?P<h2>\d{1,2})[:：](?P<m2>[0-5]\d)"
)
# A clock alone must look like a time: "一点" / "三点" alone are "a bit" / "three points".
_CLOCK_ALONE = (
    r"\d{1,2}(?:点钟|点|时(?![间候]))(?:半|一刻|三刻|\d{1,2}分?|[零一二三四五六七八九十]{1,3}分)?(?:左右|多)?"
    r"|[零一二两三四五六七八九十]{1,3}(?:点钟|点半|点[零一二三四五六七八九十\d]{1,3}分)(?:左右|多)?"
    r"|\d{1,2}[:：][0-5]\d"
)
_SINCE_PREFIX = r"(?P<since>从|自从|自)?"
_SINCE_SUFFIX = r"(?P<suffix>开始|以来|起|之后|以后|左右|前后|那会儿?|的时候)?"
_DATE_S, _PERIOD_S, _CLOCK_S = _strip_names(_DATE), _strip_names(_PERIOD), _strip_names(_CLOCK)
# Every character a fault-time expression can start with: lets `re` skip other positions fast.
_FAULT_TIME_FIRST = rf"(?=[从自大前昨今上这本周星礼几半去最近过凌清早中下傍晚夜深白\d{_CN_NUM}])"
_FAULT_TIME_RE = re.compile(
    rf"{_FAULT_TIME_FIRST}{_SINCE_PREFIX}(?:(?:{_DATE_S})的?\s?(?:{_PERIOD_S})?\s?(?:{_CLOCK_S})?"
    rf"|(?:{_PERIOD_S})\s?(?:{_CLOCK_S})?|(?:{_CLOCK_ALONE})){_SINCE_SUFFIX}"
)
_DATE_RE = re.compile(_DATE)
_PERIOD_RE = re.compile(_PERIOD)
_CLOCK_RE = re.compile(_CLOCK)
_LATE_PERIODS = frozenset({"下午", "傍晚", "晚上", "夜里", "夜间", "晚间", "深夜", "半夜"})
_NIGHT_PERIODS = frozenset({"晚上", "夜里", "夜间", "晚间", "深夜", "半夜"})


def _evidence(masked: str, start: int, end: int) -> str:
    """The masked text around ``[start, end)``, not crossing sentence ends."""
    left = max(0, start - _EVIDENCE_CONTEXT)
    for i in range(start - 1, left - 1, -1):
        if masked[i] in _SENTENCE_END:
            left = i + 1
            break
    right = min(len(masked), end + _EVIDENCE_CONTEXT)
    for i in range(end, right):
        if masked[i] in _SENTENCE_END:
            right = i + 1
            break
    return masked[left:right].strip()


def _month_shift(d: date, months: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    m += 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(y, m, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


class SlotExtractor:
    """Extract ticket fields (phone, location, device, fault time) from conversation text.

    Example:
        >>> from datetime import datetime, timezone, timedelta
        >>> ref = datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=8)))
        >>> slots = SlotExtractor().extract("我家在杭州市西湖区文三路100号,华为Mate60昨天晚上八点开始没信号,"
        ...                                 "回电幺三八一二三四五六七八", reference_time=ref)
        >>> slots["phone"]["masked"], slots["location"]["value"], slots["device"]["value"]
        ('138****5678', '杭州市西湖区文三路100号', '华为Mate60')
        >>> slots["fault_time"]["value"], slots["fault_time"]["resolved"]
        ('昨天晚上八点开始', '2026-11-19T20:00:00+08:00')
    """

    def __init__(self) -> None:
        pass

    def warm_up(self) -> None:
        """Build the shared normaliser so the first call is fast. Safe to call twice."""
        normalise_text("")

    def run(self, texts: list[str], *, reference_time: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
        """Slots for a batch.

        Args:
            texts: Utterances or whole conversations.
            reference_time: When the text was said (the call time); relative times such as 昨天 are
                resolved against it. None leaves relative times unresolved.

        Returns:
            ``{"slots": [slots, ...]}`` in input order, each as returned by :meth:`extract`.
        """
        if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
            raise InvalidInputError(
                f"texts must be a list of str, got {type(texts).__name__}; wrap a single utterance as [text]"
            )
        return {"slots": [self.extract(t, reference_time=reference_time) for t in texts]}

    def extract(self, text: str, reference_time: datetime | None = None) -> dict[str, dict[str, Any] | None]:
        """Slots for one text.

        Args:
            text: The utterance or conversation (normalised here: width, traditional, spaces).
            reference_time: See :meth:`run`; a timezone-aware value keeps its timezone in ``resolved``.

        Returns:
            ``{"phone": …, "location": …, "device": …, "fault_time": …}``, each a dict or None.
        """
        if reference_time is not None and not isinstance(reference_time, datetime):
            raise InvalidInputError(
                f"reference_time must be a datetime or None, got {type(reference_time).__name__} "
                f"({reference_time!r}); pass datetime.now(tz) or the call's start time"
            )
        norm = normalise_text(text)
        masked = mask_pii(norm)
        pii_spans = [(e.start, e.end) for e in masked.entities]
        return {
            "phone": self._phone(masked.entities, norm, masked.text),
            "location": self._location(norm, masked.text, masked.entities),
            "device": self._device(norm, masked.text, masked.entities),
            "fault_time": self._fault_time(norm, masked.text, masked.entities, pii_spans, reference_time),
        }

    # -- phone ----------------------------------------------------------------------------------
    @staticmethod
    def _masked_pos(entities: list[PiiEntity], pos: int) -> int:
        """Offset in the masked text of original offset ``pos`` (outside any entity)."""
        shift = 0
        for e in entities:
            if e.end <= pos:
                shift += len(e.masked) - (e.end - e.start)
        return pos + shift

    def _snippet(self, entities: list[PiiEntity], masked: str, start: int, end: int) -> str:
        return _evidence(masked, self._masked_pos(entities, start), self._masked_pos(entities, end))

    def _phone(self, entities: list[PiiEntity], norm: str, masked: str) -> dict[str, Any] | None:
        phones = [e for e in entities if e.type == PiiType.PHONE]
        if not phones:
            return None
        chosen = phones[0]
        # A later number after a correction cue (不对, 应该是 …) replaces the first one.
        for e in phones[1:]:
            if _CORRECTION_RE.search(norm, max(0, e.start - 8), e.start):
                chosen = e
        start = self._masked_pos(entities, chosen.start)
        return {
            "value": chosen.value,
            "masked": chosen.masked,
            "evidence": _evidence(masked, start, start + len(chosen.masked)),
        }

    # -- location -------------------------------------------------------------------------------
    def _location(self, norm: str, masked: str, entities: list[PiiEntity]) -> dict[str, Any] | None:
        best: re.Match[str] | None = None
        hint = _LOC_HINT_RE.search(norm)
        for m in _LOCATION_RE.finditer(norm, max(0, hint.start() - _LOC_MAX_LEAD) if hint else len(norm)):
            if best is None or len(m.group()) > len(best.group()):
                best = m
        if best is not None:
            value = best.group().strip()
            if value.startswith("家") and norm[best.start() - 1 : best.start()] in ("我", "们"):
                value = value[1:]  # 我家阳光小区: 家 belongs to 我家
            return {"value": value, "evidence": self._snippet(entities, masked, best.start(), best.end())}
        for m in _CUE_LOCATION_RE.finditer(norm):
            name = m.group("name")
            cut = _CUE_NAME_END.search(name)
            if cut:
                name = name[: cut.start()]
            if len(name) >= 2:
                start = m.start("name")
                return {"value": name, "evidence": self._snippet(entities, masked, start, start + len(name))}
        return None

    # -- device ---------------------------------------------------------------------------------
    def _device(self, norm: str, masked: str, entities: list[PiiEntity]) -> dict[str, Any] | None:
        candidates: list[tuple[int, int, int, str]] = []  # (has_model, start, end, value)
        lower = norm.lower()
        if len(lower) != len(norm):  # a few non-ASCII letters change length when lower-cased
            lower, norm = norm, norm
        for m in _PHONE_DEVICE_RE.finditer(lower):
            if m.group("maybe") == "荣耀" and lower.endswith("王者", 0, m.start()):
                continue  # 王者荣耀 is a game
            brand_group = "sure" if m.group("sure") else "maybe"
            model_group = "model1" if m.group("model1") else "model2" if m.group("model2") else None
            brand = norm[m.start(brand_group) : m.end(brand_group)]
            model = norm[m.start(model_group) : m.end(model_group)] if model_group else ""
            said_phone = m.group("suffix1") or m.group("suffix3")
            value = (brand + model).strip() if model.strip() else brand + ("手机" if said_phone else "")
            candidates.append((1 if model.strip() else 0, m.start(), m.end(), value))
        for m in _HOME_DEVICE_RE.finditer(lower) if _HOME_HINT_RE.search(lower) else ():
            brand = norm[m.start("brand") : m.end("brand")] if m.group("brand") else ""
            model_group = "model1" if m.group("model1") else "model2" if m.group("model2") else None
            model = norm[m.start(model_group) : m.end(model_group)] if model_group else ""
            candidates.append((1 if model else 0, m.start(), m.end(), brand + m.group("kind") + model))
        if not candidates:
            return None
        _, start, end, value = max(candidates, key=lambda c: (c[0], -c[1]))
        return {"value": value, "evidence": self._snippet(entities, masked, start, end)}

    # -- fault time -----------------------------------------------------------------------------
    def _fault_time(
        self,
        norm: str,
        masked: str,
        entities: list[PiiEntity],
        pii_spans: list[tuple[int, int]],
        ref: datetime | None,
    ) -> dict[str, Any] | None:
        best: tuple[int, int, re.Match[str], str | None] | None = None  # (score, -start, match, resolved)
        for m in _FAULT_TIME_RE.finditer(norm):
            if not m.group() or any(s < m.end() and m.start() < e for s, e in pii_spans):
                continue
            parsed = self._parse_time(norm, m, ref)
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
            "evidence": self._snippet(entities, masked, m.start(), m.end()),
        }

    def _parse_time(self, text: str, m: re.Match[str], ref: datetime | None) -> tuple[int, str | None] | None:
        """(number of parts said, ISO resolution or None) for one fault-time match."""
        pos = m.start() + len(m.group("since") or "")
        end = m.end() - len(m.group("suffix") or "")
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
            day, exact, implied_period = self._resolve_date(d, ref)
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
            hour_min = self._clock(c)
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

    @staticmethod
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

    @staticmethod
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
