"""Location slot: the caller's address, from a province down to the room, or a place after a home/work cue.

A chain of address parts (省市区, roads, named places such as 万达广场 / 人民医院, house and room numbers),
then what pins the spot down further as said: ``万达广场B座那个写字楼里面``, ``人民医院门口``,
``幸福小区3号楼地下室``. Named-place words, city names said without 市 and the words that may follow a place
are in the lexicon.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._lexicon import alternation, words

__all__ = ["extract_location"]

_NAME_STOP = "我你您他她它们在住是的了到去回往从离近于靠说这那呢吗吧啊呀哦嗯就也都还要想给让被把跟与及或很有没不个司"
# 都 is a stop word as an adverb (我们都在家) but part of 都市 / 都会 in names (东方都市花园).
_NAME = rf"(?:[^\W\d_a-zA-Z{_NAME_STOP}]|都(?=市|会))"
_POI_NAME = rf"(?:[^\W\d_a-zA-Z{_NAME_STOP}省市区县镇乡]|都(?=市|会))"
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
# Districts named …山区 (深圳市南山区), although 山区 alone means "mountain area" (我们这边山区没信号).
_MOUNTAIN_DISTRICTS = "南山|中山|宝山|金山|萧山|西山|黄山|石景山|房山|铜山|雨山|花山|钟山|平山|明山|立山|千山"
_ROAD_NOT = "".join(
    f"(?<!{w})"
    for w in ("线路", "网路", "电路", "道路", "马路", "套路", "思路", "出路", "门路", "一路", "走路", "迷路", "带路",
              "短路", "回路", "铁路", "半路", "上路", "活路", "来路")
)  # fmt: skip
_LOC_COMPONENTS = [
    rf"(?:北京|天津|上海|重庆)(?!时间)市?|(?:{_PROVINCES})(?:省|(?![路街道]))|(?:内蒙古|广西|西藏|宁夏|新疆)(?:自治区)?",
    rf"{_ADMIN_NAME}{{1,4}}?市{_CITY_NOT}(?![场民面值价长])",
    rf"{_ADMIN_NAME}{{1,4}}?区{_DISTRICT_NOT}",
    rf"(?:{_MOUNTAIN_DISTRICTS})区",
    rf"{_ADMIN_NAME}{{1,4}}?(?:县|旗|街道)",
    rf"{_NAME}{{2,5}}?镇(?<!城镇)(?<!乡镇)",
    rf"{_NAME}{{2,5}}?乡(?<!家乡)(?<!老乡)(?<!下乡)(?<!城乡)(?<!故乡)(?<!他乡)",
    rf"{_NAME}{{2,5}}?(?:大道|大街|胡同|路{_ROAD_NOT}(?![由线费])|街(?<!上街)(?<!逛街)|巷|弄(?![好坏完了得不成一下]))(?:[东南西北中]段|{_LOC_NUM}段)?(?:{_LOC_NUM}号院?)?",
    rf"{_NAME}{{2,8}}?(?:小区|花园|家园|公寓|大厦|广场|新村|新城|社区|大楼|写字楼|商城|园区|苑|御府|华府|公馆|雅居)"
    rf"(?:小区|社区)?",
    rf"{_NAME}{{2,4}}?村(?<!农村)(?<!乡村)",
]
# Only inside a chain: a district right after its city (深圳市南山区, although 山区 alone means "mountain area"),
# and a road named …道 (高新南一道, although 知道/频道/渠道 are not roads).
_LOC_DISTRICT_AFTER_CITY = rf"(?<=市){_ADMIN_NAME}{{1,2}}?区"
_DAO_NOT = "".join(f"(?<!{w})" for w in ("知道", "频道", "通道", "渠道", "味道", "难道", "轨道", "报道", "街道", "管道", "车道"))
_LOC_DAO_ROAD = rf"{_NAME}{{2,5}}?道{_DAO_NOT}(?:{_LOC_NUM}号)?"
_LOC_NUMBERED = rf"{_LOC_NUM}(?:号院|号楼|号|栋|幢|座|单元|楼|层|室|户|弄|组|期|区)"
# Inside a chain: a part of a complex (北区, 东区) and a named complex with its phase (融创智谷三期), and a bare
# 小区 / 社区 right after a road (学院路小区).
_LOC_INSIDE = rf"[东南西北中]区|{_POI_NAME}{{2,6}}?{_LOC_NUM}期|(?<=[路街道])(?:小区|社区)"
# A crossing: 双龙大道和胜太路路口 (a second road after 和/与/跟, then the corner itself).
_LOC_CROSSING = rf"(?:和|与|跟){_NAME}{{2,5}}?(?:大道|大街|路{_ROAD_NOT}|街)(?:路口|交叉口|十字路口|口)?"
# Only right after a house number: a named place (…号东部软件园, …号环球中心) - alone these words are too common.
_LOC_AFTER_NUMBER = (
    rf"(?<=号){_NAME}{{2,8}}?(?:软件园|产业园|科技园|工业园|园区|中心|大厦|广场|花园|家园|公寓|小区|苑|商场|商城|城|村|"
    rf"酒店|医院|学校|大楼|写字楼)(?:小区|社区)?"
)
# A bare room number after 单元/栋/幢/楼/座: 2单元301, 5栋1202房, 2单元三零一.
_LOC_ROOM = (
    r"(?:(?<=[元栋幢楼座])|(?<=[元栋幢楼座]\s))(?:\d{3,4}(?![\d号元块个次年月日天点分秒%])|[零一二三四五六七八九幺]{3,4}(?![零一二三四五六七八九十幺两]))"
    r"(?:室|房)?"
)
# Between two parts of one address, where the first is said from a landmark: 韶山中路东塘那边的砂子塘新村
# (a short unsuffixed name, a position and 的, then another part).
_LOC_VIA = rf"{_POI_NAME}{{0,4}}?(?:那边|这边|旁边|后面|对面|附近|边上)的"
# Conjunctions and adverbs that a named place never starts with: 万一医院打过来 is "in case the hospital calls".
_POI_NOT_FIRST = "(?!万一|如果|要是|或者|然后|因为|所以|但是|可是|而且|还是)"
# Every location contains one of these; texts without any skip the (slower) location regex.
_LOC_SUFFIX_CHARS = "省市区县旗道镇乡路街巷弄同园寓厦场村苑楼城"
_LOC_MAX_LEAD = 9  # a chain starts at most this many characters before its first hint


@functools.cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], frozenset[str]]:
    """(hint, address chain, 在+generic place, bare city names), built from the lexicon once."""
    poi, cities = alternation(words("location", "poi")), alternation(words("location", "cities"))
    fillers, positions = alternation(words("location", "fillers")), alternation(words("location", "positions"))
    poi_chars = "".join(sorted({w[-1] for w in words("location", "poi")}))
    # A named place first (浙江大学 before the province 浙江), its name within one admin level (not 南山区科技园);
    # a city without 市 last (杭州 西湖区).
    first = "|".join([rf"{_POI_NOT_FIRST}{_POI_NAME}{{2,8}}?(?:{poi})", *_LOC_COMPONENTS, rf"(?:{cities})(?!时间)市?"])
    # Inside a chain: 那个写字楼, 宿舍楼 (no name needed), then where in it: 里面, 门口, 地下室.
    # 宾虹路的紫金湾小区: a 的 between two parts of one address
    cont = "|".join([_LOC_DISTRICT_AFTER_CITY, rf"(?:的|{_LOC_VIA})?(?:{first})", _LOC_CROSSING, _LOC_NUMBERED,
                     _LOC_INSIDE, _LOC_AFTER_NUMBER, _LOC_ROOM, _LOC_DAO_ROAD,
                     rf"(?:{fillers})?{_POI_NAME}{{0,6}}?(?:{poi})", rf"(?:{fillers})?(?:{positions})"])
    hint_chars = re.escape("".join(sorted(set(_LOC_SUFFIX_CHARS + poi_chars))))
    provinces = rf"北京|天津|上海|重庆|内蒙古|广西|西藏|宁夏|新疆|{_PROVINCES}"
    hint = re.compile(rf"[{hint_chars}]|{provinces}|{cities}")
    # Look-ahead: a suffix character within 8 name characters (or a province) - lets `re` skip positions fast.
    guarded_cities = alternation(words("location", "cities"), guard=True)
    ahead = rf"(?=(?:{_NAME}|都){{0,8}}[{hint_chars}]|{provinces}|{guarded_cities})"
    chain = re.compile(rf"{ahead}(?:{first})(?:\s?(?:{cont}))*")
    generic = re.compile(
        rf"(?:在|到)(?:{fillers})?(?P<name>(?:{alternation(words('location', 'generic_poi'))})(?:{positions})?)"
    )
    return hint, chain, generic, frozenset(words("location", "cities"))


# "我家在滨江那边", "公司在杭州": a place name after a home/work cue, cut before the first non-place word.
_CUE_LOCATION_RE = re.compile(
    rf"(?:家|公司|单位|店|厂|住址|地址|宿舍|住)(?:里|里面)?(?:就|也|是|现在)?(?:在|住在|位于|住|是)(?P<name>{_NAME}{{2,10}})"
)
# "地址岳麓区桐梓坡西路…", "装机地址是…": a label said before the address.
_ADDRESS_LABEL_RE = re.compile(r"[\u4e00-\u9fff]{0,2}?(?:地址|住址)(?:是|在|为|就是)?[:：\s]*")  # 装机地址, 家庭住址
_CUE_NAME_END = re.compile(
    "那边|这边|附近|一带|那里|这里|那块|这块|那儿|这儿|宽带|网络|手机|信号|电话|一直|最近|今天|昨天|现在|老是|总是|经常|突然|出差|上班"
)


def extract_location(u: Utterance) -> dict[str, Any] | None:
    """``{"value", "evidence"}`` for the longest address chain in the text, else a place after a cue, else None.

    Cues: 家在/公司在/住在 + a place name (``我家在滨江那边`` → 滨江), 在 + a generic place (``在地铁站里面``).
    A city name alone (杭州) counts only right after 在/住/到.
    """
    norm = u.norm
    hint_re, chain_re, generic_re, cities = _patterns()
    best: re.Match[str] | None = None
    hint = hint_re.search(norm)
    for m in chain_re.finditer(norm, max(0, hint.start() - _LOC_MAX_LEAD) if hint else len(norm)):
        if m.group().strip() in cities and norm[m.start() - 1 : m.start()] not in ("在", "住", "到"):
            continue  # 杭州移动: a bare city name is a place only when said as where one is
        if best is None or len(m.group()) > len(best.group()):
            best = m
    if best is not None:
        value = best.group().strip()
        if value.startswith("家") and norm[best.start() - 1 : best.start()] in ("我", "们"):
            value = value[1:]  # 我家阳光小区: 家 belongs to 我家
        label = _ADDRESS_LABEL_RE.match(value)
        if label and len(value) - label.end() >= 2:
            value = value[label.end() :]  # 地址岳麓区…: the word 地址 is no part of the place
        return {"value": value, "evidence": u.snippet(best.start(), best.end())}
    for m in _CUE_LOCATION_RE.finditer(norm):
        name = m.group("name")
        cut = _CUE_NAME_END.search(name)
        if cut:
            name = name[: cut.start()]
        if len(name) >= 2:
            start = m.start("name")
            return {"value": name, "evidence": u.snippet(start, start + len(name))}
    g = generic_re.search(norm)
    if g is not None:
        return {"value": g.group("name"), "evidence": u.snippet(g.start("name"), g.end("name"))}
    return None
