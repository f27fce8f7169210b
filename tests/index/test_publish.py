"""Publishing the knowledge base into builds: draft → publish → the new build's retriever finds the entry →
rollback → it is gone; specs travel with the build; imports (FAQ files, knowledge gaps) arrive as drafts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hotline.core.errors import ConflictError
from hotline.index.kb_io import gap_draft, import_entries, read_kb_file
from hotline.index.publish import SPECS_FILE, KbPublisher, specs_path
from hotline.store.builds import BuildRegistry
from hotline.store.kb import KbState

NEW = {"id": "kb-esim-01", "question": "智能手表怎么开通eSIM一号双终端",
       "answer": "携带身份证和手表到营业厅，或在App里搜索一号双终端，扫描手表上的二维码即可开通。",
       "category": None, "similar": ["手表eSIM怎么办理", "一号双终端手表怎么开"]}
QUERY = "我想给智能手表开通eSIM一号双终端"


def _top_ids(index_dir: Path, query: str) -> list[str]:
    from hotline.pipeline.retrieve import FaqRetriever

    retriever = FaqRetriever(index_dir=index_dir, top_k=3)
    retriever.warm_up()
    return [h.id for h in retriever.run([query])["results"][0].hits]


@pytest.fixture()
def home(tmp_path, tiny_home, managed_home):
    return managed_home(tmp_path / "home", tiny_home)[0]


def test_publish_finds_the_entry_and_rollback_removes_it(home):
    reg = BuildRegistry(home)
    first = reg.current_id()
    pub = KbPublisher(home)
    try:
        # first use: the live KB is release 1, in the build it came from
        rel1 = pub.repo.current_release()
        assert rel1.id == 1 and rel1.build_id == first and len(rel1.entries) > 100
        assert NEW["id"] not in _top_ids(home.index_dir, QUERY)

        pub.repo.create("faq", NEW, actor="lee")
        with pytest.raises(ConflictError, match=r"state 'draft'.*submit it for review"):
            pub.publish(actor="wang", only=[("faq", NEW["id"])])
        assert reg.current_id() == first and len(reg.list()) == 1  # refused before any build was made
        pub.repo.submit("faq", NEW["id"], actor="lee")
        pub.repo.approve("faq", NEW["id"], actor="wang")
        out = pub.publish(actor="wang", note="新增 eSIM")
        assert out["release"] == 2 and out["build"] == reg.current_id() != first
        assert out["changes"]["added"] == [f"faq/{NEW['id']}"] and out["previous_build"] == first
        info = reg.get(out["build"])
        assert info.source == "kb-publish" and info.parent == first
        assert reg.manifest(out["build"])["kb"]["release"] == 2
        # the classifier is the live one's, shared by hard links; the index is new and carries the specs
        clf = Path(info.path) / "classifier" / "meta.json"
        assert os.path.samefile(clf, Path(reg.get(first).path) / "classifier" / "meta.json")
        assert (home.index_dir / SPECS_FILE).is_file()
        assert specs_path(home.index_dir, home.data_dir) == home.index_dir / SPECS_FILE
        assert _top_ids(home.index_dir, QUERY)[0] == NEW["id"]
        assert pub.repo.history("faq", NEW["id"])[-1].state is KbState.PUBLISHED

        back = pub.rollback(actor="wang")
        assert back["release"] == 3 and back["rollback_of"] == 1 and back["changes"]["removed"] == [f"faq/{NEW['id']}"]
        assert reg.get(back["build"]).source == "kb-rollback"
        assert NEW["id"] not in _top_ids(home.index_dir, QUERY)
        assert [e["id"] for e in pub.live()["faq"]] == [e["id"] for e in rel1.entries if e["kind"] == "faq"]
        with pytest.raises(ConflictError, match="nothing to publish"):
            pub.publish(actor="wang")
    finally:
        pub.close()


def test_specs_travel_with_the_build(home, tiny_home):
    from hotline.pipeline.assist import AssistPipeline

    pub = KbPublisher(home)
    try:
        spec = next(v for v in pub.repo.list(kind="spec") if v.entry_id == "broadband.cannot_connect")
        body = {**spec.body, "reply_hint": "先请客户看光猫指示灯（发布测试）"}
        pub.repo.edit("spec", spec.entry_id, body, actor="lee")
        pub.repo.submit("spec", spec.entry_id, actor="lee")
        pub.repo.approve("spec", spec.entry_id, actor="wang")
        out = pub.publish(actor="wang")
        assert out["changes"]["changed"] == ["spec/broadband.cannot_connect"]
    finally:
        pub.close()
    pipe = AssistPipeline(home, classifier_dir=home.classifier_dir.resolve(), index_dir=home.index_dir.resolve())
    pipe.warm_up()
    assert pipe.specs["broadband.cannot_connect"].reply_hint == "先请客户看光猫指示灯（发布测试）"
    # the data folder is untouched: a build without its own specs still reads the shipped ones
    assert specs_path(tiny_home.index_dir, home.data_dir) == home.data_dir / "kb" / "specs.jsonl"


def test_gaps_and_files_import_as_drafts(tmp_path):
    from hotline.index.kb_io import validate_body
    from hotline.store.db import open_database
    from hotline.store.kb import KbRepo

    gaps = tmp_path / "gaps.jsonl"
    gaps.write_text("\n".join(json.dumps(g, ensure_ascii=False) for g in [
        {"id": "gap-0001", "question": "携号转网要多少钱手续费", "count": 7, "estimated_total": 7,
         "category": "plan.number_porting", "category_share": 1.0,
         "examples": ["携号转网要多少钱手续费", "携号转网手续费是多少钱"], "example_call_ids": ["c1", "c2"],
         "status": "proposed"},
        {"id": "gap-0002", "question": "国际漫游怎么开通流量包", "count": 2, "category": None,
         "examples": ["国际漫游怎么开通流量包"], "example_call_ids": ["c3"], "status": "proposed"}]) + "\n",
        encoding="utf-8")
    db = open_database(f"sqlite:///{tmp_path / 'h.sqlite3'}")
    repo = KbRepo(db, validator=validate_body)
    out = import_entries(repo, read_kb_file(gaps, gaps=True), actor="analyst")
    assert len(out["created"]) == 2 and not out["skipped"]
    draft = repo.list(state="draft")[-1]
    assert draft.body["question"] == "携号转网要多少钱手续费" and draft.body["answer"] == ""
    assert draft.body["similar"] == ["携号转网手续费是多少钱"] and draft.body["source"]["count"] == 7
    # the same gaps again: found, not duplicated
    again = import_entries(repo, read_kb_file(gaps, gaps=True), actor="analyst")
    assert not again["created"] and len(again["skipped"]) == 2
    assert gap_draft({"question": "携号转网要多少钱手续费"})["id"] == draft.entry_id
    # a mixed FAQ + spec file, imported approved (an operator's reviewed content)
    mixed = tmp_path / "kb.jsonl"
    mixed.write_text(json.dumps({"id": "kb-x", "question": "怎么改套餐", "answer": "App 里办理"}, ensure_ascii=False)
                     + "\n" + json.dumps({"code": "plan.change", "title": "改套餐"}, ensure_ascii=False) + "\n",
                     encoding="utf-8")
    out = import_entries(repo, read_kb_file(mixed), actor="ops", approve=True)
    assert out["created"] == ["faq/kb-x", "spec/plan.change"]
    assert {v.state for v in repo.list(state="approved")} == {KbState.APPROVED}
    db.dispose()
