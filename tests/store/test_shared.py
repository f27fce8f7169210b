"""Two replicas on one database: the same notices, the same incidents (same ids), calls readable by both."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hotline.pipeline.live.incidents import IncidentDetector
from hotline.pipeline.live.notices import NoticeBoard
from hotline.store.calls import CallRepo, TurnConflict
from hotline.store.db import open_database
from hotline.store.incident_log import IncidentLog
from hotline.store.notices import NoticeRepo

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))


@pytest.fixture()
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'h.sqlite3'}"


def _notice(**kw):
    return {"title": "江宁区宽带故障", "regions": ["南京市江宁区"], "services": ["broadband"],
            "starts_at": "2026-05-01T08:00:00+08:00", "ends_at": "2026-05-01T20:00:00+08:00",
            "script": "您好，您所在区域宽带线路正在抢修，预计今天18点前恢复。", **kw}


def test_notices_are_shared_and_survive_restart(url):
    a = NoticeBoard(repo=NoticeRepo(open_database(url)))
    b = NoticeBoard(repo=NoticeRepo(open_database(url)))
    heard = []
    b.add_listener(lambda ev, n: heard.append((ev, n["id"])))
    n = a.add(_notice())
    assert b.sync() == 1 and heard == [("added", n.id)]
    assert [x.id for x in b.list()] == [n.id]
    b.delete(n.id)
    a.sync()
    assert a.list() == []
    c = NoticeBoard(repo=NoticeRepo(open_database(url)))  # a restart
    assert c.list() == []
    m = a.add(_notice(id="n-keep"))
    assert [x.id for x in NoticeBoard(repo=NoticeRepo(open_database(url))).list()] == [m.id]


def test_duplicate_notice_id_across_replicas_is_refused(url):
    from hotline.core.errors import InvalidInputError

    a = NoticeBoard(repo=NoticeRepo(open_database(url)))
    b = NoticeBoard(repo=NoticeRepo(open_database(url)))
    a.add(_notice(id="n-1"))
    with pytest.raises(InvalidInputError, match="already exists"):
        b.add(_notice(id="n-1"))


def test_incident_from_calls_spread_over_two_replicas(url):
    a = IncidentDetector(threshold=10, log=IncidentLog(open_database(url), replica="a"))
    b = IncidentDetector(threshold=10, log=IncidentLog(open_database(url), replica="b"))
    heard = []
    a.add_listener(heard.append)
    raised = []
    for i in range(10):
        det = a if i % 2 == 0 else b
        inc = det.observe(f"c{i}", "broadband.cannot_connect", "南京市江宁区", T0 + timedelta(minutes=i))
        if inc is not None:
            raised.append(inc)
    assert len(raised) == 1 and raised[0].call_ids == [f"c{i}" for i in range(10)]
    a.sync()
    assert [i.id for i in a.all()] == [i.id for i in b.all()] == [raised[0].id]
    assert heard and heard[0].id == raised[0].id  # b's call raised it; a was told
    # a restarted replica rebuilds the same incident from the log
    c = IncidentDetector(threshold=10, log=IncidentLog(open_database(url), replica="c"))
    assert [(i.id, i.call_ids) for i in c.all()] == [(raised[0].id, raised[0].call_ids)]


def test_nine_calls_raise_nothing_on_either(url):
    a = IncidentDetector(threshold=10, log=IncidentLog(open_database(url)))
    b = IncidentDetector(threshold=10, log=IncidentLog(open_database(url)))
    for i in range(9):
        (a if i % 2 else b).observe(f"c{i}", "broadband.cannot_connect", "南京市江宁区", T0 + timedelta(minutes=i))
    assert a.all() == [] and b.all() == []


def test_call_rows_version_and_conflict(url):
    repo = CallRepo(open_database(url))
    repo.create("call-1", owner="key_a", region="南京市", started_at=T0, customer={}, now=T0)
    repo.append_turn("call-1", 0, speaker="customer", text="宽带断了", ts=T0)
    assert repo.version("call-1") == 1
    with pytest.raises(TurnConflict):
        CallRepo(open_database(url)).append_turn("call-1", 0, speaker="customer", text="重复", ts=T0)
    stored = repo.load("call-1")
    assert [t["text"] for t in stored["transcript"]] == ["宽带断了"] and stored["started_at"] == T0
    repo.end("call-1", owner="key_a", region="南京市", started_at=T0, ended_at=T0 + timedelta(minutes=5),
             label="broadband.cannot_connect", record={"turns": stored["transcript"][:0]})
    assert repo.version("call-1") is None and repo.ended_one("call-1")["label"] == "broadband.cannot_connect"
    assert repo.purge(older_than=timedelta(days=1), now=T0 + timedelta(days=2)) == 1
