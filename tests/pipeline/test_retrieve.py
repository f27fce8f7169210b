from __future__ import annotations

import pytest

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.index.faq_index import FaqIndex
from hotline.pipeline.retrieve import FaqRetriever

KB_ROWS = [
    ("f1", "光猫亮红灯怎么办", "光猫LOS灯亮红色通常是光纤断了，请报修。", "broadband.cannot_connect",
     ["光猫上面红灯一直闪", "猫的灯变红了上不了网"]),
    ("f2", "宽带网速很慢怎么处理", "请重启路由器并用网线测速。", "broadband.slow", ["家里宽带特别卡", "宽带测速只有几兆"]),
    ("f3", "怎么查询话费余额", "发送短信CXHF到10086查询余额。", "inquiry.billing_info", ["我还剩多少话费", "话费余额在哪里看"]),
    ("f7", "收不到短信验证码怎么办", "请检查短信拦截设置。", "sms.cannot_receive", ["验证码一直收不到", "手机接收不了短信"]),
    ("f8", "携号转网需要什么条件", "号码需实名、无欠费、不在合约期内。", "plan.number_porting", ["我想转到别的运营商", "携号转网怎么办理"]),
]
OFFTOPIC = ["今天天气怎么样", "红烧肉怎么做好吃", "股票明天会涨吗", "孩子发烧了怎么办", "快递什么时候到", "银行卡密码忘了"]


class BigramSegmenter:
    def tokens(self, text: str) -> list[str]:
        t = "".join(ch for ch in text.lower() if ch.isalnum())
        return [t[i : i + 2] for i in range(len(t) - 1)] or ([t] if t else [])


@pytest.fixture()
def index_dir(tmp_path, hash_encoder):
    from hotline.index.kb import FaqEntry, KnowledgeBase

    kb = KnowledgeBase([FaqEntry(i, q, a, c, list(s)) for i, q, a, c, s in KB_ROWS])
    FaqIndex.build(kb, hash_encoder, segmenter=BigramSegmenter(), offtopic=OFFTOPIC).save(tmp_path / "idx")
    return tmp_path / "idx"


def _retriever(index_dir, encoder, **kw):
    r = FaqRetriever(index_dir=index_dir, encoder=encoder, **kw)
    # the index was built with a test segmenter; hand it over the way a custom deployment would
    r.index_ = FaqIndex.load(index_dir, encoder, segmenter=BigramSegmenter())
    return r


def test_init_does_no_io(tmp_path):
    r = FaqRetriever(index_dir=tmp_path / "missing")
    assert r.index_ is None and r.top_k == 5


def test_warm_up_missing_folder_is_artifact_error(tmp_path):
    with pytest.raises(ArtifactError, match="meta.json"):
        FaqRetriever(index_dir=tmp_path / "missing").warm_up()


def test_run_shapes_and_override(index_dir, hash_encoder):
    r = _retriever(index_dir, hash_encoder, top_k=2)
    r.warm_up()  # idempotent once loaded
    out = r.run(["光猫红灯一直亮", "话费怎么查"])
    assert list(out) == ["results"] and len(out["results"]) == 2
    assert all(len(x.hits) == 2 for x in out["results"])
    assert len(r.run(["宽带慢"], top_k=4)["results"][0].hits) == 4
    assert out["results"][0].hits[0].id == "f1"


def test_batch_equals_one_by_one(index_dir, hash_encoder):
    r = _retriever(index_dir, hash_encoder)
    qs = ["宽带慢", "收不到验证码", "今天吃什么"]
    batch = r.run(qs)["results"]
    assert [x.hits[0].id for x in batch] == [r.run([q])["results"][0].hits[0].id for q in qs]


def test_category_probs_pass_through(index_dir, hash_encoder):
    r = _retriever(index_dir, hash_encoder)
    plain = [h.id for h in r.run(["需要什么"], top_k=5)["results"][0].hits]
    res = r.run(["需要什么"], top_k=5, category_probs=[{"plan.number_porting": 1.0}])["results"][0]
    boosted = [h.id for h in res.hits]
    assert boosted.index("f8") <= plain.index("f8") and boosted != plain or plain[0] == "f8"


def test_errors(index_dir, hash_encoder):
    with pytest.raises(InvalidInputError, match="top_k"):
        FaqRetriever(index_dir=index_dir, top_k=0)
    r = _retriever(index_dir, hash_encoder)
    with pytest.raises(InvalidInputError, match="wrap it"):
        r.run("光猫")
    with pytest.raises(InvalidInputError, match="top_k"):
        r.run(["光猫"], top_k=-1)
