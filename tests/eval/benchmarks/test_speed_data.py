"""Data of the speed benchmark: synthetic vectors and the large synthetic KB."""

from __future__ import annotations

import numpy as np

from hotline.core.settings import Settings
from hotline.eval.benchmarks.speed_data import prepare_texts, synthetic_kb, synthetic_vectors


def test_synthetic_vectors_are_unit_length_and_reproducible():
    centres = np.random.default_rng(0).standard_normal((10, 16), dtype=np.float32)
    a = synthetic_vectors(250, centres, np.random.default_rng(1))
    b = synthetic_vectors(250, centres, np.random.default_rng(1))
    assert a.shape == (250, 16) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(a, b)


def test_synthetic_kb_recombines_shipped_answers_with_generated_questions(tmp_path):
    settings = Settings(home=tmp_path)
    pool = {"voice.cannot_call": ["电话打不出去", "一拨号就挂", "拨号没反应"],
            "voice.call_drop": ["打着打着就断了", "通话老掉线"], "not.a.shipped_code": ["无关的问题"]}
    kb = synthetic_kb(settings, pool, 7)
    assert len(kb) == 7 and len({e.id for e in kb.entries}) == 7
    assert {e.category for e in kb.entries} == {"voice.cannot_call", "voice.call_drop"}  # codes with shipped FAQs
    for e in kb.entries:
        assert e.question in pool[e.category] and e.question not in e.similar and e.answer


def test_prepared_text_sets_have_their_sizes_and_do_not_overlap(tmp_path):
    t = prepare_texts(Settings(home=tmp_path), n_utterances=5, http_requests=3, classify_n=10, kb_queries=4,
                      kb_pool_per_code=1, segment_texts=12, seed=13)
    assert (len(t.latency), len(t.http), len(t.classify), len(t.kb_queries), len(t.segment)) == (5, 3, 10, 4, 12)
    sets = [set(t.latency), set(t.http), set(t.classify), set(t.kb_queries), {q for qs in t.kb_pool.values() for q in qs}]
    assert sum(map(len, sets)) == len(set().union(*sets))  # disjoint: no section warms another's encoder cache
    assert all(len(qs) == 1 for qs in t.kb_pool.values())
