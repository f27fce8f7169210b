"""CategoryTracker alone: turn weights, decaying evidence, hysteresis, resolution talk, model reloads."""

from __future__ import annotations

import numpy as np
import pytest

from hotline.pipeline.live.tracker import CategoryTracker, turn_weight

A, B, C = "broadband.cannot_connect", "broadband.slow", "inquiry.billing_info"
COMPLAINT = "宽带完全连不上了啊"
SLOWER = "有时候又好像是网速慢"
RESOLVED = "好的，现在宽带能上网了，谢谢你们"


class _ScriptedClassifier:
    """Returns the probability row scripted for each text (uniform for others); the fake's taxonomy and thresholds."""

    def __init__(self, script: dict[str, list[float]], classes: list[str], base) -> None:
        self.script, self.classes, self.taxonomy, self.model = script, classes, base.taxonomy, base.model

    def probabilities(self, texts):
        return np.array([self.script.get(t, [1 / len(self.classes)] * len(self.classes)) for t in texts])


@pytest.fixture
def scripted(fake_pipeline):
    def make(script: dict[str, list[float]], classes=(A, B, C)) -> _ScriptedClassifier:
        return _ScriptedClassifier(script, list(classes), fake_pipeline.classifier)

    return make


def test_turn_weight_ignores_fillers_numbers_and_slot_values():
    confident = np.array([0.9, 0.05, 0.05])
    assert turn_weight("嗯", confident) == 0.0
    assert turn_weight("好的好的，谢谢", confident) == 0.0
    assert turn_weight("我的电话是138****5678", confident) == 0.0
    assert turn_weight("住在西湖区文三路", confident, slot_values=["西湖区文三路"]) == 0.0
    assert turn_weight("宽带连不上，光猫亮红灯", confident) > 0.8
    assert turn_weight("宽带连不上，光猫亮红灯", np.full(3, 1 / 3)) == 0.0  # the classifier cannot place it
    assert 0.0 < turn_weight("网速慢", confident) < turn_weight("宽带连不上，光猫亮红灯", confident)


def test_first_informative_turn_sets_the_label(fake_pipeline):
    tracker = CategoryTracker()
    assert tracker.label is None and tracker.category is None
    assert tracker.update(fake_pipeline.classifier, "嗯", idx=0) is False
    assert tracker.category is None and not tracker.recent
    assert tracker.update(fake_pipeline.classifier, "我家宽带连不上了，光猫亮红灯", idx=1) is True
    cat = tracker.category
    assert tracker.label == cat["label"] == A and cat["evidence"] == [1] and cat["stable"]
    assert cat["service_name"] == "家庭宽带" and cat["top"][0]["code"] == A and not cat["abstain"]
    assert max(tracker.probs, key=tracker.probs.get) == A and list(tracker.recent) == ["我家宽带连不上了，光猫亮红灯"]


def test_hysteresis_needs_a_margin_or_two_turns_in_a_row(scripted):
    clf = scripted({COMPLAINT: [0.8, 0.1, 0.1], SLOWER: [0.3, 0.6, 0.1]})
    tracker = CategoryTracker()
    tracker.update(clf, COMPLAINT, idx=0)
    assert tracker.label == A
    for i in range(3):  # B gains but A stays on top of the smoothed evidence, or leads by less than the margin
        tracker.update(clf, SLOWER, idx=1 + i)
    assert tracker.category["top"][0]["code"] == B  # B leads the smoothed probabilities …
    assert tracker.label == A and not tracker.category["stable"]  # … but one turn is not enough
    assert tracker.update(clf, "嗯", idx=4) is False  # fillers do not break the streak
    tracker.update(clf, SLOWER, idx=5)
    assert tracker.label == B  # second informative turn in a row: switch


def test_a_decisive_turn_switches_at_once(scripted):
    clf = scripted({"网速有点慢": [0.3, 0.6, 0.1], "其实是话费查询的问题，帮我查一下余额": [0.02, 0.03, 0.95]})
    tracker = CategoryTracker()
    tracker.update(clf, "网速有点慢", idx=0)
    assert tracker.label == B
    tracker.update(clf, "其实是话费查询的问题，帮我查一下余额", idx=1)
    assert tracker.label == C and tracker.category["evidence"] == [1]


def test_resolution_talk_after_the_complaint_keeps_a_stable_label(scripted):
    """Thanks and "it works now" at the end of a call lean elsewhere, but one such turn does not flip the label."""
    clf = scripted({COMPLAINT: [0.8, 0.1, 0.1], RESOLVED: [0.2, 0.2, 0.6]})
    tracker = CategoryTracker()
    tracker.update(clf, COMPLAINT, idx=0)
    tracker.update(clf, COMPLAINT, idx=1)
    assert tracker.label == A and tracker.category["stable"]
    before = dict(tracker.category)
    assert tracker.update(clf, "好的，谢谢", idx=2) is False
    assert tracker.category == before
    assert tracker.update(clf, RESOLVED, idx=3) is True
    cat = tracker.category
    assert cat["label"] == A and cat["stable"] and cat["evidence"] == [0, 1]
    assert cat["confidence"] < before["confidence"]


def test_a_strong_resolution_turn_holds_the_label_but_unsettles_it(scripted):
    clf = scripted({COMPLAINT: [0.8, 0.1, 0.1], RESOLVED: [0.1, 0.1, 0.8]})
    tracker = CategoryTracker()
    for i in range(2):
        tracker.update(clf, COMPLAINT, idx=i)
    tracker.update(clf, RESOLVED, idx=2)
    assert tracker.label == A and not tracker.category["stable"]  # C is pending: a second such turn would switch


def test_a_reloaded_model_with_other_classes_keeps_the_evidence(scripted):
    tracker = CategoryTracker()
    tracker.update(scripted({COMPLAINT: [0.8, 0.1, 0.1]}), COMPLAINT, idx=0)
    reloaded = scripted({SLOWER: [0.6, 0.2, 0.2]}, classes=(C, "data.slow", A))  # new order, B gone
    tracker.update(reloaded, SLOWER, idx=1)
    # read in the new order without remapping, A's old evidence would count for C and C would lead
    assert tracker.label == A and tracker.probs[A] > tracker.probs[C] > 0
    assert B not in tracker.probs and tracker.category["evidence"] == [0]  # the new turn spoke for C


# -- with a call model -------------------------------------------------------------------------------
def _call_model(fake_pipeline):
    """A small call model over the fake classifier: complaint and diagnosis turns count, resolution talk does not."""
    from hotline.models.call_model import CallModel

    clf = fake_pipeline.classifier
    turns_by_label = {
        "broadband.cannot_connect": ["宽带连不上了", "光猫亮红灯断网了", "家里宽带断网"],
        "billing.unexpected_charge": ["话费多扣了", "这个月扣费不对", "话费莫名扣了钱"],
    }
    calls = []
    for label, complaints in turns_by_label.items():
        for i in range(12):
            calls.append({"label": label, "turns": [
                {"speaker": "agent", "text": "您好请讲", "role": "opening"},
                {"speaker": "customer", "text": complaints[i % 3], "role": "complaint"},
                {"speaker": "customer", "text": ["话费的事回头再说", "宽带那个先不管"][i % 2], "role": "deferred"},
                {"speaker": "customer", "text": ["好了现在能上网了", "网速正常了谢谢", "余额查询一下"][i % 3], "role": "resolution"},
                {"speaker": "agent", "text": "感谢来电再见", "role": "closing"}]})
    probs = [clf.probabilities([t["text"] for t in c["turns"]]) for c in calls]
    return CallModel(c_call=20.0).fit(calls, probs, clf.classes)


def test_call_model_keeps_the_label_through_resolution_and_deferred_talk(fake_pipeline):
    model = _call_model(fake_pipeline)
    tr = CategoryTracker()
    clf = fake_pipeline.classifier
    assert tr.update(clf, "您好请讲", 0, speaker="agent", call_model=model) is False
    assert tr.category is None  # no evidence yet: nothing is shown after the greeting
    tr.update(clf, "家里宽带断网", 1, speaker="customer", call_model=model)
    assert tr.label == "broadband.cannot_connect" and tr.category["level"] in ("leaf", "service")
    for i, text in enumerate(["话费的事回头再说", "好了现在能上网了", "余额查询一下"], start=2):
        tr.update(clf, text, i, speaker="customer", call_model=model)
        assert tr.label == "broadband.cannot_connect", text
    assert 3 not in tr.category["evidence"]  # resolution talk is never evidence
    assert tr.recent[-1] == "家里宽带断网"  # resolution talk is not the FAQ query


def test_without_a_matching_call_model_agent_turns_are_ignored(fake_pipeline):
    tr = CategoryTracker()
    assert tr.update(fake_pipeline.classifier, "宽带连不上了", 0, speaker="agent") is False
    assert tr.category is None
