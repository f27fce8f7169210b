"""Tests for pipeline.slots.SlotExtractor: phone, location, device and fault time."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

import pytest

from hotline.core.errors import InvalidInputError
from hotline.pipeline.slots import SlotExtractor

CST = timezone(timedelta(hours=8))
REF = datetime(2026, 11, 20, 10, 0, tzinfo=CST)  # a Friday, 10:00 Beijing time


@pytest.fixture(scope="module")
def ext() -> SlotExtractor:
    e = SlotExtractor()
    e.warm_up()
    return e


def _slot(ext: SlotExtractor, text: str, name: str, ref: datetime | None = REF):
    return ext.extract(text, reference_time=ref)[name]


def test_full_example(ext: SlotExtractor) -> None:
    slots = ext.extract(
        "我家在杭州市西湖区文三路100号,华为Mate60昨天晚上八点开始没信号,回电幺三八一二三四五六七八",
        reference_time=REF,
    )
    assert set(slots) == {"phone", "location", "device", "fault_time"}
    assert slots["phone"]["value"] == "13812345678"
    assert slots["phone"]["masked"] == "138****5678"
    assert slots["location"]["value"] == "杭州市西湖区文三路100号"
    assert slots["device"]["value"] == "华为Mate60"
    assert slots["fault_time"]["value"] == "昨天晚上八点开始"
    assert slots["fault_time"]["resolved"] == "2026-11-19T20:00:00+08:00"


def test_nothing_found(ext: SlotExtractor) -> None:
    assert ext.extract("你好,我想咨询一下", reference_time=REF) == {
        "phone": None,
        "location": None,
        "device": None,
        "fault_time": None,
    }


# -- phone --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("我的号码是13812345678", "13812345678"),
        ("回电138 1234 5678", "13812345678"),
        ("号码138-1234-5678", "13812345678"),
        ("幺三八 一二三四 五六七八", "13812345678"),
        ("打我电话一五九零零零零两两两两", "15900002222"),
        ("号码13812345678,不对,是13912345678", "13912345678"),  # a correction wins
        ("我的13812345678,我老婆的13912345678", "13812345678"),  # otherwise the first one
    ],
)
def test_phone(ext: SlotExtractor, text: str, value: str) -> None:
    phone = _slot(ext, text, "phone")
    assert phone["value"] == value
    assert phone["masked"] == value[:3] + "****" + value[-4:]


def test_phone_evidence_is_masked(ext: SlotExtractor) -> None:
    phone = _slot(ext, "你好,我的手机号是13812345678,从昨天开始没信号,身份证110101199003071234", "phone")
    assert "138****5678" in phone["evidence"]
    assert "13812345678" not in phone["evidence"]
    assert "我的手机号是" in phone["evidence"]


def test_no_phone_for_service_numbers(ext: SlotExtractor) -> None:
    assert _slot(ext, "我打了10086和12300", "phone") is None


# -- location -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("我住在浙江省杭州市西湖区文三路478号华星小区3幢2单元501室,光猫坏了", "浙江省杭州市西湖区文三路478号华星小区3幢2单元501室"),
        ("地址是杭州市滨江区长河街道", "杭州市滨江区长河街道"),
        ("在北京市朝阳区建国路88号", "北京市朝阳区建国路88号"),
        ("我在阳光花园小区3栋", "阳光花园小区3栋"),
        ("我家阳光小区3栋", "阳光小区3栋"),  # 家 belongs to 我家
        ("我们家住在金色家园", "金色家园"),
        ("万达广场这边信号不好", "万达广场"),
        ("就在文三路那边", "文三路"),
        ("老家是湖南省邵阳县", "湖南省邵阳县"),
        ("我们村是王家村", "王家村"),
        ("我家在滨江那边,宽带老断", "滨江"),
        ("公司在杭州宽带断了", "杭州"),
        ("家住萧山,网很慢", "萧山"),
        # full addresses: named place after the house number, road sections, bare room numbers, 都 in names
        ("地址是杭州市西湖区文三路90号东部软件园3幢", "杭州市西湖区文三路90号东部软件园3幢"),
        ("我住在朝阳区望京西路阳光小区5栋2单元301", "朝阳区望京西路阳光小区5栋2单元301"),
        ("我家在成都市武侯区天府大道北段1700号环球中心E1区", "成都市武侯区天府大道北段1700号环球中心E1区"),
        ("我住在南京市鼓楼区中山北路88号金润大厦12楼1203室", "南京市鼓楼区中山北路88号金润大厦12楼1203室"),
        ("我家在成都市锦江区人民南路三段17号", "成都市锦江区人民南路三段17号"),
        ("我家在广州市花都区新华街道", "广州市花都区新华街道"),
        ("地址是西安市雁塔区科技路48号创业广场B座1808", "西安市雁塔区科技路48号创业广场B座1808"),
        ("我住在重庆市渝北区金开大道阳光小区2栋3单元三零一", "重庆市渝北区金开大道阳光小区2栋3单元三零一"),
        ("我住在阳光小区5栋1202房,光猫红灯", "阳光小区5栋1202房"),
        # a district right after its city even when it ends in 山区; roads named …道; 号院
        ("我在深圳市南山区科技园南区高新南一道9号上班,信号很差", "深圳市南山区科技园南区高新南一道9号"),
        ("大连市中山区人民路5号宽带断了", "大连市中山区人民路5号"),
        ("家住北京市朝阳区望京街道阜通东大街6号院3号楼", "北京市朝阳区望京街道阜通东大街6号院3号楼"),
    ],
)
def test_location(ext: SlotExtractor, text: str, value: str) -> None:
    assert _slot(ext, text, "location")["value"] == value


@pytest.mark.parametrize(
    "text",
    [
        "不在服务区",
        "线路有问题",
        "信号不好",
        "我去超市买东西",
        "城市里信号都好",
        "小米路由器坏了",
        "家里网络不好",
        "我们这边山区没信号",
        "一路上信号都不好",
        "你们的市场部",
        "北京时间晚上八点",
        "11月20号开始的",
        "我在路上信号不好",
        "宽带路由器坏了",
        "我们都在家",
        "客服中心说明天来修",
        "这个频道看不了",
        "我不知道怎么办",
        "你们的渠道太少",
    ],
)
def test_no_location(ext: SlotExtractor, text: str) -> None:
    assert _slot(ext, text, "location") is None


# -- device -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("我的华为Mate60没信号", "华为Mate60"),
        ("华为mate 60 pro打不了电话", "华为mate 60 pro"),
        ("我的iPhone 15 Pro Max打不了电话", "iPhone 15 Pro Max"),
        ("苹果15信号差", "苹果15"),
        ("苹果十五信号差", "苹果十五"),
        ("荣耀90手机", "荣耀90"),
        ("小米13发热", "小米13"),
        ("红米K70", "红米K70"),
        ("OPPO Reno10 上不了网", "OPPO Reno10"),
        ("我的vivo X100", "vivo X100"),
        ("三星S23打电话有杂音", "三星S23"),
        ("一加12", "一加12"),
        ("魅族手机", "魅族手机"),
        ("华为手机没信号", "华为手机"),
        ("小米路由器AX3000不行了", "小米路由器AX3000"),
        ("中兴的光猫型号是F663N", "中兴光猫F663N"),
        ("光猫型号HG8245H一直闪红灯", "光猫HG8245H"),
        ("光猫一直闪红灯", "光猫"),
        ("机顶盒没信号", "机顶盒"),
    ],
)
def test_device(ext: SlotExtractor, text: str, value: str) -> None:
    assert _slot(ext, text, "device")["value"] == value


@pytest.mark.parametrize(
    "text", ["我想吃苹果", "王者荣耀很卡", "喝小米粥", "三星期前开始的", "一加一等于二", "猫生病了", "我的手机没信号"]
)
def test_no_device(ext: SlotExtractor, text: str) -> None:
    assert _slot(ext, text, "device") is None


def test_device_with_model_preferred(ext: SlotExtractor) -> None:
    assert _slot(ext, "光猫坏了,手机是华为Mate60", "device")["value"] == "华为Mate60"


# -- fault time ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value", "resolved"),
    [
        ("昨天晚上八点开始没信号", "昨天晚上八点开始", "2026-11-19T20:00:00+08:00"),
        ("昨晚八点半断的", "昨晚八点半", "2026-11-19T20:30:00+08:00"),
        ("今天早上7点开始", "今天早上7点开始", "2026-11-20T07:00:00+08:00"),
        ("前天", "前天", "2026-11-18"),
        ("大前天", "大前天", "2026-11-17"),
        ("前天夜里两点", "前天夜里两点", "2026-11-19T02:00:00+08:00"),
        ("三天前", "三天前", "2026-11-17"),
        ("两个小时前", "两个小时前", "2026-11-20T08:00:00+08:00"),
        ("半个月前", "半个月前", "2026-11-05"),
        ("三星期前开始的", "三星期前开始", "2026-10-30"),
        ("上周三", "上周三", "2026-11-11"),
        ("周五", "周五", "2026-11-20"),
        ("周六", "周六", "2026-11-14"),  # a bare weekday later than today means last week
        ("上个礼拜天晚上", "上个礼拜天晚上", "2026-11-15"),
        ("从上周开始", "从上周开始", "2026-11-09"),
        ("上个月", "上个月", "2026-10-01"),
        ("最近一个礼拜都不行", "最近一个礼拜", "2026-11-13"),
        ("这两天", "这两天", "2026-11-18"),
        ("11月3号", "11月3号", "2026-11-03"),
        ("11月20号下午三点", "11月20号下午三点", "2026-11-20T15:00:00+08:00"),
        ("十二月五号", "十二月五号", "2025-12-05"),  # a future date means last year
        ("2026年11月3日开始的", "2026年11月3日开始", "2026-11-03"),
        ("二〇二五年三月一日", "二〇二五年三月一日", "2025-03-01"),
        ("20号那天", "20号", "2026-11-20"),
        ("下午3点半", "下午3点半", "2026-11-19T15:30:00+08:00"),  # later than now today → yesterday
        ("凌晨两点", "凌晨两点", "2026-11-20T02:00:00+08:00"),
        ("8:30左右", "8:30左右", "2026-11-20T08:30:00+08:00"),
        ("中午一点", "中午一点", "2026-11-19T13:00:00+08:00"),
        ("最近老断网", "最近", None),
        ("前几天", "前几天", None),
        ("晚上", "晚上", None),
    ],
)
def test_fault_time(ext: SlotExtractor, text: str, value: str, resolved: str | None) -> None:
    slot = _slot(ext, text, "fault_time")
    assert (slot["value"], slot["resolved"]) == (value, resolved)


@pytest.mark.parametrize(
    "text",
    ["有三点要求", "快一点", "文三路20号", "3号线地铁站", "10号楼", "一周有七天", "我的号码13812345678", "五十块"],
)
def test_no_fault_time(ext: SlotExtractor, text: str) -> None:
    assert _slot(ext, text, "fault_time") is None


def test_more_specific_time_wins(ext: SlotExtractor) -> None:
    slot = _slot(ext, "我今天打电话是因为昨天晚上八点开始断网", "fault_time")
    assert slot["value"] == "昨天晚上八点开始"


def test_without_reference_time_relative_is_unresolved(ext: SlotExtractor) -> None:
    assert _slot(ext, "昨天晚上八点", "fault_time", ref=None) == {
        "value": "昨天晚上八点",
        "resolved": None,
        "evidence": "昨天晚上八点",
    }
    # absolute with a year resolves without a reference
    assert _slot(ext, "2026年11月3日晚上8点", "fault_time", ref=None)["resolved"] == "2026-11-03T20:00:00"


def test_naive_reference_time_stays_naive(ext: SlotExtractor) -> None:
    slot = _slot(ext, "昨天晚上八点", "fault_time", ref=datetime(2026, 11, 20, 10, 0))
    assert slot["resolved"] == "2026-11-19T20:00:00"


def test_other_timezone_preserved(ext: SlotExtractor) -> None:
    utc_ref = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
    assert _slot(ext, "昨天晚上八点", "fault_time", ref=utc_ref)["resolved"] == "2026-11-19T20:00:00+00:00"


def test_resolved_dates_parse(ext: SlotExtractor) -> None:
    for text in ["三天前", "上周三", "11月3号"]:
        date.fromisoformat(_slot(ext, text, "fault_time")["resolved"])


def test_bad_reference_time(ext: SlotExtractor) -> None:
    with pytest.raises(InvalidInputError, match="reference_time must be a datetime or None, got str"):
        ext.extract("昨天", reference_time="2026-11-20")  # type: ignore[arg-type]


def test_traditional_and_full_width_input(ext: SlotExtractor) -> None:
    slots = ext.extract("我家在杭州市西湖區文三路１００號，昨天晚上開始斷網", reference_time=REF)
    assert slots["location"]["value"] == "杭州市西湖区文三路100号"
    assert slots["fault_time"]["value"] == "昨天晚上开始"


# -- stage --------------------------------------------------------------------------------------
def test_run_equals_one_by_one(ext: SlotExtractor) -> None:
    texts = ["华为Mate60昨天晚上八点开始没信号", "回电13812345678", "你好", "我家在杭州市西湖区"]
    out = ext.run(texts, reference_time=REF)
    assert out == {"slots": [ext.extract(t, reference_time=REF) for t in texts]}


def test_run_rejects_a_bare_string(ext: SlotExtractor) -> None:
    with pytest.raises(InvalidInputError, match="list of str"):
        ext.run("昨天")  # type: ignore[arg-type]


def test_speed_per_utterance(ext: SlotExtractor) -> None:
    text = "你好,我的手机号是13812345678,从昨天晚上开始一直没有信号,打了好几次10086都没人解决,太过分了"
    n = 500
    t0 = time.perf_counter()
    for _ in range(n):
        ext.extract(text, reference_time=REF)
    assert (time.perf_counter() - t0) / n * 1000 < 1.0
