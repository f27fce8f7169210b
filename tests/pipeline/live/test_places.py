"""Places: region strings read as (province, city, district), districts' cities learnt, sub-areas named."""

from __future__ import annotations

import pytest

from hotline.pipeline.live.places import Place, PlaceBook, parse_place, place_in, sub_area


@pytest.mark.parametrize("region, province, city, district", [
    ("南京市江宁区", None, "南京市", "江宁区"),
    ("江宁区", None, None, "江宁区"),
    ("南京市", None, "南京市", None),
    ("江苏省南京市江宁区", "江苏", "南京市", "江宁区"),
    ("江苏南京市江宁区东山街道", "江苏", "南京市", "江宁区"),  # what follows the district is not the region
    (" 南京市 江宁区 ", None, "南京市", "江宁区"),
    ("杭州西湖区", None, "杭州", "西湖区"),
    ("北京市朝阳区", "北京", "北京", "朝阳区"),
    ("上海市浦东新区", "上海", "上海", "浦东新区"),
    ("苏州市昆山市", None, "苏州市", "昆山市"),  # a county-level city is the district
    ("荆州市沙市区", None, "荆州市", "沙市区"),
    ("南京市区", None, "南京市", None),
    ("吉林省吉林市船营区", "吉林", "吉林市", "船营区"),
    ("吉林市", None, "吉林市", None),
    ("新疆维吾尔自治区乌鲁木齐市天山区", "新疆", "乌鲁木齐市", "天山区"),
    ("恩施土家族苗族自治州恩施市", None, "恩施土家族苗族自治州", "恩施市"),
    ("通州区", None, None, "通州区"),
])
def test_regions_are_read_by_their_administrative_suffixes(region, province, city, district):
    place = parse_place(region)
    assert (place.province, place.city, place.district, place.raw) == (province, city, district, None)


def test_what_cannot_be_read_stays_raw_and_compares_as_said():
    assert parse_place("江苏省") == Place(province="江苏", raw="江苏省")
    assert parse_place("南京").raw == "南京"
    assert not parse_place("") and not parse_place(None)


def test_cities_compare_without_their_suffix():
    assert parse_place("南京市江宁区").city_key == parse_place("南京").raw == "南京"
    assert parse_place("杭州市西湖区").city_key == parse_place("杭州西湖区").city_key == "杭州"
    assert parse_place("江苏省南京市江宁区").label == parse_place("南京市江宁区").label == "南京市江宁区"


def test_the_book_places_a_bare_district_in_the_one_city_it_was_seen_in():
    book = PlaceBook()
    for region in ("南京市江宁区", "苏州市昆山市", "南京市鼓楼区"):
        book.learn(parse_place(region))
    assert book.resolve(parse_place("江宁区")) == parse_place("南京市江宁区")
    assert book.resolve(parse_place("昆山市")) == parse_place("苏州市昆山市")  # the county-level city
    assert book.resolve(parse_place("南京")).label == "南京市"
    assert book.resolve(parse_place("南京江宁区")) == parse_place("南京市江宁区")  # run together
    assert book.resolve(parse_place("雨花台区")) == parse_place("雨花台区")  # never seen: left as it is
    book.learn(parse_place("徐州市鼓楼区"))
    assert book.resolve(parse_place("鼓楼区")) == parse_place("鼓楼区")  # two cities have one: ambiguous
    assert set(book.cities_of("鼓楼区")) == {"南京", "徐州"}


def test_the_book_is_bounded():
    book = PlaceBook(max_districts=2)
    for region in ("南京市江宁区", "南京市鼓楼区", "南京市玄武区"):
        book.learn(parse_place(region))
    assert book.cities_of("玄武区") == {} and book.cities_of("江宁区") == {"南京": "南京市"}


@pytest.mark.parametrize("said, expected", [
    ("百家湖那个金鹰后面的小区", "百家湖"),  # an area over a reference point; an unnamed 小区 names nothing
    ("我在百家湖那个金鹰后面的小区", "百家湖"),
    ("江宁区双龙大道1688号翠屏城3栋2单元", "翠屏城"),  # the estate over the road; numbers end a name
    ("南京市江宁区东山街道竹山路88号", "竹山路"),  # the road over the 街道
    ("西湖区文三路100号", "文三路"),
    ("百家湖花园", "百家湖花园"),
    ("万达广场旁边的小区", "万达广场"),
    ("金鹰世界附近", "金鹰世界"),  # a bare name when nothing better is said
    ("北京路25号", "北京路"),  # a road named after a city is a road
    ("北京西路", "北京西路"),
    ("和平路", "和平路"),
    ("都市花园", "都市花园"),
    ("南京南站旁边", "南京南站"),
    ("江宁区", None),
    ("小区", None),
    ("", None),
    (None, None),
])
def test_sub_area_picks_the_most_specific_named_place(said, expected):
    assert sub_area(said) == expected


def test_place_in_skips_an_address_label():
    assert place_in("地址雨花区韶山中路100号").district == "雨花区"
    assert place_in("我家住址是江宁区竹山路").district == "江宁区"
