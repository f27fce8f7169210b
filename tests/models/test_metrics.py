"""hotline.models.metrics against scikit-learn's reference implementations (and hand-computed values)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    ndcg_score,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

from hotline.models.metrics import (
    classification_metrics,
    expected_calibration_error,
    mean_ranking_metrics,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    reliability_bins,
    top_k_accuracy,
)

CLASSES = ["a", "b", "c", "d"]


@pytest.fixture()
def random_case():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, len(CLASSES)))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = rng.integers(0, len(CLASSES), size=200)
    # make the model better than chance so the metrics are not all near 0.25
    probs[np.arange(100), y[:100]] += 1.0
    probs /= probs.sum(1, keepdims=True)
    return probs, [CLASSES[i] for i in y], y


def test_accuracy_and_macro_f1_match_sklearn(random_case):
    probs, y_true, _ = random_case
    m = classification_metrics(y_true, probs, CLASSES)
    y_pred = [CLASSES[i] for i in probs.argmax(1)]
    assert m["n"] == 200
    assert m["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=CLASSES, zero_division=0)
    for i, lab in enumerate(CLASSES):
        assert m["per_class"][lab] == pytest.approx({"precision": p[i], "recall": r[i], "f1": f[i], "support": s[i]})


def test_top_k_matches_sklearn(random_case):
    probs, _, y = random_case
    for k in (1, 2, 3):
        assert top_k_accuracy(probs, y, k) == pytest.approx(top_k_accuracy_score(y, probs, k=k, labels=range(4)))
    assert classification_metrics([CLASSES[i] for i in y], probs, CLASSES)["top3_accuracy"] == pytest.approx(
        top_k_accuracy_score(y, probs, k=3, labels=range(4)))


def test_unknown_true_labels_count_as_errors():
    probs = np.array([[0.9, 0.1, 0, 0], [0.2, 0.8, 0, 0]])
    m = classification_metrics(["a", "zzz"], probs, CLASSES)
    assert m["accuracy"] == 0.5
    assert m["confused_pairs"] == [{"true": "zzz", "pred": "b", "count": 1}]


def test_macro_f1_averages_over_the_true_labels_only():
    # "c" is predicted but never true: it does not enter the macro average (DataCLUE counts it; we document it)
    probs = np.eye(4)[[0, 1, 2]]
    m = classification_metrics(["a", "b", "b"], probs, CLASSES)
    assert m["macro_f1"] == pytest.approx(f1_score(["a", "b", "b"], ["a", "b", "c"], labels=["a", "b"], average="macro"))


def test_ece_by_hand_and_perfect_calibration():
    conf = np.array([0.95, 0.95, 0.55, 0.55])
    correct = np.array([1, 1, 1, 0])
    # bin of 0.95: accuracy 1.0 vs 0.95 → 0.05 × 1/2; bin of 0.55: 0.5 vs 0.55 → 0.05 × 1/2
    assert expected_calibration_error(conf, correct) == pytest.approx(0.05)
    assert expected_calibration_error(np.full(10, 0.7), np.array([1] * 7 + [0] * 3)) == pytest.approx(0.0)
    assert expected_calibration_error(np.array([]), np.array([])) == 0.0
    bins = reliability_bins(conf, correct, n_bins=10)
    assert sum(b["n"] for b in bins) == 4 and bins[9]["accuracy"] == 1.0 and bins[5]["accuracy"] == 0.5


def test_ranking_metrics_by_hand_and_ndcg_against_sklearn():
    ranked = ["x", "y", "z", "w"]
    assert recall_at_k(ranked, {"z"}, 2) == 0.0 and recall_at_k(ranked, {"z"}, 3) == 1.0
    assert recall_at_k(ranked, set(), 5) == 0.0  # an unanswerable query has no recall to give
    assert reciprocal_rank(ranked, {"z"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, {"q"}) == 0.0
    # sklearn: one query, binary relevance, scores that rank the ids in our order
    ids = ["x", "y", "z", "w", "v"]
    for rel in ({"z"}, {"y", "w"}, {"x"}):
        true = np.array([[1.0 if i in rel else 0.0 for i in ids]])
        score = np.array([[5.0, 4.0, 3.0, 2.0, 1.0]])
        assert ndcg_at_k(ids, rel, 10) == pytest.approx(ndcg_score(true, score, k=10))
    m = mean_ranking_metrics([ranked, ranked], [{"x"}, {"w"}])
    assert m["recall@1"] == 0.5 and m["recall@5"] == 1.0
    assert m["mrr@10"] == pytest.approx((1 + 1 / 4) / 2)
