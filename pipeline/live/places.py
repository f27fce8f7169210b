"""Places of calls: a region string read as (province, city, district), and the sub-area a caller names.

A telephony system fills a call's region as ``南京市江宁区``, ``江宁区``, ``南京市`` or ``江苏省南京市江宁区``;
:func:`parse_place` reads each into a :class:`Place` by the suffixes of Chinese administrative names
(省/自治区, 市/自治州/地区/盟, 区/县/旗/县级市), so they can be compared: the city by its name without ``市``
(``南京`` = ``南京市``), the district by its full name. Which city a bare district belongs to is not
guessed from a gazetteer but learnt from the traffic (:class:`PlaceBook`): once calls came from
``南京市江宁区``, a call from ``江宁区`` is placed there — unless ``江宁区`` was also seen under another city.

:func:`sub_area` picks the most specific named place in what the caller said of where they are (a 小区 or
building over a road, a road over a landmark or area, over a 街道/镇): ``江宁区双龙大道1688号翠屏城`` → ``翠屏城``.

Example:
    >>> parse_place("江苏省南京市江宁区").label
    '南京市江宁区'
    >>> sub_area("百家湖那个金鹰后面的小区")
    '百家湖'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

__all__ = ["Place", "PlaceBook", "parse_place", "place_in", "sub_area"]

_MUNICIPALITIES = "北京|天津|上海|重庆|香港|澳门"
_PROVINCES = (
    "河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾"
)
_AUTONOMOUS = "内蒙古|广西|西藏|宁夏|新疆"
_HAN = r"[\u4e00-\u9fff]"
_MUNICIPALITY_RE = re.compile(rf"(?P<name>{_MUNICIPALITIES})(?:市|特别行政区)?")
_PROVINCE_RE = re.compile(rf"(?P<auto>{_AUTONOMOUS})(?:{_HAN}{{0,6}}?自治区)?|(?P<prov>{_PROVINCES})省?")
# A prefecture: …自治州/地区/盟, a name of 2+ characters before 市 (so 沙市区 stays a district and 南京市区 is
# 南京市), or a bare …州 (杭州西湖区) unless it starts a district (通州区). 城市, 超市 … are not cities.
_NOT_CITY = "".join(f"(?<!{w})" for w in ("城市", "超市", "门市", "夜市", "菜市", "股市", "都市", "集市", "早市", "黑市"))
_CITY_RE = re.compile(
    rf"(?P<pref>{_HAN}{{1,10}}?(?:自治州|地区|盟))|(?P<stem>{_HAN}{{2,6}}?)市{_NOT_CITY}(?![场民面值价长])"
    rf"|(?P<zhou>{_HAN}{{1,4}}?州)(?![市区县])"
)
# A county-level unit: …区 (not 小区, 社区, 景区 …), …县, …旗, or a county-level …市 (昆山市).
_DISTRICT_RE = re.compile(
    rf"{_HAN}{{1,8}}?(?:(?<![小社景校郊矿宅厂务业活公])区|县|旗|市{_NOT_CITY}(?![区县场民面值价长]))"
)
_MAX_REGION = 64


@dataclass(frozen=True)
class Place:
    """Where a call came from. Cities compare by :attr:`city_key` (the name without 市), districts as said.

    Attributes:
        province: ``江苏`` (no suffix) or None.
        city: The city as said (``南京市``, ``杭州``, ``恩施土家族苗族自治州``) or None.
        district: ``江宁区``, ``昆山市``, ``宝应县`` or None.
        raw: The whole (normalised) region when no city or district could be read from it, else None.
    """

    province: str | None = None
    city: str | None = None
    district: str | None = None
    raw: str | None = None

    @cached_property
    def city_key(self) -> str | None:
        return _city_key(self.city) if self.city else None

    @property
    def label(self) -> str:
        """The place as a region string: ``南京市江宁区``, ``江宁区``, ``南京市`` or the raw region."""
        if self.raw is not None:
            return self.raw
        return f"{self.city or ''}{self.district or ''}"

    def __bool__(self) -> bool:
        return bool(self.city or self.district or self.raw)


def _city_key(city: str) -> str:
    return city[:-1] if city.endswith("市") and len(city) > 2 else city


@lru_cache(maxsize=4096)
def parse_place(region: str | None) -> Place:
    """Read a region string into a :class:`Place`; what follows the district (街道, 镇 …) is ignored.

    Example:
        >>> parse_place("南京市江宁区东山街道")
        Place(province=None, city='南京市', district='江宁区', raw=None)
        >>> parse_place("江宁区").district, parse_place("江苏省南京市").city
        ('江宁区', '南京市')
    """
    place, _ = _split_admin(_clean(region))
    return place


def place_in(text: str | None) -> Place:
    """The first city or district named anywhere in ``text`` (``我在江宁区竹山路`` → 江宁区), else an empty Place.

    Example:
        >>> place_in("我住南京市江宁区百家湖花园").label
        '南京市江宁区'
    """
    for piece in _SEPARATOR_RE.split(_clean(text)):
        place, _ = _split_admin(piece)
        if place.raw is None and place:
            return place
    return Place()


def _clean(text: str | None) -> str:
    if not text:
        return ""
    from hotline.core.normalise import normalise_text

    return re.sub(r"\s+", "", normalise_text(str(text)[: _MAX_REGION * 4]))


def _split_admin(s: str) -> tuple[Place, str]:
    """The administrative prefix of ``s`` as a Place, and the rest of ``s``."""
    pos, province, city, district = 0, None, None, None
    m = _MUNICIPALITY_RE.match(s)
    if m:
        province = city = m.group("name")
        pos = m.end()
    else:
        m = _PROVINCE_RE.match(s)
        if m and s[m.end() : m.end() + 1] not in ("市", "州", "区", "县", "路", "街"):  # 吉林市 is a city
            province = m.group("auto") or m.group("prov")
            pos = m.end()
        m = _CITY_RE.match(s, pos)
        if m:
            city = m.group("pref") or m.group("zhou") or f"{m.group('stem')}市"
            pos = m.end()
    m = _DISTRICT_RE.match(s, pos)
    if m:
        district = m.group()
        pos = m.end()
    if city is None and district is None:
        return Place(province=province, raw=s or None), s
    return Place(province=province, city=city, district=district), s[pos:]


class PlaceBook:
    """Which city each district lies in, learnt from the regions seen; fills in what a bare region leaves out.

    Not thread-safe: :class:`~hotline.pipeline.live.incidents.IncidentDetector` calls it under its lock.

    Args:
        max_districts: Most districts remembered (a bound against junk regions); later ones are not learnt.
    """

    def __init__(self, *, max_districts: int = 20_000) -> None:
        self.max_districts = max_districts
        self._cities: dict[str, dict[str, str]] = {}  # district → {city key: the city's longest spelling}
        self._names: dict[str, str] = {}  # city key → the city's longest spelling
        self.version = 0  # bumped on every change, so resolved places can be cached

    def learn(self, place: Place) -> None:
        """Remember ``place``'s city, and that its district lies in that city."""
        if not place.city:
            return
        key = _city_key(place.city)
        if key not in self._names and len(self._names) >= self.max_districts:
            return
        name = max(self._names.get(key, ""), place.city, key=len)
        if self._names.get(key) != name:
            self._names[key] = name
            self.version += 1
        if place.district and self._cities.get(place.district, {}).get(key) != name:
            if place.district not in self._cities and len(self._cities) >= self.max_districts:
                return
            self._cities.setdefault(place.district, {})[key] = name
            self.version += 1

    def cities_of(self, district: str) -> dict[str, str]:
        """``{city key: city}`` of the cities ``district`` was seen in."""
        return dict(self._cities.get(district, {}))

    def resolve(self, place: Place) -> Place:
        """``place`` with what the traffic says about it filled in; anything ambiguous is left as it was.

        A bare district seen in exactly one city gets that city (``江宁区`` → ``南京市江宁区``); a lone
        county-level city seen as a district becomes that district (``昆山市`` of ``苏州市``); a raw region
        that is a known city (``南京``) or a known city and district run together (``南京江宁区``) is read so.
        """
        if place.raw is not None or (place.district and not place.city and place.district not in self._cities):
            place = self._read_run_together(place)
        if place.city and not place.district and place.city in self._cities:
            place = Place(province=place.province, district=place.city)  # 昆山市 alone: the district
        if place.district and not place.city:
            cities = self._cities.get(place.district, {})
            if len(cities) == 1:
                (city,) = cities.values()
                return Place(province=place.province, city=city, district=place.district)
        if place.city:
            place = Place(province=place.province, city=self._names.get(place.city_key or "", place.city),
                          district=place.district)
        return place

    def _read_run_together(self, place: Place) -> Place:
        raw = place.raw or place.district or ""
        if _city_key(raw) in self._names:
            return Place(province=place.province, city=self._names[_city_key(raw)])
        for k in range(2, len(raw) - 1):
            cities = self._cities.get(raw[k:])
            if cities and _city_key(raw[:k]) in cities:
                return Place(province=place.province, city=cities[_city_key(raw[:k])], district=raw[k:])
        return place


# -- sub-area -------------------------------------------------------------------------------------
_UNITS = "号楼|号院|号|栋|幢|座|单元|楼|层|室|户|期|组"
# Where a place name ends: house numbers and units, punctuation and digits, where the caller is relative to
# a place (后面, 附近 …) and small function words. 和, 都, 家 are not here: 和平路, 都市花园, 百家湖.
_SEPARATOR_RE = re.compile(
    rf"\d+(?:{_UNITS})?|[一二三四五六七八九十百零两幺]+(?:{_UNITS})"
    r"|那个|这个|那边|这边|那里|这里|那儿|这儿|那块|这块|附近|旁边|后面|后边|前面|前边|对面|边上|周边|周围|一带|隔壁|"
    r"里面|门口|楼下|楼上|左右|一片|我家|我们|家里|就是|大概|差不多|住在|位于|地址|住址|"
    r"[的在住是了跟及或到从离靠那这个就也还我你他她它们呢吗吧啊呀哦嗯]|[^\u4e00-\u9fffA-Za-z]+"
)
# (rank, suffixes): a more specific kind of place ranks higher (4 an estate or building, 3 a road, 2 a landmark
# or area, 1 a 街道/镇); longer suffixes are tried first (街道 before 街)
_KINDS = (
    (4, "购物中心|写字楼|软件园|产业园|科技园|工业园|小区|花园|家园|公寓|新村|社区|山庄|别墅|华府|公馆|大厦|大楼|广场|"
        "中心|商城|商场|园区|苑|府|庭|城|村|里"),
    (1, "街道|开发区|高新区|新区|镇|乡"),
    (3, "大道|大街|胡同|路|街|巷|弄"),
    (2, "地铁站|火车站|高铁站|码头|车站|机场|医院|学校|大学|学院|中学|小学|公园|市场|菜场|超市|酒店|宾馆|湖|山|桥|湾|港|岛|站|寺|塔"),
)
_RANK = {s: rank for rank, group in _KINDS for s in group.split("|")}
_SUFFIXES = "|".join(sorted(_RANK, key=len, reverse=True))
_COMPONENT_RE = re.compile(rf"[\u4e00-\u9fffA-Za-z]{{2,10}}?(?:{_SUFFIXES})")
_ENDS_RE = re.compile(rf"(?:{_SUFFIXES})$")
_NOT_PLACES = re.compile(r"宽带|网络|网速|手机|信号|电话|光猫|机顶盒|电视|线路|上网|出门|上班|下班|回家|楼道|走廊|房间")


def sub_area(location_text: str | None) -> str | None:
    """The most specific named place in ``location_text`` (the call's location slot value), or None.

    Administrative parts (省, 市, 区, 县) are the region's business and are dropped; house numbers (1688号,
    3栋) end a name. Among the named places left, a 小区/building/商场 ranks over a road, a road over a
    landmark or area (…湖, …站, …医院), that over a 街道/镇, and a name with none of these suffixes
    (``金鹰``) comes last. A name needs two characters before its suffix (网路, 马路, 小区 alone name nothing).
    Ties go to the first said.

    Example:
        >>> sub_area("南京市江宁区东山街道竹山路88号")
        '竹山路'
        >>> sub_area("江宁区") is None
        True
    """
    best: tuple[float, str] | None = None
    for name, rank in _components(_clean(location_text)):
        if best is None or rank > best[0]:
            best = (rank, name)
    return best[1] if best else None


def _components(text: str) -> list[tuple[str, float]]:
    """The named places of ``text`` in order, each with its rank."""
    out: list[tuple[str, float]] = []
    for piece in _SEPARATOR_RE.split(text):
        if len(piece) < 2 or _NOT_PLACES.search(piece):
            continue
        place, rest = _split_admin(piece)
        if place.raw is None:  # 江宁区双龙大道 → 双龙大道; but 北京路, 扬州路 are roads
            if not rest:
                continue
            found = _named(rest)
            out.extend(found if found else _named(piece))
        else:
            out.extend(_named(piece))
    return out


def _named(piece: str) -> list[tuple[str, float]]:
    """``双龙大道翠屏城`` → ``[('双龙大道', 3.0), ('翠屏城', 4.0)]``; a bare name gets 0.5."""
    parts: list[tuple[str, float]] = []
    pos = 0
    while pos < len(piece):
        m = _COMPONENT_RE.match(piece, pos)
        if m is None:
            break
        parts.append((m.group(), _rank(m.group())))
        pos = m.end()
    if pos < len(piece):
        if parts:  # 百家湖 + 花园, 金色花园 + 路口: one name, ranked by its ending when it has one
            name, rank = parts[-1]
            name += piece[pos:]
            parts[-1] = (name, _rank(name) or rank)
        elif len(piece) >= 2 and not _ENDS_RE.search(piece) and len(piece) <= 8:
            parts.append((piece, 0.5))  # a bare name (金鹰, 托乐嘉); a bare suffix (小区, 马路) names nothing
    return parts


def _rank(name: str) -> float:
    end = _ENDS_RE.search(name)
    return float(_RANK[end.group()]) if end else 0.0
