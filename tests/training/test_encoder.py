"""training.encoder: pair building, batches without false negatives, and a real (tiny) fine-tune round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.jsonl import write_jsonl
from hotline.core.resources import data_path
from hotline.index.kb import FaqEntry, KnowledgeBase
from hotline.training.encoder import (
    EncoderTrainConfig,
    TrainPair,
    group_batches,
    kb_pairs,
    query_pairs,
    train_encoder,
)

ENTRIES = [
    {"id": "a1", "category": "voice.cannot_call", "question": "欠费停机打不出电话怎么办？",
     "answer": "请先充值，缴费后自动复机。", "similar": ["手机欠费了打不出去", "话费用完了不能打电话"]},
    {"id": "a2", "category": "voice.cannot_call", "question": "拨号后马上挂断是什么原因？",
     "answer": "请重启手机并检查飞行模式。", "similar": ["一拨号就自己挂了", "电话拨出去就断"]},
    {"id": "b1", "category": "data.slow", "question": "手机上网很慢怎么办？",
     "answer": "请检查套餐流量是否已用完。", "similar": ["4G网速特别慢", "刷网页一直转圈"]},
    {"id": "c1", "category": "billing.dispute", "question": "话费多扣了怎么处理？",
     "answer": "我们为您核查扣费明细。", "similar": ["这个月话费莫名其妙多了", "乱扣我钱"]},
    {"id": "d1", "category": "broadband.down", "question": "家里宽带断网了怎么办？",
     "answer": "请重启光猫和路由器。", "similar": ["宽带连不上了", "光猫亮红灯上不了网"]},
]


@pytest.fixture()
def kb_file(tmp_path):
    return write_jsonl(ENTRIES, tmp_path / "kb.jsonl")


def test_kb_pairs_cover_paraphrases_and_answers():
    kb = KnowledgeBase([FaqEntry(**e) for e in ENTRIES])
    pairs = kb_pairs(kb)
    assert TrainPair("手机欠费了打不出去", ENTRIES[0]["question"], "entry:a1", "kb") in pairs
    answers = [p for p in pairs if p.positive_is_answer]
    assert len(answers) == len(ENTRIES) and all(p.anchor == kb.get(p.group[6:]).question for p in answers)
    assert len(pairs) == sum(len(e["similar"]) for e in ENTRIES) + len(ENTRIES)


def test_group_batches_never_put_one_group_twice_in_a_batch():
    pairs = [TrainPair(f"q{i}", f"p{i}", f"entry:{i % 7}", "kb") for i in range(60)]
    pairs += [TrainPair(f"g{i}", f"p{i}", f"category:{i % 3}", "generated") for i in range(20)]
    pairs += [TrainPair(f"a{i}", f"ans{i}", f"entry:{i}", "kb", positive_is_answer=True) for i in range(9)]
    batches = group_batches(pairs, 5, seed=3)
    assert group_batches(pairs, 5, seed=3) == batches  # seeded
    seen = [i for b in batches for i in b]
    assert len(seen) == len(set(seen)) and len(seen) >= len(pairs) - 3 * 4  # only leftover singletons may drop
    for b in batches:
        groups = [pairs[i].group for i in b]
        assert 2 <= len(b) <= 5 and len(set(groups)) == len(groups)
        assert len({pairs[i].group.split(":")[0] for i in b}) == 1  # entry and category pairs never mix
        assert len({pairs[i].positive_is_answer for i in b}) == 1


def test_query_pairs_check_ids(tmp_path):
    kb = KnowledgeBase([FaqEntry(**e) for e in ENTRIES])
    good = write_jsonl([{"query": "我手机欠费了", "relevant": ["a1"]}, {"query": "无关问题", "relevant": []}],
                       tmp_path / "q.jsonl")
    assert query_pairs(good, kb) == [TrainPair("我手机欠费了", ENTRIES[0]["question"], "entry:a1", "q.jsonl")]
    bad = write_jsonl([{"query": "我手机欠费了", "relevant": ["zz9"]}], tmp_path / "bad.jsonl")
    with pytest.raises(InvalidInputError, match="'zz9' is not in the knowledge base"):
        query_pairs(bad, kb)


def test_refuses_check_sets_bad_config_and_used_folders(kb_file, tmp_path):
    with pytest.raises(InvalidInputError, match="check sets"):
        train_encoder(data_path("checks", "retrieval_kb.jsonl"), tmp_path / "x")
    with pytest.raises(InvalidInputError, match="check sets"):
        train_encoder(kb_file, tmp_path / "x", queries=[str(data_path("checks", "retrieval_queries.jsonl"))])
    with pytest.raises(InvalidInputError, match="batch_size must be >= 2"):
        train_encoder(kb_file, tmp_path / "x", config=EncoderTrainConfig(batch_size=1))
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "f").write_text("x")
    with pytest.raises(InvalidInputError, match="not an empty folder"):
        train_encoder(kb_file, tmp_path / "used")
    with pytest.raises(InvalidInputError, match="neither 'generated' nor an existing"):
        train_encoder(kb_file, tmp_path / "x", queries=["nope.jsonl"])


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    pytest.importorskip("sentence_transformers")
    tmp = tmp_path_factory.mktemp("enc")
    kb = write_jsonl(ENTRIES, tmp / "kb.jsonl")
    queries = write_jsonl([{"query": "我手机欠费停机了", "relevant": ["a1"]}], tmp / "q.jsonl")
    cfg = EncoderTrainConfig(batch_size=4, max_seq_length=16, max_steps=1, threads=1)
    report = train_encoder(kb, tmp / "model", queries=[str(queries)], config=cfg)
    return tmp, report


@pytest.mark.slow
def test_tiny_fine_tune_saves_a_loadable_folder_with_prompts(tiny_encoder):
    from sentence_transformers import SentenceTransformer

    from hotline.models.encoders import load_encoder

    tmp, report = tiny_encoder
    out = tmp / "model"
    assert report["steps"] == 1 and report["pairs"] == {"kb": 15, "q.jsonl": 1} and report["dim"] == 384
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "encoder" and meta["builder"] == "encoder.e5_mnrl.v1" and meta["config"]["max_steps"] == 1
    enc = load_encoder(f"st:{out}", shared=False)
    q, c = enc.encode_queries(["宽带断网了", "话费多扣了"]), enc.encode_corpus(["请重启光猫和路由器。"])
    assert q.shape == (2, 384) and c.shape == (1, 384) and q.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, rtol=1e-4)
    assert (enc.query_prompt, enc.corpus_prompt) == ("query: ", "passage: ")
    raw = SentenceTransformer(str(out), device="cpu", local_files_only=True)
    ref = raw.encode(["query: 宽带断网了", "passage: 宽带断网了"], normalize_embeddings=True)
    np.testing.assert_allclose(q[0], ref[0], atol=1e-5)
    np.testing.assert_allclose(enc.encode_corpus(["宽带断网了"])[0], ref[1], atol=1e-5)
    assert float(ref[0] @ ref[1]) < 0.9999  # the two prefixes really differ


@pytest.mark.slow
def test_index_built_with_it_refuses_another_encoder(tiny_encoder):
    from hotline.index.faq_index import FaqIndex
    from hotline.models.encoders import load_encoder

    tmp, _ = tiny_encoder
    enc = load_encoder(f"st:{tmp / 'model'}", shared=False)
    kb = KnowledgeBase.from_jsonl(tmp / "kb.jsonl")
    index = FaqIndex.build(kb, enc, no_answer="none")
    index.save(tmp / "index")
    again = FaqIndex.load(tmp / "index")  # the recorded encoder spec reloads the same folder
    assert again.encoder.name == enc.name == f"st:{(tmp / 'model').resolve()}"
    assert again.search(["光猫亮红灯上不了网"], top_k=1)[0].hits[0].id == "d1"
    with pytest.raises(ArtifactError, match="was built with encoder"):
        FaqIndex.load(tmp / "index", encoder=load_encoder("e5"))
