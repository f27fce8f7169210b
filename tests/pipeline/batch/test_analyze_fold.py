"""The batch analyzer's call-model fold (one call's turns at once) against the model's own turn-by-turn fold."""

from __future__ import annotations

import numpy as np
import pytest

from hotline.models.call_model import CallModel
from hotline.pipeline.batch.analyze import _PrecomputedCallModel
from tests.models.conftest import keyword_probs

CLASSES = ["broadband.cannot_connect", "voice.cannot_call"]
_KW = {"宽带": 0, "光猫": 0, "打不出": 1, "电话": 1}


def _probs(text: str) -> np.ndarray:
    return keyword_probs(text, _KW, len(CLASSES))


CALL = [("agent", "您好请讲", "opening"), ("customer", "家里宽带连不上，光猫红灯", "complaint"),
        ("agent", "光猫线路故障", "agent_diagnosis"), ("customer", "电话也打不出", "deferred"),
        ("customer", "好的谢谢", "resolution"), ("agent", "感谢来电再见", "closing")]


def _training_calls() -> list[dict]:
    other = [("agent", "您好请讲", "opening"), ("customer", "我手机打不出电话", "complaint"),
             ("agent", "您开了呼叫限制", "agent_diagnosis"), ("agent", "感谢来电再见", "closing")]
    return [{"label": label, "turns": [{"speaker": s, "text": t, "role": r} for s, t, r in turns]}
            for _ in range(12) for label, turns in (("broadband.cannot_connect", CALL), ("voice.cannot_call", other))]


@pytest.fixture(scope="module")
def model() -> CallModel:
    calls = _training_calls()
    return CallModel(c_call=10.0).fit(calls, [np.vstack([_probs(t["text"]) for t in c["turns"]]) for c in calls],
                                      CLASSES)


def test_every_turns_distribution_and_the_evidence_equal_the_live_fold(model):
    texts, speakers = [t for _, t, _ in CALL], [s for s, _, _ in CALL]
    roles = model.role_proba(texts, speakers, list(range(len(CALL))))
    probs = np.vstack([_probs(t) for t in texts])
    live, live_ev = [], model.new_evidence()
    fast = _PrecomputedCallModel(model)
    fast.prepare(roles, probs, None)
    fast_ev = fast.new_evidence()
    for i, (speaker, text) in enumerate(zip(speakers, texts)):
        model._accumulate(live_ev, i, roles[i], probs[i])  # what CallModel.add_turn folds, with the same roles
        live.append(model.predict_proba_evidence(live_ev))
        assert np.array_equal(fast.add_turn(fast_ev, speaker, i, text, probs[i]), roles[i])
        np.testing.assert_allclose(fast.predict_proba_evidence(fast_ev), live[-1], rtol=1e-12, atol=1e-15)
        assert np.array_equal(fast_ev.sums, live_ev.sums) and np.array_equal(fast_ev.mass, live_ev.mass)
    for label in model.labels_:
        for roles_kept in (None, frozenset({"complaint", "agent_diagnosis"})):
            assert fast.evidence_turns(fast_ev, label, roles=roles_kept) == \
                model.evidence_turns(live_ev, label, roles=roles_kept)
    assert fast.evidence_turns(fast_ev, "no.such_label") == []
    assert fast.labels_ == model.labels_  # everything else is the model's
