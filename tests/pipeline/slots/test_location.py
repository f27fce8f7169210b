"""Tests for pipeline.slots.location: addresses and places after a home/work cue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


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
        ("装机地址是南山区科技园南区高新南七道深大花园3栋1408", "南山区科技园南区高新南七道深大花园3栋1408"),  # 南山区 is no 山区
        ("在鼓楼 湖南路狮子桥那边吃饭", "湖南路"),  # a road named after a province
        ("就在我公司 天府软件园E区五栋 那个写字楼里面 打个一两分钟就断", "天府软件园E区五栋 那个写字楼里面"),
        ("我在双龙大道和胜太路路口这边", "双龙大道和胜太路路口"),  # a crossing, to its corner
        ("地址是婺城区宾虹路的紫金湾小区6幢702", "婺城区宾虹路的紫金湾小区6幢702"),  # 的 inside one address
        ("我们在科兴科学园C栋十二楼", "科兴科学园C栋十二楼"),
        ("就在文三路那边", "文三路"),
        # a part said from a landmark (…那边的…), a room number after a pause, more complex names
        ("雨花区韶山中路东塘那边的砂子塘新村4栋。", "雨花区韶山中路东塘那边的砂子塘新村4栋"),
        ("我在人民路旁边的阳光小区", "人民路旁边的阳光小区"),
        ("桐梓坡西路 桐溪苑二期 八栋一单元 六零二", "桐梓坡西路 桐溪苑二期 八栋一单元 六零二"),
        ("就是那个 江东北路的金陵御府 十二栋 二十三楼", "江东北路的金陵御府 十二栋 二十三楼"),
        ("装机地址是南开区华苑新城", "南开区华苑新城"),
        ("整个百家湖商圈都这样", "百家湖商圈"),
        ("西湖区学院路小区3幢402", "西湖区学院路小区3幢402"),  # a bare 小区 right after a road
        ("洪山区鲁磨路融创智谷三期", "洪山区鲁磨路融创智谷三期"),  # a named complex with its phase
        ("工业园区星湖街金鸡湖花园北区十六幢", "工业园区星湖街金鸡湖花园北区十六幢"),
        ("鄞州区天童南路万达广场旁边的东方都市花园五号楼", "鄞州区天童南路万达广场旁边的东方都市花园五号楼"),  # 都市
        ("盘龙区北京路和白塔路交叉口往东那个小区的地下二层车库", "盘龙区北京路和白塔路交叉口往东那个小区的地下二层车库"),
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
        ("装机地址滨江区江南大道88号金盛大厦", "滨江区江南大道88号金盛大厦"),  # the label is no place
        ("住址：西湖区天目山路177号", "西湖区天目山路177号"),
        ("我住在重庆市渝北区金开大道阳光小区2栋3单元三零一", "重庆市渝北区金开大道阳光小区2栋3单元三零一"),
        ("我住在阳光小区5栋1202房,光猫红灯", "阳光小区5栋1202房"),
        # a district right after its city even when it ends in 山区; roads named …道; 号院
        ("我在深圳市南山区科技园南区高新南一道9号上班,信号很差", "深圳市南山区科技园南区高新南一道9号"),
        ("大连市中山区人民路5号宽带断了", "大连市中山区人民路5号"),
        ("家住北京市朝阳区望京街道阜通东大街6号院3号楼", "北京市朝阳区望京街道阜通东大街6号院3号楼"),
        # complete as said: what follows a place pins it down (那个写字楼里面, 门口, 地下室)
        ("我在万达广场B座那个写字楼里面信号很差", "万达广场B座那个写字楼里面"),
        ("在人民医院门口没信号", "人民医院门口"),
        ("住在幸福小区3号楼地下室没信号", "幸福小区3号楼地下室"),
        ("西湖区文三路那个电信大楼旁边", "西湖区文三路那个电信大楼旁边"),
        ("杭州东站候车室信号差", "杭州东站候车室"),
        ("浙江大学紫金港校区宿舍楼里面", "浙江大学紫金港校区宿舍楼里面"),  # 浙江大学, not the province
        ("我家在滨江区江南大道星光大道商场附近", "滨江区江南大道星光大道商场附近"),
        ("我在杭州 西湖区 文三路", "杭州 西湖区 文三路"),  # a city said without 市
        ("我人在杭州", "杭州"),
        ("我在地铁站里面打不了电话", "地铁站里面"),  # a generic place after 在
        # ASR: no punctuation
        ("喂我在万达广场B座那个写字楼里面从前天开始就没信号了", "万达广场B座那个写字楼里面"),
    ],
)
def test_location(slot: Callable[..., Any], text: str, value: str) -> None:
    assert slot(text, "location")["value"] == value


@pytest.mark.parametrize(
    "text",
    [
        "不在服务区",
        "宽带弄好了吗",  # 弄 as a verb is no lane
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
        "杭州移动的客服说",  # a city name not said as where one is
        "手机显示不在服务区",
        "我是大学生",
        "他那边的路由器坏了",  # a position and 的 join two parts of an address, not make one
        "我家后面的小区也断网了",
        "万一医院打过来怎么办",
        "我们小区停电了",
        "我们都在家里",
    ],
)
def test_no_location(slot: Callable[..., Any], text: str) -> None:
    assert slot(text, "location") is None


# -- personal numbers inside an address: the value is raw (for the dispatch copy), ``masked`` is what is shown --
@pytest.mark.parametrize(
    ("text", "value", "masked"),
    [
        ("我家在幸福小区13812345678号", "幸福小区13812345678号", "幸福小区138****5678号"),
        ("我住在文三路13812345678号", "文三路13812345678号", "文三路138****5678号"),
        ("我家在幸福小区一三八一二三四五六七八号楼", "幸福小区一三八一二三四五六七八号楼", "幸福小区138****5678号楼"),
        ("地址是阳光花园05718765432号", "阳光花园05718765432号", "阳光花园0571***5432号"),  # a landline
        ("我住在阳光小区110101199003071234号", "阳光小区110101199003071234号", "阳光小区110***********1234号"),
    ],
)
def test_a_number_inside_an_address_is_masked_for_display(
    slot: Callable[..., Any], text: str, value: str, masked: str
) -> None:
    found = slot(text, "location")
    assert (found["value"], found["masked"]) == (value, masked)
    assert "13812345678" not in found["evidence"]


def test_an_address_without_personal_numbers_has_no_masked_form(slot: Callable[..., Any]) -> None:
    found = slot("我住在浙江省杭州市西湖区文三路478号华星小区3幢2单元501室", "location")
    assert "masked" not in found
