"""Tests for pipeline.slots.call (through SlotExtractor.extract_call): both speakers' turns, read-backs,
confirmations, corrections, other people's and scammers' numbers."""

from __future__ import annotations

from datetime import datetime

import pytest

from hotline.core.errors import InvalidInputError
from hotline.pipeline.slots import CallSlotTracker, SlotExtractor, SlotStatus

C, A = "customer", "agent"


def _call(ext: SlotExtractor, ref: datetime, *turns: tuple[str, str]) -> dict:
    return ext.extract_call(list(turns), reference_time=ref)


# -- read-backs and replies ------------------------------------------------------------------------
def test_a_matching_read_back_confirms_the_callers_value(ext, ref):
    out = _call(ext, ref, (C, "我的号码是13812345678"), (A, "您的号码是一三八一二三四五六七八对吗"), (C, "对"))
    phone = out["phone"]
    assert (phone["value"], phone["masked"], phone["status"], phone["evidence_turn"]) == (
        "13812345678", "138****5678", "confirmed", 0)


def test_a_yes_adopts_a_differing_read_back(ext, ref):
    # the caller's digits were misheard (…687); the agent reads back …678 and the caller agrees
    out = _call(ext, ref, (C, "我的号码是幺三八幺二三四五六八七"), (A, "好的您的号码是13812345678对吗"), (C, "对的"))
    assert (out["phone"]["value"], out["phone"]["status"], out["phone"]["evidence_turn"]) == (
        "13812345678", "confirmed", 1)


def test_without_a_reply_the_callers_value_stays(ext, ref):
    out = _call(ext, ref, (C, "我家宽带连不上了,号码13900001111"), (A, "好的,回访号码记为13812345678对吗"))
    assert (out["phone"]["value"], out["phone"]["status"], out["phone"]["evidence_turn"]) == (
        "13900001111", "stated", 0)


def test_a_no_keeps_the_callers_value(ext, ref):
    out = _call(ext, ref, (C, "我的号码是13812345678"), (A, "您的号码是13812345687对吗"), (C, "不对"))
    assert out["phone"]["value"] == "13812345678"


@pytest.mark.parametrize(
    "reply",
    [
        "是5678不是5687",
        "不是5687,是5678",
        "最后两位是78",
        "尾号是5678",
        "不对,是13812345678",  # the whole number again
        "后四位是五六七八",
    ],
)
def test_a_correction_after_the_read_back_wins(ext, ref, reply):
    out = _call(ext, ref, (C, "我的号码是13812345687"), (A, "您的号码是13812345687对吗"), (C, reply))
    phone = out["phone"]
    assert (phone["value"], phone["masked"], phone["status"], phone["evidence_turn"]) == (
        "13812345678", "138****5678", "corrected", 2)
    assert "13812345678" not in phone["evidence"]


@pytest.mark.parametrize("reply", ["不对,最后一位是8", "不对不对最后一位是八"])  # ASR: no punctuation, spoken
def test_the_last_digit_corrected(ext, ref, reply):
    out = _call(ext, ref, (C, "我的号码是13812345679"), (A, "您的号码是13812345679对吗"), (C, reply))
    assert (out["phone"]["value"], out["phone"]["status"], out["phone"]["evidence_turn"]) == (
        "13812345678", "corrected", 2)


@pytest.mark.parametrize("reply", ["不对，是5678", "说错了 应该是五六七八", "不对不对，最后两位是7、8"])
def test_a_no_with_the_last_digits_corrects_them(ext, ref, reply):
    out = _call(ext, ref, (C, "幺三八 幺二三四 五六八七"), (A, "跟您核对一下13812345687对吧"), (C, reply),
                (A, "好的，13812345678"), (C, "嗯，你们尽快"))
    # corrected in turn 2, then read back as corrected
    assert (out["phone"]["value"], out["phone"]["status"], out["phone"]["evidence_turn"]) == (
        "13812345678", "confirmed", 2)
    assert _call(ext, ref, (C, "幺三八 幺二三四 五六八七"), (A, "跟您核对一下13812345687对吧"),
                 (C, reply))["phone"]["status"] == "corrected"


def test_a_no_with_other_digits_leaves_the_phone(ext, ref):
    # an amount, or digits with no number read back just before, are no correction of the phone
    for turns in ([(C, "我的号码是13812345687"), (A, "您是充了100块对吗"), (C, "不对，是2000块")],
                  [(C, "我的号码是13812345687"), (A, "好的"), (C, "不对，是1208")]):
        out = _call(ext, ref, *turns)
        assert (out["phone"]["value"], out["phone"]["status"]) == ("13812345687", "stated"), turns


def test_digits_answering_an_id_question_do_not_edit_the_phone(ext, ref):
    out = _call(ext, ref, (C, "号码是幺五九 二二三四 五五六六"), (A, "麻烦报一下身份证的后四位"), (C, "后四位是零零幺X"),
                (A, "机主姓名和证件后四位请提供一下"), (C, "李强 后四位一二三四"))
    assert (out["phone"]["value"], out["phone"]["status"]) == ("15922345566", "stated")
    said = _call(ext, ref, (C, "我的号码是15922345566"), (C, "身份证后四位是1234"))
    assert said["phone"]["value"] == "15922345566"


def test_which_number_to_look_up_asks_for_the_callers_own(ext, ref):
    out = _call(ext, ref, (A, "可以 您要办哪个号码"), (C, "就我这个 一五九 二二三四 五五六六"))
    assert out["phone"]["value"] == "15922345566" and out["fault_number"] is None
    out = _call(ext, ref, (A, "请问是哪个号码打给您的"), (C, "一七零 零零零零 幺二三四"))
    assert out["fault_number"]["value"] == "17000001234" and out["phone"] is None


def test_a_correction_that_changes_nothing_is_a_yes(ext, ref):
    out = _call(ext, ref, (C, "我的号码是13812345678"), (A, "您的号码是13812345678对吗"), (C, "尾号是5678"))
    assert (out["phone"]["status"], out["phone"]["evidence_turn"]) == ("confirmed", 0)


def test_a_digit_correction_applies_to_the_read_back_not_the_callers_words(ext, ref):
    out = _call(ext, ref, (C, "我的号码是13812345678"), (A, "您的号码是13812345679对吗"), (C, "不对,第十一位是8"))
    assert out["phone"]["value"] == "13812345678"


def test_a_correction_without_a_read_back_fixes_the_last_number_said(ext, ref):
    out = _call(ext, ref, (C, "我的电话13812345687"), (C, "哦说错了,最后两位是78"))
    assert (out["phone"]["value"], out["phone"]["status"]) == ("13812345678", "corrected")


def test_a_correction_that_does_not_fit_is_ignored(ext, ref):
    out = _call(ext, ref, (C, "我的号码是13812345678"), (C, "是1234不是9999"))
    assert (out["phone"]["value"], out["phone"]["status"]) == ("13812345678", "stated")


def test_by_the_way_is_no_yes(ext, ref):
    out = _call(ext, ref, (C, "我的号码是13812345678"), (A, "您的号码是13812345687对吗"), (C, "对了,我还想问一下套餐"))
    assert out["phone"]["value"] == "13812345678"


# -- whose number ----------------------------------------------------------------------------------
def test_someone_elses_number_is_not_the_phone(ext, ref):
    out = _call(ext, ref, (C, "我老婆的号是13912345678"), (C, "我的是幺三八幺二三四五六七八"))
    assert out["phone"]["value"] == "13812345678" and out["phone"]["evidence_turn"] == 1
    assert _call(ext, ref, (C, "这是我妈的手机13712345678"))["phone"] is None


def test_a_scammers_number_is_the_fault_number(ext, ref):
    out = _call(ext, ref, (C, "那个骗子的号码是幺五零零零零一二三四五他冒充客服"), (C, "我的号码是13812345678"))
    assert out["fault_number"]["value"] == "15000012345" and out["fault_number"]["evidence_turn"] == 0
    assert out["phone"]["value"] == "13812345678"


@pytest.mark.parametrize("text", ["工单号13912345678", "订单号是13912345678你们查一下", "宽带账号是13912345678"])
def test_ticket_order_and_account_numbers_are_not_the_phone(ext, ref, text):
    assert _call(ext, ref, (C, text))["phone"] is None


def test_the_negated_number_is_not_taken(ext, ref):
    assert _call(ext, ref, (C, "是13812345678不是13812345687"))["phone"]["value"] == "13812345678"
    assert _call(ext, ref, (C, "不是13812345687是13812345678"))["phone"]["value"] == "13812345678"


def test_a_bare_number_answers_the_agents_question(ext, ref):
    out = _call(ext, ref, (A, "请问对方号码是多少"), (C, "13912345678"), (A, "请问您的联系电话"), (C, "13812345678"))
    assert out["fault_number"]["value"] == "13912345678" and out["fault_number"]["evidence_turn"] == 1
    assert out["phone"]["value"] == "13812345678" and out["phone"]["evidence_turn"] == 3


def test_spoken_digits_answer_a_broadband_account_question(ext, ref):
    out = _call(ext, ref, (C, "我家宽带连不上了"), (A, "请问您的宽带账号是多少"), (C, "零五七一八八八八六六六六"))
    assert out["broadband_account"]["value"] == "057188886666" and out["phone"] is None


def test_the_latest_confident_value_wins(ext, ref):
    out = _call(ext, ref, (C, "我的号码是13812345678"), (C, "算了你还是打我另一个号13987654321吧"))
    assert (out["phone"]["value"], out["phone"]["evidence_turn"]) == ("13987654321", 1)


def test_an_agent_only_value_counts_until_the_caller_gives_one(ext, ref):
    out = _call(ext, ref, (A, "您是在杭州市西湖区文三路对吧"))
    assert (out["location"]["value"], out["location"]["status"]) == ("杭州市西湖区文三路", "unconfirmed")
    out = _call(ext, ref, (A, "您是在杭州市西湖区文三路对吧"), (C, "不是,我在滨江区江南大道"))
    assert (out["location"]["value"], out["location"]["status"]) == ("滨江区江南大道", "corrected")


# -- other fields ----------------------------------------------------------------------------------
def test_a_shorter_read_back_confirms_and_keeps_the_detail(ext, ref):
    out = _call(ext, ref, (C, "我在万达广场B座那个写字楼里面信号很差"), (A, "您是说万达广场B座对吧"), (C, "对对对"))
    assert (out["location"]["value"], out["location"]["status"], out["location"]["evidence_turn"]) == (
        "万达广场B座那个写字楼里面", "confirmed", 0)


def test_a_longer_read_back_the_caller_agrees_to_adds_the_detail(ext, ref):
    out = _call(ext, ref, (C, "我在万达广场"), (A, "您是说万达广场B座对吧"), (C, "对"))
    assert (out["location"]["value"], out["location"]["status"], out["location"]["evidence_turn"]) == (
        "万达广场B座", "confirmed", 1)


def test_saying_a_confirmed_value_again_keeps_it_confirmed(ext, ref):
    out = _call(ext, ref, (C, "我的号码是13812345678"), (A, "13812345678对吗"), (C, "对"), (C, "我的号码是13812345678"))
    assert (out["phone"]["status"], out["phone"]["evidence_turn"]) == ("confirmed", 0)


def test_a_word_correction(ext, ref):
    out = _call(ext, ref, (C, "我在万达广场B座"), (A, "您是说万达广场B座对吧"), (C, "不是B座是C座"))
    assert (out["location"]["value"], out["location"]["status"]) == ("万达广场C座", "corrected")


def test_a_word_correction_keeps_a_number_in_the_value_masked(ext, ref):
    out = _call(ext, ref, (C, "我家在幸福小区13812345678号"), (A, "您是说幸福小区13812345678号对吧"),
                (C, "不是幸福小区是阳光小区"))
    loc = out["location"]
    assert (loc["value"], loc["status"]) == ("阳光小区13812345678号", "corrected")
    assert loc["masked"] == "阳光小区138****5678号"


def test_a_corrected_time_is_resolved_again(ext, ref):
    out = _call(ext, ref, (C, "前天傍晚六点多就没信号了"), (A, "前天傍晚开始的对吗"), (C, "不是前天是大前天"))
    ft = out["fault_time"]
    assert (ft["value"], ft["resolved"], ft["status"]) == ("大前天傍晚六点多", "2026-11-17T18:00:00+08:00", "corrected")


def test_an_appointment_the_agent_proposes_and_the_caller_accepts(ext, ref):
    out = _call(ext, ref, (A, "师傅明天上午过来可以吗"), (C, "可以"))
    ap = out["appointment_time"]
    assert (ap["value"], ap["resolved"], ap["status"], ap["evidence_turn"]) == (
        "明天上午", "2026-11-21", "confirmed", 0)
    out = _call(ext, ref, (A, "师傅明天上午过来可以吗"), (C, "明天不行后天下午吧"))
    assert (out["appointment_time"]["value"], out["appointment_time"]["evidence_turn"]) == ("后天下午", 1)


def test_the_agents_identity_verdict_is_the_value(ext, ref):
    out = _call(ext, ref, (C, "身份证后四位是1234"), (A, "好的,身份核实通过"))
    assert (out["id_verified"]["resolved"], out["id_verified"]["evidence_turn"]) == (True, 1)
    out = _call(ext, ref, (C, "身份证后四位是1234"), (A, "抱歉,核实不通过"))
    assert out["id_verified"]["resolved"] is False


def test_a_whole_asr_call(ext, ref):
    out = _call(
        ext, ref,
        (A, "您好请问有什么可以帮您"),
        (C, "喂你好我在万达广场B座那个写字楼里面从前天傍晚六点多开始手机就没信号了"),
        (A, "好的请问您的联系电话是多少"),
        (C, "幺三八幺二三四五六八七"),
        (A, "您的号码是幺三八幺二三四五六八七对吗"),
        (C, "不对不对最后两位是七八"),
        (A, "好的师傅明天上午九点到十一点上门可以吗"),
        (C, "可以的"),
    )  # fmt: skip
    assert out["phone"]["value"] == "13812345678" and out["phone"]["evidence_turn"] == 5
    assert out["location"]["value"] == "万达广场B座那个写字楼里面"
    assert (out["fault_time"]["value"], out["fault_time"]["resolved"]) == (
        "前天傍晚六点多", "2026-11-18T18:00:00+08:00")
    assert out["appointment_time"]["resolved"] == "2026-11-21T09:00:00+08:00"
    assert out["appointment_time"]["status"] == "confirmed"
    assert out["fault_number"] is None


# -- the tracker on its own ------------------------------------------------------------------------
def test_tracker_takes_plain_dicts():
    t = CallSlotTracker()
    t.add({"phone": {"value": "13900001111"}, "device": None, "location": {"value": ""}}, idx=0, speaker=A)
    assert t.best("phone") == ({"value": "13900001111", "evidence_turn": 0, "status": "unconfirmed"}, 0)
    assert t.best("device") is None and t.best("location") is None  # empty values are not kept
    t.add({"phone": {"value": "13812345678"}}, idx=1, speaker=C)
    t.add({"phone": {"value": "13700002222"}}, idx=2, speaker=A)
    assert t.best("phone")[0]["value"] == "13812345678" and t.best("phone")[1] == 1
    assert t.result(("phone", "device")) == {"phone": t.best("phone")[0], "device": None}


def test_tracker_rejects_an_unknown_speaker():
    with pytest.raises(InvalidInputError, match="speaker must be one of"):
        CallSlotTracker().add({}, idx=0, speaker="robot")


def test_status_values():
    assert [str(s) for s in SlotStatus] == ["stated", "confirmed", "corrected", "unconfirmed"]


# -- fault time: the onset said first stands against vaguer later times ------------------------------
def test_a_vaguer_later_time_does_not_replace_the_fault_onset(ext, ref):
    out = _call(ext, ref, (C, "我手机从今天中午开始就显示无服务"), (A, "好的请问您在哪里"),
                (C, "在家 今天一直在家"))
    assert (out["fault_time"]["value"], out["fault_time"]["evidence_turn"]) == ("今天中午", 0)


def test_a_more_specific_later_time_replaces_the_fault_time(ext, ref):
    out = _call(ext, ref, (C, "昨天就没网了"), (A, "大概几点开始的"), (C, "昨天晚上八点开始的"))
    assert (out["fault_time"]["value"], out["fault_time"]["evidence_turn"]) == ("昨天晚上八点", 2)


# -- whose number: the cues of a reply, and which group a denied read-back's digits correct ------------------
def test_four_digits_after_a_no_correct_the_group_they_are_closest_to(ext, ref):
    out = _call(ext, ref, (A, "充值的是哪个号码"), (C, "幺三三 零二三八 七七五六"), (A, "幺三三零二八三七七五六 对吗"),
                (C, "不对不对 是零二三八 零二三八 后面七七五六"))
    assert (out["phone"]["value"], out["phone"]["status"]) == ("13302387756", "corrected")  # the middle group


def test_a_number_said_for_someone_else_or_a_closed_line_is_not_the_phone(ext, ref):
    out = _call(ext, ref, (A, "麻烦报一下您的号码"), (C, "幺八八 二六 幺九 三零 五四"), (A, "您爱人的号码是多少"),
                (C, "她是幺三六 幺一零二 八八六七"))
    assert out["phone"]["value"] == "18826193054"
    out = _call(ext, ref, (A, "请问您销户的那个号码是多少 还有您现在的联系电话"),
                (C, "销掉的是 一三六 二二八一 五零七三 我现在打的这个是我主号 幺八九 二七六五 三一零八"))
    assert out["phone"]["value"] == "18927653108"


def test_a_number_that_claimed_to_be_someone_is_a_partys(ext, ref):
    out = _call(ext, ref, (C, "18280619435。"), (A, "打给您的号码您有记录吗？"),
                (C, "有，其中一个是17760832215，他自称是你们的合作装机单位。"))
    assert out["phone"]["value"] == "18280619435"


def test_a_vague_time_gives_way_to_a_date_and_a_passing_place_to_the_address(ext, ref):
    out = _call(ext, ref, (C, "最近老是断网"), (A, "大概什么时候开始的"), (C, "就上周一 之前没这毛病"))
    assert out["fault_time"]["value"] == "上周一"
    out = _call(ext, ref, (C, "装机地址是武进区湖塘镇聚湖雅苑8幢1203"), (A, "好的"), (C, "在商场里也连不上"))
    assert out["location"]["value"] == "武进区湖塘镇聚湖雅苑8幢1203"


def test_the_address_given_when_asked_stands_against_a_later_passing_place(ext, ref):
    out = _call(ext, ref, (C, "我们家三个人手机全部没信号"), (A, "请问您家的具体位置"),
                (C, "是百家湖东边那个翠湖苑 三栋"), (A, "好的"), (C, "我老母亲在医院 万一医院打过来怎么办"))
    assert out["location"]["value"] == "翠湖苑 三栋"
    # unasked, the latest place is the caller's (moving on to where the fault is)
    out = _call(ext, ref, (C, "我在翠湖苑三栋"), (A, "好的"), (C, "其实是在公司，阳光大厦那边"))
    assert out["location"]["value"] == "阳光大厦"
    # asked, and a longer, fuller address said later replaces it
    out = _call(ext, ref, (C, "宽带断了"), (A, "您的地址是"), (C, "翠湖苑"), (A, "好的"),
                (C, "完整的是江宁区双龙大道翠湖苑三栋二单元"))
    assert out["location"]["value"] == "江宁区双龙大道翠湖苑三栋二单元"


def test_the_message_quoted_when_the_agent_asks_what_it_said_is_the_sms_content(ext, ref):
    out = _call(ext, ref, (C, "你好 我收到一条短信 想问问你们"), (A, "好的 请问是什么内容的短信"),
                (C, "上面写的是 您的包裹已到 凭取件码八三幺五到幸福里驿站领取 可是我去了那个驿站 人家说没有我的件"),
                (A, "这个是快递公司发的"), (C, "啊 可是这短信是 是手机上收的嘛"))
    assert out["sms_content"]["value"] == "您的包裹已到 凭取件码八三幺五到幸福里驿站领取"
    assert out["sms_content"]["evidence_turn"] == 2  # the later, unasked 短信是… does not replace it
    out = _call(ext, ref, (A, "请问短信的具体内容是什么？"),
                (C, "写的是“【积分兑换】您的积分3860分将于今日清零，请点击 jf-dh10.cn 兑换”。我点进去了"))
    assert out["sms_content"]["value"] == "【积分兑换】您的积分3860分将于今日清零,请点击 jf-dh10.cn 兑换"
    out = _call(ext, ref, (C, "天天收垃圾短信"), (A, "请问是什么样的短信呢"),
                (C, "就是那种 尊敬的客户您有一笔二十万备用金待领取 回T退订"))
    assert out["sms_content"]["value"] == "尊敬的客户您有一笔二十万备用金待领取 回T退订"
    # unasked, a quote without 短信 is no message (她说“您拨打的用户已关机”)
    out = _call(ext, ref, (C, "我老婆说打不通我电话"), (A, "好的"), (C, "她说“您拨打的用户已关机”"))
    assert out["sms_content"] is None


def test_someone_elses_number_answers_the_agents_question_for_it(ext, ref):
    out = _call(ext, ref, (C, "我老婆打我电话打不通"), (A, "您爱人的号码是多少 我看一下呼叫记录"),
                (C, "她是幺三六 幺一零二 八八六七"))
    assert (out["fault_number"]["value"], out["phone"]) == ("13611028867", None)
    out = _call(ext, ref, (C, "我打我女儿的电话一直打不通"), (A, "请问您女儿的号码是多少？"),
                (C, "她的是19257083361，上个月刚办的新号。"), (A, "那请问您本机号码是？"), (C, "我是138 5710 2246。"))
    assert (out["fault_number"]["value"], out["phone"]["value"]) == ("19257083361", "13857102246")


def test_an_agents_question_about_a_message_gives_no_free_text_value(ext, ref):
    out = _call(ext, ref, (C, "我手机天天收垃圾短信"), (A, "这些短信是从什么号码发过来的 是一零六开头的还是手机号"),
                (C, "有一零六开头的 也有手机号"))
    assert out["sms_content"] is None


def test_a_bare_device_kind_after_a_named_product_keeps_the_product(ext, ref):
    out = _call(ext, ref, (C, "我家魔百和看不了了，电视黑屏"), (A, "请您看一下机顶盒背面"),
                (C, "机顶盒背面贴了个条，我念给你"))
    assert out["device"]["value"] == "魔百和"
    out = _call(ext, ref, (C, "路由器老掉线"), (A, "好的"), (C, "是华为的路由器AX3000"))
    assert out["device"]["value"] == "华为路由器AX3000"  # the more specific, later, replaces the kind


def test_a_month_answering_the_agents_question_is_the_billing_month(ext, ref):
    out = _call(ext, ref, (C, "我要开发票"), (A, "好的，请问您需要开具哪个月的发票？"), (C, "九月和十月份的。"))
    assert (out["billing_month"]["value"], out["billing_month"]["resolved"][5:]) == ("九月和十月份", "09")
    out = _call(ext, ref, (C, "上个月开始老是掉线"), (A, "好的"), (C, "九月份就有过一次"))
    assert out["billing_month"] is None  # unasked and with no billing cue, a month is no billing month


def test_a_time_answering_when_the_visit_suits_is_the_appointment(ext, ref):
    out = _call(ext, ref, (A, "可能需要上门，您什么时间方便？"), (C, "周末都在家。"), (A, "好的"),
                (C, "周末上午来就行。"))
    assert out["appointment_time"]["value"] == "周末上午"
    out = _call(ext, ref, (A, "请问您最近什么时间方便？"), (C, "越快越好，明天全天我都在。"))
    assert out["appointment_time"]["value"] == "明天"
    out = _call(ext, ref, (A, "您什么时候方便"), (C, "昨天下午我在家 没人来"))
    assert out["appointment_time"] is None  # a past time answers nothing about a visit


@pytest.mark.parametrize("turns", [
    [(A, "请先提供一下您的手机号码"), (C, "嗯 幺五幺 七三零八"), (C, "后面是 四二六六")],
    [(A, "请提供一下您的号码"), (C, "幺五幺 七三零八"), (A, "嗯 后四位呢"), (C, "四二六六")],
    [(A, "请提供一下您的号码。"), (C, "151 7308，后面是4266。")],
    [(A, "您用的是什么手机？"), (C, "一加12。号码是151 7308，后面是4266。")],
    [(A, "请问您的手机号码是多少"), (C, "我的号码是151"), (A, "嗯，您继续"), (C, "7308 4266")],
    [(A, "请问您的手机号码"), (C, "前三位151 中间7308 后面4266")],
    [(A, "请问您的手机号码"), (C, "幺五幺"), (A, "嗯"), (C, "七三零八"), (A, "嗯"), (C, "四二六六")],
])
def test_a_mobile_given_in_parts_is_joined(ext, ref, turns):
    out = _call(ext, ref, *turns)
    assert (out["phone"]["value"], out["phone"]["masked"]) == ("15173084266", "151****4266")


def test_digit_runs_that_do_not_make_a_mobile_stay_apart(ext, ref):
    out = _call(ext, ref, (C, "我住在138号"), (A, "好的"), (C, "房间是12345678"))  # no question for the number
    assert out["phone"] is None
    out = _call(ext, ref, (A, "您的号码是"), (C, "幺五幺 七三零八"), (C, "上个月扣了一百二十块"))
    assert out["phone"] is None


def test_the_count_in_a_correction_is_not_its_digits(ext, ref):
    out = _call(ext, ref, (A, "请提供一下您本人的手机号码"), (C, "我的是 幺三六 零二零八 七七四五"),
                (A, "幺三六零二零八七七四五 对吗"), (C, "哦 不对不对 我说错了 最后四位是 七七五四"))
    assert out["phone"]["value"] == "13602087754"


def test_her_number_is_not_the_callers(ext, ref):
    out = _call(ext, ref, (C, "号码是 幺三八 零七二六 五五幺九"), (A, "幺三八零七二六五五幺九 对吗"),
                (C, "对对 然后我老婆打我 她那个号码是 幺八六 幺二七四 零零三六 她打了好几次都说不在服务区"))
    assert out["phone"]["value"] == "13807265519"


@pytest.mark.parametrize(("agent", "caller", "text"), [
    ("短信上是怎么写的 您念一下", "嗯 我念一下啊 尊敬的用户您已成功订购彩铃业务回复TD退订 就这么写的",
     "尊敬的用户您已成功订购彩铃业务回复TD退订"),
    ("短信具体内容是什么？", "是这样写的：您已成功办理副卡业务，次月生效。", "您已成功办理副卡业务,次月生效"),
    ("您退订的时候收到回复短信了吗？", "收到了，短信上写的是：您已成功退订视频月卡业务。结果还是照扣。",
     "您已成功退订视频月卡业务"),
])
def test_a_message_read_out_is_the_sms_content(ext, ref, agent, caller, text):
    assert _call(ext, ref, (A, agent), (C, caller))["sms_content"]["value"] == text


def test_a_correction_in_the_same_turn_as_the_number_applies_to_it(ext, ref):
    out = _call(ext, ref, (A, "请问您的手机号码"), (C, "一三八零零一三八八六六 哦不对 最后一位是七"))
    assert out["phone"]["value"] == "13800138867"
