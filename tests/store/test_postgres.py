"""The store on a real PostgreSQL server (started by the ``postgres_db`` fixture): migrations, keys, the
shared notice board and incident log between two "replicas", live-call rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect

from hotline.pipeline.live.incidents import IncidentDetector
from hotline.pipeline.live.notices import NoticeBoard
from hotline.store.calls import CallRepo, TurnConflict
from hotline.store.db import open_database
from hotline.store.incident_log import IncidentLog
from hotline.store.keys import KeyStore
from hotline.store.notices import NoticeRepo
from hotline.store.tables import metadata

from .test_shared import T0, _notice

pytestmark = pytest.mark.slow


def test_migrate_twice_and_keys(postgres_db):
    db = open_database(postgres_db)
    open_database(postgres_db)  # a second replica starting: the advisory lock serialises, nothing to do
    assert set(metadata.tables) <= set(inspect(db.engine).get_table_names())
    keys = KeyStore(db, cache_s=0)
    secret, rec = keys.create("admin", name="pg")
    assert keys.authenticate(secret).id == rec.id


def test_two_replicas_one_incident_and_one_board(postgres_db):
    a_db, b_db = open_database(postgres_db), open_database(postgres_db)
    a = IncidentDetector(threshold=10, log=IncidentLog(a_db, replica="a"))
    b = IncidentDetector(threshold=10, log=IncidentLog(b_db, replica="b"))
    raised = [inc for i in range(12)
              if (inc := (a if i % 2 else b).observe(f"pg-{i}", "broadband.cannot_connect", "长沙市岳麓区",
                                                       T0 + timedelta(minutes=i))) is not None]
    assert len(raised) == 1
    assert [(i.id, i.call_ids) for i in a.all()] == [(i.id, i.call_ids) for i in b.all()]
    assert len(a.all()[0].call_ids) == 12
    na, nb = NoticeBoard(repo=NoticeRepo(a_db)), NoticeBoard(repo=NoticeRepo(b_db))
    n = na.add(_notice(id="pg-notice"))
    nb.sync()
    assert [x.id for x in nb.list()] == [n.id]


def test_turn_conflict_on_postgres(postgres_db):
    repo = CallRepo(open_database(postgres_db))
    repo.create("pg-call", owner=None, region="长沙市", started_at=T0, customer={}, now=T0)
    repo.append_turn("pg-call", 0, speaker="customer", text="宽带断了", ts=T0)
    with pytest.raises(TurnConflict):
        repo.append_turn("pg-call", 0, speaker="agent", text="您好", ts=T0)
    assert repo.load("pg-call")["turns"] == 1
