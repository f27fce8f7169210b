from __future__ import annotations

import pytest
from sqlalchemy import inspect

from hotline.core.errors import InvalidInputError
from hotline.store.db import open_database
from hotline.store.tables import metadata


def test_migrations_create_every_table(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'h.sqlite3'}")
    names = set(inspect(db.engine).get_table_names())
    assert set(metadata.tables) <= names
    assert "alembic_version" in names


def test_upgrade_is_idempotent_and_keeps_rows(tmp_path):
    from hotline.store.keys import KeyStore

    url = f"sqlite:///{tmp_path / 'h.sqlite3'}"
    KeyStore(open_database(url)).create("agent", name="a")
    assert [k.name for k in KeyStore(open_database(url)).list()] == ["a"]  # second open: migrate is a no-op


def test_bad_url_names_the_variable():
    with pytest.raises(InvalidInputError, match="HOTLINE_DATABASE_URL"):
        open_database("not a url at all")


def test_sqlite_is_durable_mode(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'h.sqlite3'}")
    with db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
