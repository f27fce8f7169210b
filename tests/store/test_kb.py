"""The knowledge base's state machine, versions and releases in the store (no models)."""

from __future__ import annotations

import pytest

from hotline.core.errors import ConflictError, InvalidInputError, NotFoundError
from hotline.index.kb_io import validate_body
from hotline.store.db import open_database
from hotline.store.kb import KbKind, KbRepo, KbState

FAQ = [{"id": "kb-1", "question": "怎么查话费", "answer": "发送CXHF到10086"},
       {"id": "kb-2", "question": "宽带断网怎么办", "answer": "先重启光猫"}]
SPEC = [{"code": "data.slow", "title": "网速慢"}]


@pytest.fixture(params=["sqlite", "postgresql"])
def repo(request, tmp_path):
    url = (f"sqlite:///{tmp_path / 'h.sqlite3'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_db"))
    db = open_database(url)
    r = KbRepo(db, validator=validate_body)
    r.seed({KbKind.FAQ: FAQ, KbKind.SPEC: SPEC}, actor="import", build_id="b0")
    yield r
    db.dispose()


def _live(repo: KbRepo) -> dict[str, int]:
    cur = repo.current_release()
    return {f"{e['kind']}/{e['id']}": e["version"] for e in cur.entries}


def test_seed_is_release_one_and_runs_once(repo):
    rel = repo.current_release()
    assert rel.id == 1 and rel.action == "import" and rel.build_id == "b0"
    assert _live(repo) == {"faq/kb-1": 1, "faq/kb-2": 1, "spec/data.slow": 1}
    assert {v.state for v in repo.list()} == {KbState.PUBLISHED}
    assert repo.seed({KbKind.FAQ: [{"id": "x", "question": "q", "answer": "a"}]}, actor="x", build_id=None) is None
    assert len(repo.list()) == 3


def test_draft_review_approve_publish_keeps_who_and_when(repo):
    v = repo.create("faq", {"id": "kb-3", "question": "副卡怎么办理", "answer": ""}, actor="lee")
    assert (v.version, v.state, v.created_by) == (1, KbState.DRAFT, "lee")
    # a draft may lack its answer, review may not
    with pytest.raises(InvalidInputError, match="answer"):
        repo.submit("faq", "kb-3", actor="lee")
    v = repo.edit("faq", "kb-3", {"id": "kb-3", "question": "副卡怎么办理", "answer": "营业厅办理"}, actor="lee")
    assert v.version == 2 and v.state is KbState.DRAFT
    assert [x.state for x in repo.history("faq", "kb-3")] == [KbState.SUPERSEDED, KbState.DRAFT]
    # publishing before review: 409 naming the state and the fix
    with pytest.raises(ConflictError, match=r"state 'draft'.*submit it for review"):
        repo.plan_release(only=[("faq", "kb-3")])
    with pytest.raises(ConflictError, match="nothing to publish"):
        repo.plan_release()
    assert repo.submit("faq", "kb-3", actor="lee").state is KbState.REVIEW
    with pytest.raises(ConflictError, match="cannot be edited"):
        repo.edit("faq", "kb-3", {"id": "kb-3", "question": "x", "answer": "y"}, actor="lee")
    v = repo.approve("faq", "kb-3", actor="wang", note="ok")
    assert (v.state, v.reviewed_by, v.updated_by) == (KbState.APPROVED, "wang", "wang") and v.reviewed_at
    plan = repo.plan_release()
    assert plan.changes == {"added": ["faq/kb-3"], "changed": [], "removed": []}
    assert [b["id"] for b in plan.bodies("faq")] == ["kb-1", "kb-2", "kb-3"]
    promoted = []
    rel = repo.commit_release(plan, actor="wang", build_id="b1", on_commit=lambda: promoted.append(1))
    assert promoted == [1] and (rel.id, rel.parent, rel.build_id, rel.created_by) == (2, 1, "b1", "wang")
    v = repo.history("faq", "kb-3")[-1]
    assert (v.state, v.published_by) == (KbState.PUBLISHED, "wang") and v.published_at
    assert _live(repo)["faq/kb-3"] == 2


def test_edit_of_published_entry_replaces_it_in_place(repo):
    repo.edit("faq", "kb-1", {"id": "kb-1", "question": "怎么查话费余额", "answer": "发送YE到10086"}, actor="lee")
    repo.submit("faq", "kb-1", actor="lee")
    repo.approve("faq", "kb-1", actor="wang")
    plan = repo.plan_release()
    assert plan.changes["changed"] == ["faq/kb-1"]
    assert plan.bodies("faq")[0]["answer"] == "发送YE到10086"  # same position in the KB
    repo.commit_release(plan, actor="wang", build_id="b1")
    assert [v.state for v in repo.history("faq", "kb-1")] == [KbState.SUPERSEDED, KbState.PUBLISHED]


def test_reject_then_edit_resubmit(repo):
    repo.create("spec", {"code": "broadband.slow", "title": "宽带慢"}, actor="lee")
    repo.submit("spec", "broadband.slow", actor="lee")
    v = repo.reject("spec", "broadband.slow", actor="wang", note="缺少排查步骤")
    assert (v.state, v.note, v.reviewed_by) == (KbState.REJECTED, "缺少排查步骤", "wang")
    with pytest.raises(ConflictError, match="state 'rejected'.*edit it"):
        repo.approve("spec", "broadband.slow", actor="wang")
    v = repo.edit("spec", "broadband.slow", {"code": "broadband.slow", "title": "宽带慢", "checks": ["测速"]},
                  actor="lee")
    assert v.version == 2 and v.body["checks"] == ["测速"]
    repo.submit("spec", "broadband.slow", actor="lee")


def test_retire_leaves_the_next_release_and_rollback_restores(repo):
    repo.create("faq", {"id": "kb-9", "question": "q", "answer": ""}, actor="a")
    with pytest.raises(ConflictError, match="no published version"):
        repo.retire("faq", "kb-9", actor="a")
    repo.retire("faq", "kb-2", actor="wang", note="过时")
    assert "faq/kb-2" in _live(repo)  # live until the next release
    rel2 = repo.commit_release(repo.plan_release(), actor="wang", build_id="b2")
    assert rel2.changes["removed"] == ["faq/kb-2"] and "faq/kb-2" not in _live(repo)
    assert repo.history("faq", "kb-2")[-1].state is KbState.RETIRED
    # rollback to release 1 is a new release 3 with release 1's exact versions
    plan = repo.plan_rollback()
    assert (plan.release_id, plan.rollback_of, plan.changes["added"]) == (3, 1, ["faq/kb-2"])
    rel3 = repo.commit_release(plan, actor="wang", build_id="b3")
    assert rel3.action == "rollback" and _live(repo) == {"faq/kb-1": 1, "faq/kb-2": 1, "spec/data.slow": 1}
    assert repo.history("faq", "kb-2")[-1].state is KbState.PUBLISHED
    with pytest.raises(InvalidInputError, match="already live"):
        repo.plan_rollback(3)
    with pytest.raises(NotFoundError, match="releases"):
        repo.plan_rollback(42)


def test_rollback_takes_a_new_entry_out(repo):
    repo.create("faq", {"id": "kb-3", "question": "副卡", "answer": "营业厅"}, actor="lee")
    repo.submit("faq", "kb-3", actor="lee")
    repo.approve("faq", "kb-3", actor="wang")
    repo.commit_release(repo.plan_release(), actor="wang", build_id="b1")
    repo.commit_release(repo.plan_rollback(), actor="wang", build_id="b2")
    assert "faq/kb-3" not in _live(repo)
    assert repo.history("faq", "kb-3")[-1].state is KbState.SUPERSEDED
    assert [r.id for r in repo.releases()] == [3, 2, 1]


def test_stale_plan_and_failed_promotion_store_nothing(repo):
    repo.create("faq", {"id": "kb-3", "question": "副卡", "answer": "营业厅"}, actor="lee")
    repo.submit("faq", "kb-3", actor="lee")
    repo.approve("faq", "kb-3", actor="wang")
    plan = repo.plan_release()

    def boom():
        raise RuntimeError("promotion failed")

    with pytest.raises(RuntimeError):
        repo.commit_release(plan, actor="wang", build_id="b1", on_commit=boom)
    assert repo.current_release().id == 1 and repo.history("faq", "kb-3")[-1].state is KbState.APPROVED
    repo.commit_release(repo.plan_release(), actor="wang", build_id="b1")
    with pytest.raises(ConflictError, match="went live while"):
        repo.commit_release(plan, actor="wang", build_id="b2")


def test_bad_input_is_named(repo):
    with pytest.raises(ConflictError, match="already exists"):
        repo.create("faq", {"id": "kb-1", "question": "q", "answer": "a"}, actor="lee")
    with pytest.raises(InvalidInputError, match="'id'"):
        repo.create("faq", {"question": "q"}, actor="lee")
    with pytest.raises(InvalidInputError, match="kind must be one of"):
        repo.create("page", {"id": "x"}, actor="lee")
    with pytest.raises(InvalidInputError, match="keeps its id"):
        repo.edit("faq", "kb-1", {"id": "kb-7", "question": "q", "answer": "a"}, actor="lee")
    with pytest.raises(NotFoundError, match="kb-404"):
        repo.submit("faq", "kb-404", actor="lee")
    with pytest.raises(InvalidInputError, match="actor"):
        repo.create("faq", {"id": "kb-8", "question": "q", "answer": "a"}, actor=" ")
    with pytest.raises(InvalidInputError, match="similar"):
        repo.create("faq", {"id": "kb-8", "question": "q", "answer": "a", "similar": "not a list"}, actor="lee")


def test_list_filters_by_state_kind_and_text(repo):
    repo.create("faq", {"id": "kb-3", "question": "国际漫游怎么开", "answer": ""}, actor="lee")
    assert [v.entry_id for v in repo.list(state="draft")] == ["kb-3"]
    assert [v.entry_id for v in repo.list(kind="spec")] == ["data.slow"]
    assert [v.entry_id for v in repo.list(q="漫游")] == ["kb-3"]
    with pytest.raises(InvalidInputError, match="state must be one of"):
        repo.list(state="live")
