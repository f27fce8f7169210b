"""hotline.models.call_model: a tiny call model learns what counts (complaint, diagnosis) and what doesn't (resolution)."""

from __future__ import annotations

import numpy as np
import pytest

from hotline.core.errors import InvalidInputError, NotFittedError
from hotline.models.call_model import NONE_LABEL, CallModel, position_bucket
from tests.models.conftest import keyword_probs

CLASSES = ["payment.suspended_after_pay", "voice.cannot_call", "broadband.cannot_connect"]
# a stand-in utterance classifier: keyword → class distribution
_KW = {"停机": 0, "交了": 0, "缴费": 0, "打不出": 1, "能打": 1, "打电话": 1, "宽带": 2, "光猫": 2, "网通": 2}


def fake_probs(text: str) -> np.ndarray:
    return keyword_probs(text, _KW, len(CLASSES))


def _call(label, turns):
    return {"label": label, "turns": [{"speaker": s, "text": t, "role": r} for s, t, r in turns]}


def _calls() -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    for k in range(30):
        n = k % 3
        out.append(_call("payment.suspended_after_pay", [
            ("agent", "您好请讲", "opening"),
            ("customer", ["我交了话费还是停机", "缴费了怎么还停机", "钱交了手机还停机"][n], "complaint"),
            ("agent", "系统显示复机工单失败了", "agent_diagnosis"),
            ("customer", ["好了现在能打电话了", "现在能打了谢谢", "可以打电话了"][n], "resolution"),
            ("agent", "还有别的问题吗", "closing")]))
        out.append(_call("voice.cannot_call", [
            ("agent", "您好请讲", "opening"),
            ("customer", ["我手机打不出电话", "电话打不出去", "一直打不出电话"][n], "complaint"),
            ("agent", "您手机开了呼叫限制", "agent_diagnosis"),
            ("customer", "好了能打了", "resolution"),
            ("agent", "感谢来电再见", "closing")]))
        out.append(_call("broadband.cannot_connect", [
            ("agent", "您好请讲", "opening"),
            ("customer", ["家里宽带连不上", "宽带断了光猫红灯", "光猫亮红灯宽带不行"][n], "complaint"),
            ("customer", "缴费的事回头再说", "deferred"),
            ("customer", "网通了谢谢", "resolution"),
            ("agent", "感谢来电再见", "closing")]))
        out.append(_call(None, [
            ("agent", "您好请讲", "opening"),
            ("customer", ["我想问下社保怎么交", "明天天气怎么样", "外卖退款找谁"][int(rng.integers(3))], "offtopic"),
            ("agent", "这个不是我们的业务", "closing")]))
    return out


def _probs(calls):
    return [np.vstack([fake_probs(t["text"]) for t in c["turns"]]) for c in calls]


@pytest.fixture(scope="module")
def model() -> CallModel:
    calls = _calls()
    return CallModel(c_call=10.0).fit(calls, _probs(calls), CLASSES)


def test_unfitted_and_bad_input():
    with pytest.raises(NotFittedError, match="Call 'fit' first"):
        CallModel().new_evidence()
    with pytest.raises(InvalidInputError, match="c_role"):
        CallModel(c_role=0)
    calls = _calls()[:4]
    with pytest.raises(InvalidInputError, match="differ in length"):
        CallModel().fit(calls, _probs(calls)[:2], CLASSES)
    calls[0]["turns"][0].pop("role")
    with pytest.raises(InvalidInputError, match="no 'role'"):
        CallModel().fit(calls, _probs(calls), CLASSES)


def test_position_buckets():
    assert [position_bucket(i) for i in (0, 1, 2, 3, 4, 5, 7, 8, 11, 12, 40)] == [0, 1, 2, 3, 3, 4, 4, 5, 5, 6, 6]


def test_resolution_talk_does_not_flip_the_label(model):
    call = _call(None, [
        ("agent", "您好请讲", "opening"),
        ("customer", "钱交了手机还停机", "complaint"),
        ("agent", "系统显示复机工单失败了", "agent_diagnosis"),
        ("customer", "好了现在能打电话了", "resolution"),
        ("customer", "可以打电话了能打了", "resolution"),
    ])
    p = model.predict_proba([call], _probs([call]))[0]
    assert model.labels_[int(p.argmax())] == "payment.suspended_after_pay"
    # a plain sum of the turns' utterance probabilities would say voice.cannot_call
    assert CLASSES[int(_probs([call])[0].sum(0).argmax())] == "voice.cannot_call"


def test_off_topic_call_is_none(model):
    call = _call(None, [("agent", "您好请讲", "opening"), ("customer", "外卖退款找谁", "offtopic")])
    p = model.predict_proba([call], _probs([call]))[0]
    assert model.labels_[int(p.argmax())] == NONE_LABEL


def test_incremental_equals_batch_and_names_evidence(model):
    call = _calls()[0]
    ev = model.new_evidence()
    for i, (t, p) in enumerate(zip(call["turns"], _probs([call])[0])):
        model.add_turn(ev, t["speaker"], i, t["text"], p)
    assert np.allclose(model.predict_proba_evidence(ev), model.predict_proba([call], _probs([call]))[0])
    ev_turns = model.evidence_turns(ev, "payment.suspended_after_pay")
    assert 1 in ev_turns and 3 not in ev_turns  # the complaint, not the resolution


def test_save_load_round_trip(model, tmp_path):
    model.save(tmp_path / "cm")
    again = CallModel.load(tmp_path / "cm")
    calls = _calls()[:8]
    assert np.allclose(again.predict_proba(calls, _probs(calls)), model.predict_proba(calls, _probs(calls)))
    assert again.meta_["builder"] == "call.role_pooled_lr.v1" and again.labels_[-1] == NONE_LABEL
