"""hotline.eval.calls: call-level scoring (labels with null, slots as said, escalation, incidents, stability)."""

from __future__ import annotations

import pytest

from hotline.eval.calls import same_slot, score_calls, slot_overlap


def _r(cid, label, *, slots=None, esc=False, shown=None, abstain=False):
    return {"call_id": cid, "label": label, "abstain": abstain, "slots": slots or {}, "escalation": esc,
            "shown": shown or [label]}


def test_slot_matching_ignores_spaces_and_punctuation():
    assert same_slot("138 1234-5678", "13812345678")
    assert not same_slot("13812345670", "13812345678")
    assert not same_slot("anything", None)
    assert slot_overlap("万达广场B座", "万达广场B座那个写字楼里面") == pytest.approx(2 * 6 / (6 + 13))
    assert slot_overlap(None, "刚才") == 0.0


def test_a_number_field_reads_digits_said_in_words():
    assert same_slot("13611028867", "幺三六 幺一零二 八八六七", "fault_number")
    assert same_slot("051683720455", "零五幺六 八三七二 零四五五", "broadband_account")
    assert same_slot("022NK30817645", "022nk30817645", "broadband_account")  # letters kept
    assert not same_slot("13611028868", "幺三六 幺一零二 八八六七", "fault_number")
    assert not same_slot("136", "幺三六", "location")  # only number fields read digits


def test_scores_labels_null_labels_and_services():
    results = [_r("a", "broadband.slow"), _r("b", "broadband.cannot_connect"), _r("c", None, abstain=True),
               _r("d", "data.slow")]
    gold = {"a": {"label": "broadband.slow"}, "b": {"label": "broadband.slow"}, "c": {"label": None},
            "d": {"label": None}}
    m = score_calls(results, [], gold)
    assert m["label_accuracy"] == 0.5  # a right, b wrong leaf, c rightly rejected, d wrongly labelled
    assert m["service_accuracy"] == 0.75  # b has the right service
    assert m["out_of_scope_rejected"] == 0.5 and m["abstain_rate"] == 0.0


def test_slots_escalation_incidents_and_stability():
    results = [
        _r("a", "x.y", slots={"phone": "13812345678", "location": "文三路"}, esc=True, shown=[None, "x.z", "x.y", "x.y"]),
        _r("b", "x.y", slots={"phone": "13900000000"}, shown=["x.y", "x.y"]),
        _r("c", "x.y", esc=True),
    ]
    gold = {"a": {"slots": {"phone": "138 1234 5678", "location": "文三路90号"}, "escalation": True, "incident": "A"},
            "b": {"slots": {"phone": "13911111111"}, "escalation": False, "incident": "A"},
            "c": {"escalation": False, "incident": None}}
    incidents = [{"code": "x.y", "region": "杭州市", "call_ids": ["a", "b", "c"], "first": "t0", "last": "t1"}]
    m = score_calls(results, incidents, gold)
    assert m["slot_exact"] == {"location": 0.0, "phone": 0.5} and m["slot_n"]["phone"] == 2
    assert m["escalation_precision"] == 0.5 and m["escalation_recall"] == 1.0
    assert m["incidents"] == 1
    assert m["incident_groups"] == {"A": {"calls": 2, "raised": 1, "calls_found": 2, "decoys_joined": 1}}
    assert m["turns_to_final_label"] == pytest.approx((3 + 1 + 1) / 3)
    assert m["label_changes_per_call"] == pytest.approx(1 / 3)
