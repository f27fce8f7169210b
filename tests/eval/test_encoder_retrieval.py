"""eval.benchmarks.encoder_retrieval: the encoder-only ranking figures and the batch-1 latency probe."""

from __future__ import annotations

import numpy as np
import pytest

from hotline.core.errors import InvalidInputError
from hotline.eval.benchmarks.encoder_retrieval import dense_metrics, encode_latency_ms
from hotline.index.kb import FaqEntry, KnowledgeBase
from hotline.models.encoders import Encoder


class _CharBagEncoder(Encoder):
    """Bag of characters hashed into 64 dimensions: enough to rank a toy KB, and it counts its calls."""

    name = "charbag"
    dim = 64

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, bool]] = []

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        self.calls.append((len(texts), is_query))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for ch in t:
                out[i, ord(ch) % self.dim] += 1.0
        return out


KB = KnowledgeBase([
    FaqEntry("k1", "宽带断网怎么办", "重启光猫", similar=["家里网络连不上"]),
    FaqEntry("k2", "话费多扣了", "核查账单"),
    FaqEntry("k3", "手机没有信号", "检查SIM卡"),
])


def test_dense_metrics_rank_entries_by_their_best_row():
    enc = _CharBagEncoder()
    queries = [{"query": "家里网络连不上了", "relevant": ["k1"]}, {"query": "手机没信号", "relevant": ["k3"]},
               {"query": "天气怎么样", "relevant": []}]
    m = dense_metrics(enc, KB, queries)
    assert m == {"recall@1": 1.0, "recall@5": 1.0, "mrr@10": 1.0}
    assert any(not is_query for _, is_query in enc.calls)  # answers are embedded as passages
    wrong = dense_metrics(enc, KB, [{"query": "家里网络连不上了", "relevant": ["k2"]}])
    assert wrong["recall@1"] == 0.0 and 0.0 < wrong["mrr@10"] < 1.0
    with pytest.raises(InvalidInputError, match="no answerable query"):
        dense_metrics(enc, KB, [{"query": "天气", "relevant": []}])


def test_latency_is_measured_one_uncached_query_at_a_time():
    enc = _CharBagEncoder()
    res = encode_latency_ms(enc, ["宽带断了", "宽带断了", "话费"], warmup=1)
    assert set(res) == {"latency_ms_p50", "latency_ms_p99"} and 0 <= res["latency_ms_p50"] <= res["latency_ms_p99"]
    assert enc.calls == [(1, True)] * 4  # the repeated text is encoded again: the cache is cleared each time
