"""Tests for pipeline.escalation.EscalationDetector."""

from __future__ import annotations

import time

import pytest

from hotline.core.errors import InvalidInputError
from hotline.pipeline.escalation import EscalationDetector


@pytest.fixture(scope="module")
def det() -> EscalationDetector:
    d = EscalationDetector()
    d.warm_up()
    return d


def _reasons(det: EscalationDetector, text: str) -> list[tuple[str, str]]:
    return [(r["type"], r["match"]) for r in det.detect(text)["reasons"]]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("再不解决我就去工信部投诉!", "工信部"),
        ("我要向工业和信息化部反映", "工业和信息化部"),
        ("我去通信管理局告你们", "通信管理局"),
        ("我要打12300投诉你们", "12300"),
        ("幺二三零零", "幺二三零零"),
        ("我已经打了10080", "10080"),
        ("我要打幺零零八零", "幺零零八零"),
        ("打一零零八零投诉", "一零零八零"),
        ("我去消协投诉", "消协"),
        ("打12315", "12315"),
        ("3·15晚会见", "3·15"),
        ("我要去315投诉", "315"),
        ("三一五的时候曝光过你们", "三一五"),
        ("我要打市长热线", "市长热线"),
        ("我去打12345", "12345"),
        ("12345热线见", "12345"),
    ],
)
def test_regulator_is_high(det: EscalationDetector, text: str, match: str) -> None:
    flags = det.detect(text)
    assert flags["level"] == "high" and flags["escalate"] is True
    assert ("regulator", match) in _reasons(det, text)


@pytest.mark.parametrize(
    ("text", "kind", "match"),
    [
        ("我要找记者", "media", "记者"),
        ("我要找媒体曝光你们", "media", "媒体"),
        ("我要上网曝光", "media", "上网曝光"),
        ("我要发抖音让大家看看", "media", "发抖音"),
        ("我去发微博", "media", "发微博"),
        ("电视台会来的", "media", "电视台"),
        ("我要起诉你们", "legal", "起诉"),
        ("我已经找了律师", "legal", "律师"),
        ("法院见", "legal", "法院"),
        ("跟你们打官司", "legal", "打官司"),
    ],
)
def test_media_and_legal_are_high(det: EscalationDetector, text: str, kind: str, match: str) -> None:
    flags = det.detect(text)
    assert flags["level"] == "high" and flags["escalate"]
    assert (kind, match) in _reasons(det, text)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("你们这帮傻逼", "傻逼"),
        ("SB客服", "sb"),
        ("你妈的", "你妈的"),
        ("他妈的又断网", "他妈的"),
        ("一群废物", "废物"),
        ("王八蛋", "王八蛋"),
        ("神经病啊", "神经病"),
        ("卧槽又没信号", "卧槽"),
    ],
)
def test_abuse_is_watch(det: EscalationDetector, text: str, match: str) -> None:
    flags = det.detect(text)
    assert flags == {"escalate": False, "level": "watch", "reasons": [{"type": "abuse", "match": match}]}


@pytest.mark.parametrize("text", ["气死我了", "太过分了", "你们就是坑人", "什么破信号", "骗子公司", "垃圾公司", "忍无可忍", "真的!!"])
def test_one_anger_marker_is_watch(det: EscalationDetector, text: str) -> None:
    flags = det.detect(text)
    assert flags["level"] == "watch" and not flags["escalate"]
    assert [r["type"] for r in flags["reasons"]] == ["anger"]


@pytest.mark.parametrize(
    "text",
    ["什么破网络,气死我了", "太过分了！！！", "我已经投诉了好几次了!!", "你们这是什么玩意???", "坑人的骗子公司"],
)
def test_two_anger_markers_are_high(det: EscalationDetector, text: str) -> None:
    flags = det.detect(text)
    assert flags["level"] == "high" and flags["escalate"]
    assert [r["type"] for r in flags["reasons"]] == ["anger", "anger"]


def test_repeated_exclamations_count_once(det: EscalationDetector) -> None:
    flags = det.detect("快点!!! 我等了很久!!")
    assert flags["level"] == "watch"
    assert flags["reasons"] == [{"type": "anger", "match": "!!!"}]


@pytest.mark.parametrize(
    ("text", "match"),
    [("我要销户", "销户"), ("我要携号转网", "携号转网"), ("换运营商算了", "换运营商"), ("转到联通算了", "转到联通")],
)
def test_churn_is_watch(det: EscalationDetector, text: str, match: str) -> None:
    assert det.detect(text) == {"escalate": False, "level": "watch", "reasons": [{"type": "churn", "match": match}]}


@pytest.mark.parametrize(
    "text",
    [
        "网速有点慢",
        "我想查一下话费",
        "我的手机号是13812300123",  # 12300 inside a phone number
        "号码138 12300 123",  # ... also with spaces
        "号码是一三八一二三零零一二三",  # ... also spoken
        "13153151234",  # 315 inside a number
        "我买了315元的套餐",  # an amount
        "套餐315块",
        "我家住315室",  # an address
        "文三路315号",
        "1.315",
        "密码是12345",  # 12345 without a hotline word
        "订单号123150",
        "多媒体短信发不了",  # MMS, not media
        "抖音卡得要死",  # the app, not a threat to post
        "发微博发不出去",
        "我刷微博很卡",
        "他妈妈的手机坏了",
        "操作一下",
        "usb接口松了",
        "告诉你们一声",
        "打10086没人接",
        "",
    ],
)
def test_no_false_positives(det: EscalationDetector, text: str) -> None:
    assert det.detect(text) == {"escalate": False, "level": "none", "reasons": []}


@pytest.mark.parametrize(
    "text",
    ["我不会去工信部投诉的,就是问问", "我不想找记者", "我不打算起诉", "我不想转网,只想便宜点", "没打算去消协"],
)
def test_negated_threats_are_ignored(det: EscalationDetector, text: str) -> None:
    assert det.detect(text)["level"] == "none"


@pytest.mark.parametrize("text", ["再不给我弄好我就打工信不投诉", "我要去工信布告你们"])
def test_asr_slips_of_the_regulator_are_high(det: EscalationDetector, text: str) -> None:
    assert det.detect(text)["level"] == "high"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("朋友说可以打12300，12300是干嘛的？", "12300"),  # every mention of what is asked about
        ("网上说可以找那个 幺二三零零 那是干啥的", "幺二三零零"),
        ("工信部是什么部门啊", "工信部"),
    ],
)
def test_asking_what_a_regulator_is_is_no_threat(det: EscalationDetector, text: str, match: str) -> None:
    out = det.detect(text)
    assert (out["escalate"], out["level"]) == (False, "watch")
    assert {r["type"] for r in out["reasons"]} == {"inquiry"} and out["reasons"][0]["match"] == match


@pytest.mark.parametrize("text", ["12300是干什么的我不管，再不修好我就去工信部", "你们再拖，我就打12300，看看它是管什么的"])
def test_a_threat_beside_a_question_stays_high(det: EscalationDetector, text: str) -> None:
    assert det.detect(text)["level"] == "high"


@pytest.mark.parametrize(
    "text",
    [
        "你们是不是想让我去工信部投诉",  # a question, not a negation
        "我本来不想投诉,但是你们再不解决我就去工信部",  # negation in another clause
        "如果不解决,我就去工信部",
    ],
)
def test_negation_does_not_leak(det: EscalationDetector, text: str) -> None:
    assert det.detect(text)["level"] == "high"


def test_input_is_normalised(det: EscalationDetector) -> None:
    assert _reasons(det, "我要去工業和信息化部") == [("regulator", "工业和信息化部")]
    assert _reasons(det, "打１２３００") == [("regulator", "12300")]
    assert _reasons(det, "ＳＢ") == [("abuse", "sb")]


def test_reasons_in_text_order_without_duplicates(det: EscalationDetector) -> None:
    flags = det.detect("垃圾公司!!我要找记者,再找记者,然后去工信部,不行就销户")
    assert _reasons(det, "垃圾公司!!我要找记者,再找记者,然后去工信部,不行就销户") == [
        ("anger", "垃圾公司"),
        ("anger", "!!"),
        ("media", "记者"),
        ("regulator", "工信部"),
        ("churn", "销户"),
    ]
    assert flags["level"] == "high"


def test_high_anger_setting() -> None:
    assert EscalationDetector(high_anger=3).detect("什么破网络,气死我了")["level"] == "watch"
    with pytest.raises(InvalidInputError, match="high_anger must be >= 1, got 0"):
        EscalationDetector(high_anger=0).warm_up()


def test_run_equals_one_by_one(det: EscalationDetector) -> None:
    texts = ["再不解决我就去工信部投诉!", "网速有点慢", "你们这帮傻逼", "气死了!!", "我要销户"]
    out = det.run(texts)
    assert out == {"flags": [det.detect(t) for t in texts]}
    assert [f["level"] for f in out["flags"]] == ["high", "none", "watch", "high", "watch"]


def test_run_rejects_a_bare_string(det: EscalationDetector) -> None:
    with pytest.raises(InvalidInputError, match="list of str"):
        det.run("工信部")  # type: ignore[arg-type]


def test_speed_per_utterance(det: EscalationDetector) -> None:
    text = "你好,我的手机号是13812345678,从昨天晚上开始一直没有信号,打了好几次10086都没人解决,太过分了"
    n = 1000
    t0 = time.perf_counter()
    for _ in range(n):
        det.detect(text)
    assert (time.perf_counter() - t0) / n * 1000 < 1.0
