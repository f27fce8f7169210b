from __future__ import annotations

import json

import numpy as np
import pytest

from hotline.core.errors import ArtifactError, InvalidInputError, NotFittedError
from hotline.index.abstention import AbstentionCalibrator

FEATS = ("margin", "cos", "noise")


def _data(n: int = 300, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Two well-separated classes: right answers have a large margin and cosine."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(int)
    feats = {"margin": np.where(y == 1, 1.0, -1.0) + 0.2 * rng.normal(size=n),
             "cos": np.where(y == 1, 0.8, 0.3) + 0.05 * rng.normal(size=n),
             "noise": rng.normal(size=n)}
    return feats, y


def test_init_defaults_and_not_fitted():
    cal = AbstentionCalibrator(FEATS)
    assert cal.features == FEATS and cal.c == 1.0 and cal.max_iter == 1000 and cal.threshold_ == 0.5
    with pytest.raises(NotFittedError, match="Call 'fit' first"):
        cal.proba(_data()[0])
    with pytest.raises(NotFittedError):
        cal.to_dict()
    with pytest.raises(InvalidInputError, match="features"):
        AbstentionCalibrator("margin")


def test_fit_separates_separable_data():
    feats, y = _data()
    cal = AbstentionCalibrator(FEATS).fit(feats, y)
    p = cal.proba(feats)
    assert p.shape == (len(y),) and ((p >= 0.5) == (y == 1)).all()
    assert np.array_equal(cal.abstain(feats), p < 0.5)
    assert cal.coef_[0] > 0 and abs(cal.coef_[2]) < abs(cal.coef_[0])  # the noise feature barely counts


def test_features_are_taken_by_name():
    feats, y = _data()
    cal = AbstentionCalibrator(FEATS).fit(feats, y)
    shuffled = {"extra": np.zeros(len(y)), **{k: feats[k] for k in reversed(FEATS)}}
    assert np.array_equal(cal.proba(shuffled), cal.proba(feats))
    with pytest.raises(InvalidInputError, match=r"\['noise'\] were not computed"):
        cal.proba({k: feats[k] for k in ("margin", "cos")})


@pytest.mark.parametrize("target", [0.5, 0.8, 0.95])
def test_threshold_hits_target_rejection_rate(target):
    feats, y = _data(n=400)
    cal = AbstentionCalibrator(FEATS).fit(feats, y)
    p_neg = cal.proba({k: v[y == 0] for k, v in feats.items()})
    thr = cal.pick_threshold(p_neg, target_reject=target)
    assert thr == cal.threshold_
    rejected = (p_neg < thr).mean()
    assert target - 1.0 / len(p_neg) <= rejected <= target + 1e-12


def test_weighted_threshold_counts_weights():
    p = np.linspace(0.0, 1.0, 11)  # 0.0, 0.1, …, 1.0
    w = np.ones(11)
    w[:5] = 3.0  # the five lowest carry 15 of 21 weight units
    cal = AbstentionCalibrator(FEATS)
    thr = cal.pick_threshold(p, target_reject=0.7, sample_weight=w)
    # cumulative weight reaches 70 % at 0.4 (15/21); the queries strictly below it abstain: 12/21
    assert thr == pytest.approx(0.4) and w[p < thr].sum() / w.sum() == pytest.approx(12 / 21)
    with pytest.raises(InvalidInputError, match="target_reject"):
        cal.pick_threshold(p, target_reject=1.0)
    with pytest.raises(InvalidInputError, match="empty"):
        cal.pick_threshold(np.array([]), target_reject=0.5)


def test_to_dict_from_dict_round_trip_gives_identical_probabilities():
    feats, y = _data()
    cal = AbstentionCalibrator(FEATS).fit(feats, y)
    cal.pick_threshold(cal.proba(feats)[y == 0], target_reject=0.8)
    cal.stats_ = {"note": "fit on synthetic data"}
    d = json.loads(json.dumps(cal.to_dict()))  # plain numbers only
    assert set(d) == {"features", "mean", "scale", "coef", "intercept", "threshold", "stats"}
    back = AbstentionCalibrator.from_dict(d)
    assert np.array_equal(back.proba(feats), cal.proba(feats))
    assert back.threshold_ == cal.threshold_ and back.features == FEATS and back.stats_ == cal.stats_
    assert back.to_dict() == cal.to_dict()


def test_to_dict_omits_empty_stats():
    feats, y = _data()
    assert "stats" not in AbstentionCalibrator(FEATS).fit(feats, y).to_dict()


def test_from_dict_refuses_unknown_or_malformed():
    feats, y = _data()
    d = AbstentionCalibrator(FEATS).fit(feats, y).to_dict()
    with pytest.raises(ArtifactError, match=r"unknown here: \['noise'\].*rebuild it"):
        AbstentionCalibrator.from_dict(d, valid_features=("margin", "cos"), fix="rebuild it")
    with pytest.raises(ArtifactError, match="lengths 3/3/2"):
        AbstentionCalibrator.from_dict({**d, "coef": d["coef"][:2]})
    with pytest.raises(ArtifactError, match="malformed"):
        AbstentionCalibrator.from_dict({k: v for k, v in d.items() if k != "threshold"})


def test_cross_val_proba_is_out_of_fold_and_leaves_the_model():
    feats, y = _data()
    cal = AbstentionCalibrator(FEATS).fit(feats, y)
    before = cal.to_dict()
    oof = cal.cross_val_proba(feats, y, n_splits=5, seed=0)
    assert oof.shape == (len(y),) and ((oof >= 0.5) == (y == 1)).mean() > 0.95
    assert np.array_equal(oof, cal.cross_val_proba(feats, y, n_splits=5, seed=0))  # seeded
    assert cal.to_dict() == before
    with pytest.raises(InvalidInputError, match="2 examples of each label"):
        cal.cross_val_proba(feats, np.r_[1, np.zeros(len(y) - 1, dtype=int)])
