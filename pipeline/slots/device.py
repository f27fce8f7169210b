"""Device slot: the handset (brand and model) or home device (光猫, 机顶盒, 路由器) the fault is on."""

from __future__ import annotations

import re
from typing import Any

from hotline.pipeline.slots._context import Utterance

__all__ = ["extract_device", "is_generic_device"]

_PHONE_BRANDS_SURE = r"华为|红米|redmi|oppo|vivo|iphone|魅族|meizu|huawei|xiaomi|samsung|galaxy|oneplus|realme|iqoo|honor|努比亚"
_PHONE_BRANDS_NEED_MODEL = r"荣耀|小米|苹果|三星(?!期)|一加|真我|中兴|诺基亚|联想"
_MODEL = (
    r"(?:\s?(?:mate|nova|pura|note|find|reno|magic|mix|civi|galaxy|fold|flip|neo|ace|turbo|[pkxsayz])?\s?\d{1,4}[a-z]?"
    # Chinese-numeral models are two-digit (苹果十五, 小米十三): 一加一 is arithmetic, not a phone.
    r"|\s?(?:mate|nova|pura)\s?[一二三四五六七八九十]{1,3}|(?:[一二三四五六七八九]?十[一二三四五六七八九]?)(?![个天年月点号岁块元次])"
    # a letter series said with its number in words: vivo x九零, vivo X一百, 小米 note十二
    r"|\s?(?:note|find|reno|magic|mix|[kxsayz])\s?(?:[零一二三四五六七八九]{2,3}|[一二三四五六七八九]?百|[一二三四五六七八九]?十[一二三四五六七八九]?)"
    r"(?![个天年月点号岁块元次])"
    r"|\s?(?:xs max|xr|xs|x|se))"
    r"(?:\s?(?:pro\+?|max|ultra|plus|mini|lite|se|rs|fe|5g|\+))*"
)
_PHONE_DEVICE_RE = re.compile(
    rf"(?P<sure>{_PHONE_BRANDS_SURE})(?P<model1>{_MODEL})?(?P<suffix1>手机)?"
    rf"|(?P<maybe>{_PHONE_BRANDS_NEED_MODEL})(?:(?P<model2>{_MODEL})(?P<suffix2>手机)?|(?P<suffix3>手机))"
)  # matched on lower-cased text: IGNORECASE and leading look-behinds make `re` try every position
_HOME_BRANDS = r"华为|中兴|烽火|诺基亚贝尔|贝尔|天邑|小米|tp-link|tplink|普联|腾达|水星|网件|华硕|h3c|新华三|创维|九联|长虹|海信"
_HOME_KINDS = r"光猫|宽带猫|魔百和|魔百盒|机顶盒|电视盒子|iptv盒子|无线路由器|路由器|路由"
_HOME_PRODUCTS = frozenset({"魔百和", "魔百盒"})  # operators' own box names, more specific than 机顶盒
_HOME_MODEL = r"[a-z]{1,5}-?\d{2,5}[a-z0-9.\-]*"
_HOME_HINT_RE = re.compile("猫|盒|和|路由")
_HOME_DEVICE_RE = re.compile(
    rf"(?:(?P<brand>{_HOME_BRANDS})的?\s?(?P<model1>{_HOME_MODEL})?\s?)?(?P<kind>{_HOME_KINDS})"
    rf"(?:\s?(?:的)?(?:型号)?(?:是|为)?[:：]?\s?(?P<model2>{_HOME_MODEL}))?"
)


def extract_device(u: Utterance) -> dict[str, Any] | None:
    """``{"value", "evidence"}`` for the phone or home device named, a model number preferred, or None."""
    norm = u.norm
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
        named = m.group("kind") in _HOME_PRODUCTS  # 魔百和 names the box, as a model would
        candidates.append((1 if model or named else 0, m.start(), m.end(), brand + m.group("kind") + model))
    if not candidates:
        return None
    _, start, end, value = max(candidates, key=lambda c: (c[0], -c[1], c[2]))  # a tie: the longer (华为的路由器)
    return {"value": value, "evidence": u.snippet(start, end)}


# What names only a kind of device: the home kinds but the operators' product names, and phone brands alone.
_BARE_KINDS = frozenset(_HOME_KINDS.split("|")) - _HOME_PRODUCTS
_BARE_BRANDS = frozenset(re.sub(r"\(\?![^)]*\)", "", f"{_PHONE_BRANDS_SURE}|{_PHONE_BRANDS_NEED_MODEL}").split("|"))


def is_generic_device(value: str) -> bool:
    """Whether a device value names only a kind (机顶盒, 路由器, 华为手机), no product or model (魔百和, 华为Mate60)."""
    v = value.strip().lower()
    return v in _BARE_KINDS or v.removesuffix("手机") in _BARE_BRANDS
