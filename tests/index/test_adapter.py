"""The retrieval adapter: its file, the index's use of it, its binding to the no-answer model, cross-fitting."""

from __future__ import annotations

import numpy as np
import pytest

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.index.adapter import ADAPTER_DIR, RetrievalAdapter
from hotline.index.faq_index import FaqIndex
from hotline.index.no_answer import NoAnswerModel, fit_no_answer_model
from tests.index.test_no_answer import ADJACENT, _records, _views


def _near_identity(dim: int, seed: int, name: str) -> RetrievalAdapter:
    rng = np.random.default_rng(seed)
    return RetrievalAdapter(np.eye(dim, dtype=np.float32) + 0.2 * rng.standard_normal((dim, dim)).astype(np.float32),
                            encoder=name)


def test_apply_maps_and_normalises_and_names_a_wrong_dimension():
    a = RetrievalAdapter(np.diag([2.0, 1.0, 1.0]).astype(np.float32), encoder="fake")
    out = a.apply(np.array([[1.0, 1.0, 0.0]]))
    assert np.allclose(out, [[2 / np.sqrt(5), 1 / np.sqrt(5), 0.0]], atol=1e-6)
    with pytest.raises(InvalidInputError, match="maps 3-d vectors.*another encoder"):
        a.apply(np.ones((1, 4)))
    with pytest.raises(InvalidInputError, match="square"):
        RetrievalAdapter(np.ones((3, 4)), encoder="fake")


def test_save_load_round_trips_and_refuses_other_weights(tmp_path):
    a = _near_identity(8, 0, "fake")
    a.save(tmp_path / "a")
    back = RetrievalAdapter.load(tmp_path / "a")
    assert np.array_equal(back.weight, a.weight) and back.identity == a.identity and back.encoder == "fake"
    np.savez(tmp_path / "a" / "adapter.npz", weight=np.eye(8, dtype=np.float32))
    with pytest.raises(ArtifactError, match="does not hold the weights its meta.json names"):
        RetrievalAdapter.load(tmp_path / "a")


def test_index_scores_queries_in_the_adapted_space_and_keeps_it_through_save_load(small_kb, hash_encoder,
                                                                                  segmenter, tmp_path):
    adapter = _near_identity(hash_encoder.dim, 1, hash_encoder.name)
    plain = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, no_answer="none", adapter=None)
    idx = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, no_answer="none", adapter=adapter)
    qs = ["宽带太慢了", "光猫红灯", "话费还剩多少"]
    qv = hash_encoder.encode_queries(qs)
    # the rows are stored adapted and the (raw) query vectors are adapted on the way in
    assert np.allclose(idx.adapt(qv), adapter.apply(qv)) and np.array_equal(plain.adapt(qv), qv)
    cos_plain, _ = plain.entry_scores(qs, qv)
    cos, _ = idx.entry_scores(qs, qv)
    assert not np.allclose(cos, cos_plain)
    # dense scores are the plain formula in the adapted space: an identity adapter changes nothing
    same = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, no_answer="none",
                          adapter=RetrievalAdapter(np.eye(hash_encoder.dim), encoder=hash_encoder.name))
    assert np.allclose(same.entry_scores(qs, qv)[0], cos_plain, atol=1e-6)
    assert idx.search_vectors(qv, qs) == idx.search(qs)
    assert idx.meta["adapter"]["identity"] == adapter.identity and idx.describe()["adapter"] == adapter.identity
    idx.save(tmp_path / "idx")
    loaded = FaqIndex.load(tmp_path / "idx", hash_encoder, segmenter=segmenter)
    assert loaded.adapter is not None and loaded.adapter.identity == adapter.identity
    assert loaded.search(qs) == idx.search(qs)
    # an index folder without the adapter it names is refused
    import shutil

    shutil.rmtree(tmp_path / "idx" / ADAPTER_DIR)
    with pytest.raises(ArtifactError, match="lacks adapter/"):
        FaqIndex.load(tmp_path / "idx", hash_encoder, segmenter=segmenter)
    with pytest.raises(InvalidInputError, match="fitted for encoder 'other'"):
        FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, no_answer="none",
                       adapter=_near_identity(hash_encoder.dim, 1, "other"))


def test_the_no_answer_model_brings_its_adapter_and_another_one_falls_back(small_kb, hash_encoder, segmenter,
                                                                           offtopic, tmp_path):
    adapter = _near_identity(hash_encoder.dim, 2, hash_encoder.name)
    views = [FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, no_answer="none", adapter=adapter)]
    model = fit_no_answer_model(views, _records(small_kb), offtopic=offtopic, n_splits=4, adapter=adapter)
    assert model.adapter_identity == adapter.identity and model.adapter is adapter
    model.save(tmp_path / "na.json")
    with pytest.raises(ArtifactError, match="adapter/ is missing|was fitted with a retrieval adapter"):
        NoAnswerModel.load(tmp_path / "na.json")
    adapter.save(tmp_path / ADAPTER_DIR)
    back = NoAnswerModel.load(tmp_path / "na.json")
    assert back.adapter is not None and back.adapter.identity == adapter.identity
    # "auto": the index takes the model's adapter and uses the model
    idx = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, no_answer_model=tmp_path / "na.json")
    assert idx.adapter is not None and idx.adapter.identity == adapter.identity
    assert idx.meta["no_answer"]["source"] == "shipped"
    # no adapter, or another one: the model's cosine features mean nothing there, so self-calibration
    for other in (None, _near_identity(hash_encoder.dim, 3, hash_encoder.name)):
        idx = FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, offtopic=offtopic,
                             no_answer_model=tmp_path / "na.json", adapter=other)
        assert idx.meta["no_answer"]["source"] == "self" and "retrieval adapter" in idx.meta["no_answer"]["reason"]
    with pytest.raises(InvalidInputError, match="adapter must be"):
        FaqIndex.build(small_kb, hash_encoder, segmenter=segmenter, no_answer_model=tmp_path / "na.json",
                       adapter="shipped")


def test_cross_fitted_views_always_drop_the_codes_their_adapter_learnt(small_kb, hash_encoder, segmenter, offtopic,
                                                                       keyword_classifier, monkeypatch):
    halves = [{"broadband.cannot_connect", "inquiry.billing_info", "coverage.weak_signal", "sms.cannot_receive"},
              {"broadband.slow", "billing.unexpected_charge", "vas.unsubscribe_fail", "plan.number_porting"}]
    parts = [_near_identity(hash_encoder.dim, 10 + k, hash_encoder.name) for k in range(2)]
    base = _views(small_kb, hash_encoder, segmenter, keyword_classifier)
    views = [FaqIndex.build(v.kb, hash_encoder, segmenter=segmenter, category_model=keyword_classifier,
                            no_answer="none", adapter=a) for v in base for a in parts]
    import hotline.index.no_answer as na

    seen: list[tuple[str, set[str], int]] = []
    masked = na._masked

    def spy(keep, x):
        seen.append((keep.tobytes().hex(), {e.category for e, k in zip(small_kb, keep, strict=True) if k}, len(x)))
        return masked(keep, x)

    monkeypatch.setattr(na, "_masked", spy)
    model = fit_no_answer_model(views, _records(small_kb), offtopic=offtopic, adjacent=ADJACENT,
                                category_model=keyword_classifier, n_splits=12, drop_share=0.3,
                                view_fitted_codes=[h for _ in base for h in halves])
    kept_per_split = [codes for _, codes, _ in seen[::3]]  # cos, bm, aff are masked per split
    assert len(kept_per_split) == 12
    for s, kept in enumerate(kept_per_split):
        assert kept and not kept & halves[(s % len(views)) % 2]
    assert model.info["view_fitted_codes"][0] == sorted(halves[0])
    assert model.info["view_adapters"] == [a.identity for _ in base for a in parts]
    with pytest.raises(InvalidInputError, match="one entry per view"):
        fit_no_answer_model(views, _records(small_kb), offtopic=offtopic, view_fitted_codes=[halves[0]])
    with pytest.raises(InvalidInputError, match="fewer than 2 to test it on"):
        fit_no_answer_model(views[:1], _records(small_kb), offtopic=offtopic, view_fitted_codes=[halves[0] | halves[1]])
