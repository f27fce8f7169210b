"""Knowledge gaps: unanswered questions clustered into FAQ drafts, largest first, memory bounded."""

from __future__ import annotations

import pytest

from hotline.core.errors import InvalidInputError
from hotline.pipeline.batch.gaps import GapMiner

PORTING = ["携号转网要多少钱手续费", "携号转网手续费是多少钱", "我想携号转网需要交手续费吗", "携号转网的手续费怎么收"]
ROAMING = ["国际漫游流量包怎么开通", "出国了国际漫游流量包怎么开通", "国际漫游的流量包在哪开通"]
ALONE = ["你们营业厅晚上几点关门"]


def _miner(**kw) -> GapMiner:
    miner = GapMiner(**kw)
    for i, q in enumerate(PORTING + ROAMING + ALONE):
        label = "plan.number_porting" if q in PORTING else "roaming.unusable" if q in ROAMING else None
        miner.add({"text": q, "call_id": f"c{i}", "label": label})
    return miner


def test_questions_cluster_into_drafts_ranked_by_size():
    drafts = _miner().run()
    assert [d["count"] for d in drafts] == [4, 3]  # the lone question is no draft (min_size 2)
    porting, roaming = drafts
    assert set(porting["examples"]) == set(PORTING) and porting["question"] in PORTING
    assert porting["category"] == "plan.number_porting" and porting["category_share"] == 1.0
    assert porting["example_call_ids"] == [f"c{PORTING.index(q)}" for q in porting["examples"]]
    assert set(roaming["examples"]) == set(ROAMING) and roaming["category"] == "roaming.unusable"
    assert [d["id"] for d in drafts] == ["gap-0001", "gap-0002"]
    assert all(d["status"] == "proposed" and d["estimated_total"] == d["count"] for d in drafts)


def test_sentence_vectors_cluster_too(hash_encoder):
    drafts = _miner(encoder=hash_encoder, distance_threshold=0.5).run()
    assert drafts and drafts[0]["count"] >= 3
    assert all(len(set(d["examples"]) & set(PORTING)) in (0, len(d["examples"])) for d in drafts)  # no mixed draft


def test_the_sample_is_bounded_and_scaled():
    miner = GapMiner(max_questions=20, seed=1)
    for i in range(500):
        miner.add({"text": PORTING[i % 4] if i % 2 else ROAMING[i % 3], "call_id": f"c{i}", "label": None})
    assert miner.n_seen_ == 500 and len(miner._sample) == 20
    drafts = miner.run()
    assert sum(d["count"] for d in drafts) == 20
    assert sum(d["estimated_total"] for d in drafts) == pytest.approx(500, abs=2)


def test_bad_input_is_refused():
    with pytest.raises(InvalidInputError, match="needs a non-empty 'text'"):
        GapMiner().add({"text": " "})
    with pytest.raises(InvalidInputError, match="max_questions must be >= 2"):
        GapMiner(max_questions=1)
    assert GapMiner().run() == []
