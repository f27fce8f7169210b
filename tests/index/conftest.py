"""Small hand-made KB and fast stand-ins (char-gram encoder, bigram segmenter, keyword classifier) for the index tests."""

from __future__ import annotations

import numpy as np
import pytest

from hotline.index.kb import FaqEntry, KnowledgeBase
from hotline.models.encoders import Encoder


class FakeEncoder(Encoder):
    """8-d hashed-character encoder named "fake" (only for the refuse-another-encoder checks)."""

    name = "fake"
    dim = 8

    def _encode(self, texts, is_query):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for ch in t:
                out[i, ord(ch) % self.dim] += 1.0
        out[:, 0] += 1e-3
        return out


class BigramSegmenter:
    """Character bigrams: deterministic, no dictionary to load."""

    def cut(self, text: str) -> list[str]:
        return list(text)

    def tokens(self, text: str) -> list[str]:
        t = "".join(ch for ch in text.lower() if ch.isalnum())
        return [t[i : i + 2] for i in range(len(t) - 1)] or ([t] if t else [])


class KeywordClassifier:
    """Stand-in classifier: a code gets most of the mass when one of its keywords is in the text."""

    classes_ = ["broadband.cannot_connect", "broadband.slow", "inquiry.billing_info", "plan.number_porting"]
    _keys = (("光猫", "红灯"), ("宽带", "网速", "卡"), ("余额", "话费"), ("转网", "运营商"))

    def predict_proba(self, texts):
        out = np.full((len(texts), len(self.classes_)), 0.1)
        for i, t in enumerate(texts):
            for j, keys in enumerate(self._keys):
                out[i, j] += sum(k in t for k in keys)
        return out / out.sum(1, keepdims=True)


KB_ROWS = [
    ("f1", "光猫亮红灯怎么办", "光猫LOS灯亮红色通常是光纤断了，请报修。", "broadband.cannot_connect",
     ["光猫上面红灯一直闪", "猫的灯变红了上不了网", "光猫los红灯亮"]),
    ("f2", "宽带网速很慢怎么处理", "请重启路由器并用网线测速，低于签约速率请报修。", "broadband.slow",
     ["家里宽带特别卡", "宽带测速只有几兆", "晚上宽带网速慢"]),
    ("f3", "怎么查询话费余额", "发送短信CXHF到10086，或在手机营业厅查询余额。", "inquiry.billing_info",
     ["我还剩多少话费", "话费余额在哪里看", "查一下我的余额"]),
    ("f4", "为什么多扣了话费", "请查询详单，核实增值业务扣费，可申请退费。", "billing.unexpected_charge",
     ["话费莫名其妙被扣了", "这个月话费多扣了几十块", "扣费和我用的对不上"]),
    ("f5", "手机没有信号怎么办", "请重启手机、检查SIM卡，室内弱覆盖可申请信号优化。", "coverage.weak_signal",
     ["家里手机信号特别差", "地下室一格信号都没有", "手机经常显示无服务"]),
    ("f6", "怎么退订增值业务", "发送0000到10086查询并退订已订购的业务。", "vas.unsubscribe_fail",
     ["我要取消包月业务", "怎么关掉彩铃业务", "退订会员业务"]),
    ("f7", "收不到短信验证码怎么办", "请检查短信拦截设置，确认未开通短信屏蔽。", "sms.cannot_receive",
     ["验证码一直收不到", "手机接收不了短信", "别人发的短信我收不到"]),
    ("f8", "携号转网需要什么条件", "号码需实名、无欠费、不在合约期内，发送CXXZ到10086查询。", "plan.number_porting",
     ["我想转到别的运营商", "携号转网怎么办理", "转网被拒绝了"]),
]

OFFTOPIC = ["今天天气怎么样", "红烧肉怎么做好吃", "股票明天会涨吗", "附近有什么好玩的地方", "孩子发烧了怎么办",
            "快递什么时候到", "银行卡密码忘了", "这个游戏怎么升级", "周末去哪里玩", "医院几点开门",
            "推荐一部好看的电影", "高考志愿怎么填", "火车票怎么改签", "猫不吃东西怎么办"]


@pytest.fixture()
def small_kb() -> KnowledgeBase:
    return KnowledgeBase([FaqEntry(i, q, a, c, list(s)) for i, q, a, c, s in KB_ROWS])


@pytest.fixture()
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture()
def segmenter() -> BigramSegmenter:
    return BigramSegmenter()


@pytest.fixture()
def offtopic() -> list[str]:
    return list(OFFTOPIC)


@pytest.fixture()
def keyword_classifier() -> KeywordClassifier:
    return KeywordClassifier()
