"""Fitting the retrieval adapter on a KB's paraphrases (the index's use of it: tests/index/test_adapter.py)."""

from __future__ import annotations

import numpy as np
import pytest

from hotline.core.errors import InvalidInputError
from hotline.index.kb import FaqEntry, KnowledgeBase
from hotline.training.adapter import fit_adapter
from tests.index.conftest import KB_ROWS


@pytest.fixture()
def small_kb() -> KnowledgeBase:
    return KnowledgeBase([FaqEntry(i, q, a, c, list(s)) for i, q, a, c, s in KB_ROWS])


def _paraphrase_scores(kb, encoder, adapter):
    """Per similar question: (its entry's dense score, the best other entry's), question 0.7 / answer 0.3."""
    def space(x):
        x = np.asarray(x, dtype=np.float32)
        return adapter.apply(x) if adapter is not None else x / np.linalg.norm(x, axis=1, keepdims=True)

    entries = list(kb)
    qs = [(s, j) for j, e in enumerate(entries) for s in e.similar]
    q = space(encoder.encode_queries([s for s, _ in qs]))
    sq = q @ space(encoder.encode_queries([e.question for e in entries])).T
    sa = q @ space(encoder.encode_corpus([e.answer for e in entries])).T
    s = 0.7 * sq + 0.3 * sa
    y = np.array([j for _, j in qs])
    return (s.argmax(1) == y).mean(), -np.log(np.exp(s / 0.05)[np.arange(len(y)), y] / np.exp(s / 0.05).sum(1)).mean()


def test_fit_sharpens_paraphrase_matching_and_stays_near_the_identity(small_kb, hash_encoder):
    adapter = fit_adapter(small_kb, hash_encoder, steps=150, lr=1e-2)
    assert adapter.encoder == hash_encoder.name and adapter.info["pairs"] == 24 and adapter.info["entries"] == 8
    acc0, loss0 = _paraphrase_scores(small_kb, hash_encoder, None)
    acc1, loss1 = _paraphrase_scores(small_kb, hash_encoder, adapter)
    assert loss1 < loss0 and acc1 >= acc0
    # the pull to the identity keeps it a gentle map; a weaker pull moves further
    loose = fit_adapter(small_kb, hash_encoder, steps=150, lr=1e-2, strength=0.0)
    eye = np.eye(hash_encoder.dim)
    assert np.abs(adapter.weight - eye).sum() < np.abs(loose.weight - eye).sum()
    # deterministic
    assert fit_adapter(small_kb, hash_encoder, steps=150, lr=1e-2).identity == adapter.identity


def test_fit_errors_name_the_fix(small_kb, hash_encoder):
    bare = KnowledgeBase([FaqEntry(e.id, e.question, e.answer, e.category, []) for e in small_kb])
    with pytest.raises(InvalidInputError, match="add 'similar' questions"):
        fit_adapter(bare, hash_encoder)
    with pytest.raises(InvalidInputError, match="got 6 over 2"):
        fit_adapter(small_kb, hash_encoder, codes={"broadband.slow", "broadband.cannot_connect"})
    with pytest.raises(InvalidInputError, match="temperature > 0"):
        fit_adapter(small_kb, hash_encoder, temperature=0.0)
