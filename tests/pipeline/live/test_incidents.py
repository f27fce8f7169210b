"""Mass-incident detection: threshold, one incident per burst, sliding window, votes that move; fault families,
places (district, city-only, bare district), long-standing complaints, the draft notice."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hotline.core.errors import InvalidInputError, NotFoundError
from hotline.core.results import Incident
from hotline.pipeline.live.incidents import (
    FaultFamily,
    IncidentDetector,
    Onset,
    call_onset,
    load_fault_families,
)

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
CODE = "broadband.cannot_connect"
REGION = "杭州市西湖区"


def _feed(det: IncidentDetector, n: int, *, start: int = 0, code: str = CODE, region: str = REGION,
          t0: datetime = T0, step_min: float = 1.0) -> list[Incident]:
    raised = []
    for i in range(start, start + n):
        inc = det.observe(f"c{i}", code, region, t0 + timedelta(minutes=step_min * (i - start)))
        if inc is not None:
            raised.append(inc)
    return raised


def test_below_threshold_raises_nothing():
    det = IncidentDetector(threshold=10, window_min=30)
    assert _feed(det, 9) == []
    assert det.all() == [] and det.active(T0 + timedelta(minutes=9)) == []


def test_threshold_raises_exactly_one():
    det = IncidentDetector(threshold=10, window_min=30)
    raised = _feed(det, 10)
    assert len(raised) == 1
    inc = raised[0]
    assert inc.code == CODE and inc.region == REGION and inc.type == "mass_incident"
    assert inc.call_ids == [f"c{i}" for i in range(10)] and inc.status == "open"
    assert inc.first == T0.isoformat() and inc.last == (T0 + timedelta(minutes=9)).isoformat()


def test_later_calls_join_the_open_incident():
    det = IncidentDetector(threshold=10, window_min=30)
    raised = _feed(det, 15)
    assert len(raised) == 1
    (inc,) = det.all()
    assert inc.call_ids == [f"c{i}" for i in range(15)]
    assert inc.count == 15 and inc.status is None  # all() without a time: no status
    assert inc.last == (T0 + timedelta(minutes=14)).isoformat()
    assert len(det.active(T0 + timedelta(minutes=20))) == 1


@pytest.mark.parametrize("other", [{"region": "宁波市"}, {"code": "data.slow"}])
def test_other_region_or_code_does_not_count(other):
    det = IncidentDetector(threshold=10, window_min=30)
    _feed(det, 9)
    assert _feed(det, 5, start=100, t0=T0 + timedelta(minutes=9), **other) == []
    assert det.all() == []


def test_calls_outside_the_window_do_not_count():
    det = IncidentDetector(threshold=10, window_min=30)
    assert _feed(det, 10, step_min=4) == []  # 10 calls over 36 minutes: never 10 inside 30 minutes


def test_inquiries_and_abstained_calls_never_count():
    det = IncidentDetector(threshold=3, window_min=30)
    for i in range(5):
        assert det.observe(f"q{i}", "inquiry.billing_info", REGION, T0) is None
        assert det.observe(f"a{i}", None, REGION, T0) is None
    assert det.all() == []


def test_a_call_counts_once_and_reclassification_moves_its_vote():
    det = IncidentDetector(threshold=3, window_min=30)
    for _ in range(5):
        assert det.observe("same", CODE, REGION, T0) is None
    assert det.observe("c1", CODE, REGION, T0) is None
    # "same" is re-classified: its vote leaves CODE, so c2 makes only 2 of 3
    assert det.observe("same", "data.slow", REGION, T0) is None
    assert det.observe("c2", CODE, REGION, T0) is None
    inc = det.observe("c3", CODE, REGION, T0)
    assert inc is not None and inc.call_ids == ["c1", "c2", "c3"]


def test_after_a_quiet_window_a_new_burst_raises_a_new_incident():
    det = IncidentDetector(threshold=10, window_min=30)
    assert len(_feed(det, 10)) == 1
    later = T0 + timedelta(minutes=9 + 31)
    assert det.active(later) == []
    assert det.all(later)[0].status == "closed"
    raised = _feed(det, 10, start=100, t0=later)
    assert len(raised) == 1 and raised[0].call_ids[0] == "c100"
    assert len(det.all()) == 2


def test_bad_arguments_are_named():
    with pytest.raises(InvalidInputError, match="threshold"):
        IncidentDetector(threshold=0)
    with pytest.raises(InvalidInputError, match="at must carry a UTC offset"):
        IncidentDetector().observe("c", CODE, REGION, "2024-05-01T09:00:00")


# -- fault families and places -------------------------------------------------------------------
NJ = "南京市江宁区"
OUTAGE_TEXTS = {  # what callers of one mobile-network outage say, by the leaf they land on
    "coverage.outage": "突然手机一点信号都没有了，周围邻居也都没信号",
    "voice.cannot_call": "今天电话一直打不出去，一拨就断",
    "voice.cannot_receive": "别人打我电话都说不在服务区",
    "voice.call_drop": "刚才打电话打着打着就断了",
    "voice.poor_quality": "打电话声音断断续续听不清",
    "data.cannot_connect": "手机流量开着突然上不了网了",
    "data.slow": "半小时前开始手机上网特别慢",
    "data.5g": "5G信号突然没有了，一直跳4G",
    "sms.cannot_send": "短信发不出去，一直发送失败",
    "sms.cannot_receive": "验证码收不到",
}


def _outage_call(det: IncidentDetector, i: int, code: str, region: str, minutes: float, *, location=None,
                 fault_time=None, text=None) -> Incident | None:
    at = T0 + timedelta(minutes=minutes)
    onset = call_onset(fault_time, text if text is not None else OUTAGE_TEXTS.get(code, ""), started_at=at)
    return det.observe(f"o{i}", code, region, at, location=location, onset=onset)


def test_one_outage_with_mixed_symptoms_raises_one_incident_and_decoys_stay_out():
    det = IncidentDetector()  # the defaults: 10 calls in 30 minutes
    codes = ["coverage.outage", "voice.cannot_call", "data.cannot_connect", "voice.cannot_receive", "data.slow",
             "sms.cannot_send", "coverage.outage", "voice.call_drop", "data.5g", "voice.poor_quality",
             "sms.cannot_receive", "coverage.outage"]
    regions = [NJ, "江苏省南京市江宁区", NJ, "江宁区", "南京市江宁区东山街道", NJ]
    places = ["百家湖那个金鹰后面的小区", "百家湖", None, "双龙大道1688号翠屏城", "百家湖花园对面", None]
    decoys = [  # (call, code, region, minute, location, fault_time, text)
        ("weak", "coverage.weak_signal", NJ, 3, "百家湖", None, "我家信号一直不好，好几个月了"),
        ("slowbb", "broadband.slow", NJ, 6, None, "从上个月开始", "宽带网速从上个月开始就一直很慢"),
        ("slowdata", "data.slow", NJ, 9, "百家湖", None, "手机上网一直很慢，都半年多了"),
        ("gulou", "coverage.outage", "南京市鼓楼区", 12, None, None, "突然没信号了"),
        ("bill", "billing.unexpected_charge", NJ, 15, "百家湖", None, "这个月话费突然多扣了五十块"),
        ("later", "coverage.outage", NJ, 24 + 180, "百家湖", None, "突然没信号了"),
    ]
    raised = []
    for i, code in enumerate(codes):
        minute = i * 25 / 11  # 12 calls within 25 minutes
        raised.append(_outage_call(det, i, code, regions[i % len(regions)], minute, location=places[i % len(places)]))
        for name, dcode, dregion, dminute, loc, ft, text in decoys:
            if minute <= dminute < minute + 25 / 11 and dminute < 60:
                at = T0 + timedelta(minutes=dminute)
                det.observe(name, dcode, dregion, at, location=loc, onset=call_onset(ft, text, started_at=at))
    name, dcode, dregion, dminute, loc, ft, text = decoys[-1]
    at = T0 + timedelta(minutes=dminute)
    assert det.observe(name, dcode, dregion, at, location=loc, onset=call_onset(ft, text, started_at=at)) is None
    assert [r is not None for r in raised].count(True) == 1 and raised[9] is not None  # the 10th call raises it
    (inc,) = det.all()
    assert inc.call_ids == [f"o{i}" for i in range(12)] and inc.count == 12
    assert inc.family == "mobile_network" and inc.code == "coverage.outage"  # its most frequent leaf
    assert inc.region == NJ and inc.sub_area == "百家湖"
    assert inc.first == T0.isoformat() and inc.last == (T0 + timedelta(minutes=25)).isoformat()
    assert det.active(T0 + timedelta(minutes=40))[0].id == inc.id and det.active(at) == []


def test_no_single_leaf_reaches_the_threshold_yet_the_family_does():
    det = IncidentDetector(threshold=10)
    codes = list(OUTAGE_TEXTS)  # ten calls, ten different leaves
    raised = [_outage_call(det, i, c, NJ, i) for i, c in enumerate(codes)]
    assert raised[-1] is not None and raised[-1].family == "mobile_network"
    assert raised[-1].code == "coverage.outage"  # ties go to the family's first leaf


def test_families_do_not_mix_in_one_area():
    det = IncidentDetector(threshold=3)
    for i, code in enumerate(["broadband.cannot_connect", "data.cannot_connect", "broadband.iptv",
                              "voice.cannot_call"]):
        det.observe(f"c{i}", code, NJ, T0 + timedelta(minutes=i))
    assert det.all() == []
    inc = det.observe("c9", "broadband.slow", NJ, T0 + timedelta(minutes=5))
    assert inc.family == "home_broadband" and inc.call_ids == ["c0", "c2", "c9"]
    assert inc.code == "broadband.cannot_connect"


@pytest.mark.parametrize(("label", "probs", "vote"), [
    # an agent's "area fault" tips a broadband call's top leaf to a mobile one; the broadband family holds the mass
    ("coverage.outage", {"coverage.outage": 0.45, "broadband.cannot_connect": 0.35, "broadband.iptv": 0.2},
     "broadband.cannot_connect"),
    ("coverage.outage", {"coverage.outage": 0.45, "voice.cannot_call": 0.3, "broadband.iptv": 0.25},
     "coverage.outage"),  # its own family holds the majority
    ("coverage.outage", {"coverage.outage": 0.5, "broadband.cannot_connect": 0.5}, "coverage.outage"),  # no majority
    ("billing.unexpected_charge", {"billing.unexpected_charge": 0.4, "data.cannot_connect": 0.35, "data.slow": 0.25},
     "data.cannot_connect"),  # a network fault by the mass, whatever leaf is shown
    ("inquiry.business_info", {"inquiry.business_info": 0.3, "broadband.cannot_connect": 0.7},
     "inquiry.business_info"),  # an inquiry never votes (observe withdraws it)
    ("broadband.slow", {}, "broadband.slow"),
])
def test_a_call_votes_with_the_family_that_holds_most_of_its_distribution(label, probs, vote):
    assert IncidentDetector().vote_code(label, probs) == vote


@pytest.mark.parametrize("code", ["billing.unexpected_charge", "coverage.weak_signal", "sms.spam", "roaming.unusable",
                                  "broadband.install_delay", "inquiry.billing_info"])
def test_leaves_in_no_family_never_count(code):
    det = IncidentDetector(threshold=2)
    for i in range(4):
        assert det.observe(f"c{i}", code, NJ, T0) is None
    assert det.all() == [] and det.family_of(code) is None


def test_a_call_that_turns_out_long_standing_leaves_the_count():
    det = IncidentDetector(threshold=3)
    det.observe("c1", "broadband.slow", NJ, T0, onset="recent")
    det.observe("c2", "broadband.slow", NJ, T0, onset=Onset.UNKNOWN)
    assert det.observe("c1", "broadband.slow", NJ, T0, onset=Onset.CHRONIC) is None  # "好几个月了"
    assert det.observe("c3", "broadband.slow", NJ, T0) is None  # 2 of 3
    assert det.observe("c4", "broadband.slow", NJ, T0).call_ids == ["c2", "c3", "c4"]
    with pytest.raises(InvalidInputError, match="onset must be one of"):
        det.observe("c5", "broadband.slow", NJ, T0, onset="sometimes")


def test_city_only_calls_join_the_district_when_unambiguous():
    det = IncidentDetector(threshold=10)
    regions = [NJ, "南京市", NJ, NJ, "南京市", NJ, NJ, NJ, NJ, NJ]
    raised = [det.observe(f"c{i}", "coverage.outage", r, T0 + timedelta(minutes=i)) for i, r in enumerate(regions)]
    assert raised[-1] is not None and raised[-1].call_ids == [f"c{i}" for i in range(10)]
    assert raised[-1].region == NJ
    assert det.observe("late", "data.cannot_connect", "南京", T0 + timedelta(minutes=12)) is None
    assert det.observe("bare", "voice.cannot_call", "江宁区", T0 + timedelta(minutes=13)) is None
    (inc,) = det.all()
    assert inc.call_ids[-2:] == ["late", "bare"]
    assert det.observe("other", "coverage.outage", "苏州市", T0 + timedelta(minutes=14)) is None
    assert "other" not in det.all()[0].call_ids


def test_city_only_calls_do_not_join_when_two_districts_are_hit():
    det = IncidentDetector(threshold=10)
    for i in range(6):
        det.observe(f"j{i}", "coverage.outage", NJ, T0 + timedelta(minutes=i))
        det.observe(f"g{i}", "coverage.outage", "南京市鼓楼区", T0 + timedelta(minutes=i))
    for i in range(5):
        assert det.observe(f"n{i}", "coverage.outage", "南京市", T0 + timedelta(minutes=7 + i)) is None
    assert det.all() == []  # two districts never join, and the city-only calls could be either's


def test_a_city_only_call_is_placed_by_the_district_the_caller_names():
    det = IncidentDetector(threshold=3)
    det.observe("j", "coverage.outage", NJ, T0)
    det.observe("g", "coverage.outage", "南京市鼓楼区", T0)
    det.observe("n1", "coverage.outage", "南京市", T0, location="江宁区百家湖")
    inc = det.observe("n2", "coverage.outage", "南京市", T0, location="我在江宁区竹山路")
    assert inc is not None and inc.call_ids == ["j", "n1", "n2"] and inc.region == NJ
    assert inc.sub_area == "百家湖"  # 百家湖 and 竹山路 once each: the first said


def test_a_bare_district_joins_only_when_its_city_is_unambiguous():
    det = IncidentDetector(threshold=3)
    det.observe("n1", "coverage.outage", "南京市鼓楼区", T0)
    det.observe("x1", "coverage.outage", "徐州市鼓楼区", T0)
    det.observe("b1", "coverage.outage", "鼓楼区", T0)
    det.observe("b2", "coverage.outage", "鼓楼区", T0)
    assert det.observe("n2", "coverage.outage", "南京市鼓楼区", T0) is None  # the bare ones could be 徐州's
    inc = det.observe("b3", "coverage.outage", "鼓楼区", T0)
    assert inc is not None and inc.call_ids == ["b1", "b2", "b3"] and inc.region == "鼓楼区"


def test_draft_notice_is_a_valid_notices_request_that_covers_the_calls():
    from hotline.core.settings import Settings
    from hotline.pipeline.live.notices import NoticeBoard
    from hotline.serve.live_schemas import live_request_models

    det = IncidentDetector(threshold=3)
    for i, region in enumerate([NJ, "江宁区", NJ]):
        inc = det.observe(f"c{i}", "broadband.cannot_connect", region, T0 + timedelta(minutes=i),
                          location="百家湖那个金鹰后面的小区")
    draft = inc.draft_notice
    assert draft["kind"] == "outage" and draft["regions"] == [NJ, "江宁区"]
    assert draft["services"] == ["broadband"] and "broadband.iptv" in draft["categories"]
    assert draft["starts_at"] == T0.isoformat() and draft["ends_at"] == (T0 + timedelta(hours=4)).isoformat()
    assert "百家湖" in draft["title"] and "南京市江宁区百家湖一带" in draft["script"] and "5月1日13:00" in draft["script"]
    request = live_request_models(Settings()).notice.model_validate(draft)  # the POST /v1/notices schema
    board = NoticeBoard()
    notice = board.add(request.model_dump(mode="json"))
    during = T0 + timedelta(hours=1)
    for region in (NJ, "江宁区", "江苏省南京市江宁区"):
        assert [n.id for n in board.match(region, "broadband.slow", during)] == [notice.id]
    assert board.match("南京市鼓楼区", "broadband.slow", during) == []


def test_get_and_covering():
    det = IncidentDetector(threshold=2)
    det.observe("c1", "coverage.outage", NJ, T0)
    inc = det.observe("c2", "voice.cannot_call", "江宁区", T0)
    assert det.get(inc.id, T0).status == "open" and det.get(inc.id).call_ids == ["c1", "c2"]
    with pytest.raises(NotFoundError, match="inc-999"):
        det.get("inc-999")
    later = T0 + timedelta(minutes=5)
    assert [i.id for i in det.covering("c1", None, NJ, later)] == [inc.id]  # a member, whatever it is now
    assert [i.id for i in det.covering("new", "data.slow", "江宁区", later)] == [inc.id]  # same family and place
    assert det.covering("new", "broadband.slow", NJ, later) == []
    assert det.covering("new", "data.slow", "南京市鼓楼区", later) == []


# -- onset ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fault_time, text, expected", [
    ("从上个月开始", "从上个月开始就一直信号不好", Onset.CHRONIC),
    ("三个月前开始", "三个月前开始就这样", Onset.CHRONIC),
    ("去年", "去年就这样了", Onset.CHRONIC),
    (None, "我家宽带网速一直很慢，好几个月了", Onset.CHRONIC),
    (None, "长期信号不好", Onset.CHRONIC),
    (None, "从装宽带开始就一直慢", Onset.CHRONIC),
    (None, "每天晚上网速都特别慢", Onset.CHRONIC),
    ("今天", "今天打电话才想起来，这网好几个月都这样", Onset.CHRONIC),  # the 今天 is not when it began
    ("从昨天晚上开始", "我家宽带从昨天晚上开始就连不上了，光猫一直亮红灯", Onset.RECENT),
    ("今天早上八点开始", "今天早上八点开始打不了电话", Onset.RECENT),
    ("十分钟前", "十分钟前突然没网了", Onset.RECENT),
    ("这两天", "这两天一直断断续续", Onset.RECENT),
    (None, "信号一直挺好的，刚才突然没了", Onset.RECENT),
    (None, "今天网速一直很慢", Onset.RECENT),
    (None, "我家宽带连不上了，光猫亮红灯", Onset.UNKNOWN),
    (None, "热线等了好久了才接通，电话老是打不出去", Onset.UNKNOWN),  # waiting on the line is not the fault
    (None, "", Onset.UNKNOWN),
])
def test_onset(fault_time, text, expected):
    assert call_onset(fault_time, text, started_at=T0) is expected


def test_onset_threshold_is_a_parameter():
    assert call_onset("三天前开始", "", started_at=T0) is Onset.RECENT
    assert call_onset("三天前开始", "", started_at=T0, chronic_after=timedelta(days=2)) is Onset.CHRONIC


# -- the shipped families --------------------------------------------------------------------------
def test_shipped_families_cover_the_network_leaves_once():
    from hotline.core.taxonomy import default_taxonomy

    tax = default_taxonomy()
    families = {f.name: f for f in load_fault_families()}
    assert set(families) == {"mobile_network", "home_broadband"}
    assert set(families["mobile_network"].codes) == {
        "coverage.outage", "voice.cannot_call", "voice.cannot_receive", "voice.call_drop", "voice.poor_quality",
        "data.cannot_connect", "data.slow", "data.5g", "sms.cannot_send", "sms.cannot_receive"}
    assert set(families["home_broadband"].codes) == {"broadband.cannot_connect", "broadband.slow", "broadband.iptv"}
    codes = [c for f in families.values() for c in f.codes]
    assert len(codes) == len(set(codes)) and all(c in tax for c in codes)
    for f in families.values():
        assert f.display_name and set(f.services) <= set(tax.services)
        assert f.script.format(area="某区", until="5月1日13:00")


@pytest.mark.parametrize("change, message", [
    ({"codes": ["voice.nope"]}, "'voice.nope' is not a complaint leaf"),
    ({"codes": ["inquiry.billing_info"]}, "not a complaint leaf"),
    ({"services": ["telex"]}, "services must be service codes"),
    ({"script": "您好，{place}故障"}, r"only \{area\} and \{until\}"),
    ({"name": "again", "codes": ["broadband.slow"]}, "already in family 'home_broadband'"),
])
def test_bad_families_file_is_named(tmp_path, change, message):
    import json

    from hotline.core.errors import ArtifactError
    from hotline.core.resources import data_path

    raw = json.loads(data_path("kb", "fault_families.json").read_text(encoding="utf-8"))
    raw["families"].append({**raw["families"][1], "name": "extra", "codes": ["coverage.weak_signal"], **change})
    path = tmp_path / "families.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ArtifactError, match=message):
        load_fault_families(path)


def test_a_detector_can_be_given_its_own_families():
    fam = FaultFamily(name="tv", display_name="电视故障", codes=("broadband.iptv",), services=("broadband",),
                      script="{area}电视故障，预计{until}恢复")
    det = IncidentDetector(threshold=2, families=[fam])
    det.observe("c1", "broadband.cannot_connect", NJ, T0)
    assert det.observe("c2", "broadband.cannot_connect", NJ, T0) is None
    det.observe("c3", "broadband.iptv", NJ, T0)
    assert det.observe("c4", "broadband.iptv", NJ, T0).family == "tv"
