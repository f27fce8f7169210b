"""hotline.training.gate: the promote / refuse decision on constructed metric tables (no training)."""

from __future__ import annotations

import copy

import pytest

from hotline.core.errors import InvalidInputError
from hotline.training.gate import CLASS_DROP, TOLERANCE, GateCheck, decide, noise_tolerance


def _table(**over) -> dict:
    """Metrics of one build on the shipped sets (and a user gate set), with per-code hits on the class sets."""
    t = {
        "classify_handwritten": {"n": 252, "accuracy": 0.96, "abstain_rate": 0.05,
                                 "per_class": {"data.slow": [6, 6], "broadband.cannot_connect": [5, 6]}},
        "work_orders": {"n": 84, "accuracy": 0.98, "per_class": {"data.slow": [2, 2]}},
        "offtopic_handwritten": {"n": 160, "out_of_scope_rejected": 0.83},
        "retrieval_queries": {"n": 280, "recall@1": 0.75, "no_answer_accuracy": 0.67, "recall@5": 0.95},
        "retrieval_unanswerable": {"n": 160, "no_answer_accuracy": 0.80},
        "gate:mine.jsonl": {"n": 50, "accuracy": 0.90},
    }
    for path, value in over.items():
        name, metric = path.split("__")
        t[name][metric] = value
    return t


def test_identical_builds_pass():
    cur = _table()
    report = decide(cur, copy.deepcopy(cur), gate_sets=["gate:mine.jsonl"])
    assert report["passed"] and report["failures"] == [] and report["class_drops"] == []
    assert report["tolerance"] == TOLERANCE == 0.02 and report["class_drop"] == CLASS_DROP
    assert {r["set"] for r in report["checks"]} >= {"classify_handwritten", "work_orders", "offtopic_handwritten",
                                                   "retrieval_queries", "gate:mine.jsonl"}
    # the per-code table stays out of the public report
    assert "per_class" not in report["sets"]["classify_handwritten"]["candidate"]


def test_small_regression_within_tolerance_passes_and_improvement_passes():
    cand = _table(classify_handwritten__accuracy=0.945, work_orders__accuracy=1.0)  # -0.015 / +0.02
    assert decide(_table(), cand)["passed"]


@pytest.mark.parametrize("over, needle", [
    ({"classify_handwritten__accuracy": 0.93}, "classify_handwritten accuracy 0.960 -> 0.930"),
    ({"work_orders__accuracy": 0.94}, "work_orders accuracy"),  # beyond two standard errors on 84 orders
    ({"offtopic_handwritten__out_of_scope_rejected": 0.80}, "offtopic_handwritten out_of_scope_rejected"),
    ({"classify_handwritten__abstain_rate": 0.09}, "abstain_rate 0.050 -> 0.090 (+0.040; allowed +0.028) (lower"),
    ({"retrieval_unanswerable__no_answer_accuracy": 0.7}, "retrieval_unanswerable no_answer_accuracy"),
])
def test_a_shipped_regression_beyond_tolerance_refuses(over, needle):
    report = decide(_table(), _table(**over))
    assert not report["passed"]
    assert len(report["failures"]) == 1 and needle in report["failures"][0], report["failures"]


def test_a_rate_that_falls_is_better_and_unscored_metrics_are_not_gated():
    # abstaining less is better; recall@5 is reported, not gated
    cand = _table(classify_handwritten__abstain_rate=0.01)
    cand["retrieval_queries"]["recall@5"] = 0.5
    assert decide(_table(), cand)["passed"]


def test_user_gate_sets_may_not_get_worse_at_all():
    worse = _table(**{"gate:mine.jsonl__accuracy": 0.899})
    assert not decide(_table(), worse, gate_sets=["gate:mine.jsonl"])["passed"]
    # the same drop on a set that is not named as a gate set is not judged
    assert decide(_table(), worse)["passed"]
    same = decide(_table(), _table(), gate_sets=["gate:mine.jsonl"])
    assert same["passed"] and any(r["gate_set"] and r["passed"] for r in same["checks"])


def test_a_user_gate_set_with_null_labels_is_judged_on_rejection():
    cur, cand = _table(), _table()
    cur["gate:off.jsonl"] = {"n": 20, "out_of_scope_rejected": 0.9}
    cand["gate:off.jsonl"] = {"n": 20, "out_of_scope_rejected": 0.85}
    report = decide(cur, cand, gate_sets=["gate:off.jsonl"])
    assert not report["passed"] and "gate:off.jsonl out_of_scope_rejected" in report["failures"][0]


def test_one_code_wiped_out_refuses_although_accuracy_holds():
    cand = _table()
    cand["classify_handwritten"]["per_class"]["data.slow"] = [0, 6]
    cand["work_orders"]["per_class"]["data.slow"] = [0, 2]
    report = decide(_table(), cand)
    assert not report["passed"]
    assert report["class_drops"][0]["code"] == "data.slow" and report["class_drops"][0]["n"] == 8
    assert "code data.slow recall 1.00 -> 0.00" in report["failures"][0]
    # half of the code's recall lost is still allowed; a code with too few examples is not judged
    cand["classify_handwritten"]["per_class"]["data.slow"] = [2, 6]
    cand["work_orders"]["per_class"]["data.slow"] = [2, 2]
    assert decide(_table(), cand)["passed"]
    assert decide(_table(), cand, class_min_n=10, class_drop=0.1)["passed"]


def test_missing_values():
    cand = _table()
    del cand["work_orders"]["accuracy"]
    assert not decide(_table(), cand)["passed"]  # the candidate must be measured on what the current build was
    cur = _table()
    del cur["offtopic_handwritten"]
    assert decide(cur, _table())["passed"]  # a set the current build was not measured on is skipped
    with pytest.raises(InvalidInputError, match="gate set"):
        decide(_table(), _table(), gate_sets=["gate:absent.jsonl"])
    with pytest.raises(InvalidInputError, match="tolerance"):
        decide(_table(), _table(), tolerance=-0.1)


def test_tolerance_is_applied_to_every_shipped_check():
    cand = _table(work_orders__accuracy=0.94)
    assert not decide(_table(), cand)["passed"]
    assert decide(_table(), cand, tolerance=0.05)["passed"]
    check = GateCheck("s", "accuracy", tolerance=0.0)
    assert check.judge(0.5, 0.5)["passed"] and not check.judge(0.5, 0.49)["passed"]
    assert check.judge(None, 0.1)["passed"] and not check.judge(0.1, None)["passed"]


def test_a_drop_within_a_sets_sampling_noise_passes():
    # 4 of 160 off-topic sentences (0.963 -> 0.938) is within two standard errors (0.0298) of one build's rate
    cur = _table(offtopic_handwritten__out_of_scope_rejected=0.963)
    cur["offtopic_handwritten"]["n_out_of_scope"] = 160
    cand = copy.deepcopy(cur)
    cand["offtopic_handwritten"]["out_of_scope_rejected"] = 0.938
    report = decide(cur, cand)
    row = next(r for r in report["checks"] if r["set"] == "offtopic_handwritten")
    assert report["passed"] and row["allowed"] == -0.0298
    cand["offtopic_handwritten"]["out_of_scope_rejected"] = 0.925  # 6 of 160: beyond the noise
    assert not decide(cur, cand)["passed"]
    assert noise_tolerance("accuracy", {"n": 84, "accuracy": 0.98}) == pytest.approx(2 * (0.98 * 0.02 / 84) ** 0.5)
    assert noise_tolerance("accuracy", {"accuracy": 0.98}) == 0.0  # no count: the fixed tolerance alone
