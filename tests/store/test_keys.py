from __future__ import annotations

import pytest

from hotline.core.errors import InvalidInputError, NotFoundError
from hotline.store.audit import AuditLog
from hotline.store.db import open_database
from hotline.store.keys import KeyStore, Role, hash_key
from hotline.store.tables import api_keys


@pytest.fixture()
def db(tmp_path):
    return open_database(f"sqlite:///{tmp_path / 'h.sqlite3'}")


def test_create_authenticate_revoke(db):
    keys = KeyStore(db, cache_s=0)
    secret, rec = keys.create("supervisor", name="王班长")
    assert secret.startswith("hlk_") and rec.role is Role.SUPERVISOR
    assert keys.authenticate(secret).id == rec.id
    assert keys.authenticate(secret + "x") is None
    keys.revoke(rec.id)
    assert keys.authenticate(secret) is None
    assert keys.list() == [] and keys.list(include_revoked=True)[0].revoked_at is not None


def test_only_the_hash_is_stored(db):
    keys = KeyStore(db)
    secret, _ = keys.create("agent")
    with db.connect() as conn:
        row = conn.execute(api_keys.select()).mappings().one()
    assert secret not in str(dict(row)) and row["key_hash"] == hash_key(secret)


def test_roles_are_ordered():
    assert Role.ADMIN.allows(Role.SUPERVISOR) and Role.SUPERVISOR.allows(Role.AGENT)
    assert not Role.AGENT.allows(Role.SUPERVISOR)


def test_bad_role_and_unknown_id(db):
    keys = KeyStore(db)
    with pytest.raises(InvalidInputError, match="role must be one of"):
        keys.create("root")
    with pytest.raises(NotFoundError, match="hotline keys list"):
        keys.revoke("key_nope")


def test_audit_masks_targets(db):
    audit = AuditLog(db)
    audit.record("POST /v1/notices", target="/v1/calls/13812345678", status=201)
    (entry,) = audit.list()
    assert "13812345678" not in entry["target"] and entry["status"] == 201
