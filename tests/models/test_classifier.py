from __future__ import annotations

import json

import numpy as np
import pytest

from hotline.core.errors import ArtifactError, InvalidInputError, NotFittedError
from hotline.models.classifier import Builder, ComplaintClassifier

TEXTS = [
    "家里宽带连不上了", "光猫亮红灯上不了网", "宽带一直断网", "路由器连不上宽带", "宽带又断了好几次", "家里网络断了",
    "手机没有信号", "地下室一格信号都没有", "信号特别差打不了电话", "家里信号很弱", "电梯里没信号", "小区信号时有时无",
    "这个月话费多扣了五十", "话费莫名其妙变多了", "扣费不对多收钱了", "账单比平时贵一百", "话费怎么这么高", "乱扣我话费",
]
LABELS = ["broadband.cannot_connect"] * 6 + ["coverage.weak_signal"] * 6 + ["billing.unexpected_charge"] * 6


@pytest.mark.parametrize("builder", [b.value for b in Builder])
def test_overfit_then_reload_gives_identical_output(builder, tmp_path):
    clf = ComplaintClassifier(builder=builder, holdout=0.0, c_tfidf=100, c_embed=100).fit(TEXTS, LABELS)
    assert clf.predict(TEXTS) == LABELS
    probs = clf.predict_proba(TEXTS)
    assert probs.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    clf.save(tmp_path / "m")
    again = ComplaintClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(TEXTS), probs, rtol=1e-6)
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert meta["kind"] == "complaint_classifier" and meta["builder"] == builder
    assert meta["labels"] == sorted(set(LABELS)) and meta["libraries"]["scikit-learn"]


def test_batch_equals_one_by_one():
    clf = ComplaintClassifier(builder="complaint.ensemble.v1", holdout=0.0).fit(TEXTS, LABELS)
    batch = clf.predict_proba(TEXTS[:7])
    single = np.vstack([clf.predict_proba([t]) for t in TEXTS[:7]])
    np.testing.assert_allclose(batch, single, rtol=1e-5, atol=1e-6)


def test_holdout_fits_weight_temperature_and_thresholds():
    texts, labels = TEXTS * 3, LABELS * 3
    clf = ComplaintClassifier(builder="complaint.ensemble.v1", holdout=0.2, seed=1).fit(texts, labels)
    assert 0.0 <= clf.weight_ <= 1.0
    assert 0.05 <= clf.temperature_ <= 10.0
    assert clf.holdout_metrics_["n"] > 0
    assert 0.0 <= clf.threshold_for("coverage.weak_signal") <= 1.0


def test_arbitrary_string_labels():
    clf = ComplaintClassifier(builder="complaint.tfidf_lr.v1", holdout=0.0).fit(
        ["退款什么时候到", "钱什么时候退", "发什么快递", "用哪家快递发货"], ["refund", "refund", "ship", "ship"])
    assert clf.classes_ == ["refund", "ship"]
    assert clf.predict(["退款还没到"]) == ["refund"]


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        ComplaintClassifier().predict_proba(["宽带"])
    with pytest.raises(InvalidInputError, match="builder must be one of"):
        ComplaintClassifier(builder="svm")
    with pytest.raises(InvalidInputError, match="at least 2 distinct labels"):
        ComplaintClassifier().fit(["a", "b"], ["x", "x"])
    with pytest.raises(ArtifactError, match="no meta.json"):
        ComplaintClassifier.load(tmp_path)


def test_fast_tfidf_path_matches_sklearn():
    from hotline.models.classifier import _preprocess

    texts = ["家里宽带连不上了光猫红灯", "信号差", "这个月话费多扣了", "完全无关的句子ABC"]
    x = _preprocess(texts)
    for labels in (LABELS, LABELS[:12]):  # multinomial and binary logistic regression
        clf = ComplaintClassifier(builder="complaint.tfidf_lr.v1", holdout=0.0).fit(TEXTS[: len(labels)], labels)
        slow = clf.tfidf_lr_.predict_log_proba(clf.vectorizer_.transform(x))
        np.testing.assert_allclose(clf._fast_tfidf_log_proba(x), slow, rtol=1e-6, atol=1e-8)


def test_refit_starts_from_the_split_solution_and_reaches_the_same_model(tiny_corpus, monkeypatch):
    import hotline.models.classifier as classifier_module

    rows = tiny_corpus[::3]  # 10 per code
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    carried = []
    real_carry = classifier_module._carry_columns
    monkeypatch.setattr(classifier_module, "_carry_columns",
                        lambda old, new, coef: carried.append((len(old.transformer_list[1][1].vocabulary_), coef.shape))
                        or real_carry(old, new, coef))
    warm = ComplaintClassifier(builder="complaint.ensemble.v1", seed=0).fit(texts, labels)
    assert len(carried) == 1 and carried[0][1][0] == len(warm.classes_)  # the refit started from the split's weights
    real_fit = ComplaintClassifier._fit_components
    monkeypatch.setattr(ComplaintClassifier, "_fit_components",
                        lambda self, *a, warm=False: real_fit(self, *a, warm=False))
    cold = ComplaintClassifier(builder="complaint.ensemble.v1", seed=0).fit(texts, labels)
    assert len(carried) == 1
    # the same convex losses, so the same optimum within the solvers' tolerance: the same decisions
    held = ["家里的宽带从昨天起就连不上网了", "手机在地下车库一点信号都没有", "这个月的话费多扣了三十块钱", "来电显示要怎么开通"]
    assert np.mean(np.array(warm.predict(texts)) == np.array(cold.predict(texts))) >= 0.99
    assert warm.predict(held) == cold.predict(held)
    np.testing.assert_allclose(warm.predict_proba(held), cold.predict_proba(held), atol=0.05)
