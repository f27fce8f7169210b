"""API keys: created with a role, stored as a SHA-256 hash, listed by public id, revoked.

The secret (``hlk_…``, 32 random bytes in URL-safe base64) is shown once, when it is created; the store
keeps only its hash and a short prefix so people can tell keys apart.

Example:
    >>> keys = KeyStore(open_database("sqlite:////tmp/hl/hotline.sqlite3"))  # doctest: +SKIP
    >>> secret, record = keys.create("agent", name="desk-12")  # doctest: +SKIP
    >>> keys.authenticate(secret).role  # doctest: +SKIP
    'agent'
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum

from sqlalchemy import select, update

from hotline.core.errors import InvalidInputError, NotFoundError
from hotline.store.db import Database
from hotline.store.tables import api_keys

__all__ = ["Role", "ApiKey", "KeyStore", "hash_key", "MISS"]

_PREFIX = "hlk_"
MISS = object()  # KeyStore.cached: not in the cache


class Role(str, Enum):
    """What a key may do; each role can do everything the roles before it can."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    def __str__(self) -> str:
        return self.value

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank

    @classmethod
    def parse(cls, value: object) -> Role:
        try:
            return cls(str(value))
        except ValueError:
            raise InvalidInputError(f"role must be one of {[r.value for r in cls]}, got {value!r}") from None


_RANK = {Role.AGENT: 0, Role.SUPERVISOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class ApiKey:
    """A key as the store knows it (never the secret)."""

    id: str
    role: Role
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict:
        return {"id": self.id, "role": self.role.value, "name": self.name, "prefix": self.prefix,
                "created_at": _iso(self.created_at), "revoked_at": _iso(self.revoked_at)}


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class KeyStore:
    """Keys in the ``api_keys`` table. ``authenticate`` caches hits for a few seconds (revocation shows
    within ``cache_s``) so a request costs no database round trip."""

    def __init__(self, db: Database, *, cache_s: float = 5.0) -> None:
        self.db = db
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def create(self, role: Role | str, *, name: str | None = None) -> tuple[str, ApiKey]:
        """A new key: returns ``(secret, record)``. The secret is not stored and cannot be shown again."""
        role = Role.parse(role)
        name = (name or f"{role.value}-key").strip()
        if not name or len(name) > 200:
            raise InvalidInputError(f"key name must be 1-200 characters, got {len(name)}")
        secret = _PREFIX + secrets.token_urlsafe(32)
        record = ApiKey(id="key_" + secrets.token_hex(6), role=role, name=name, prefix=secret[:10],
                        created_at=datetime.now(timezone.utc))
        with self.db.begin() as conn:
            conn.execute(api_keys.insert().values(id=record.id, key_hash=hash_key(secret), prefix=record.prefix,
                                                  role=role.value, name=name, created_at=record.created_at))
        return secret, record

    def list(self, *, include_revoked: bool = False) -> list[ApiKey]:
        q = select(api_keys).order_by(api_keys.c.created_at)
        if not include_revoked:
            q = q.where(api_keys.c.revoked_at.is_(None))
        with self.db.connect() as conn:
            return [_record(r) for r in conn.execute(q).mappings()]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke by public id (``key_…``) or by the secret's prefix. 404 when neither matches."""
        now = datetime.now(timezone.utc)
        with self.db.begin() as conn:
            row = conn.execute(select(api_keys).where((api_keys.c.id == key_id) | (api_keys.c.prefix == key_id))
                               ).mappings().first()
            if row is None:
                raise NotFoundError(f"no API key with id {key_id!r}; `hotline keys list` shows the ids")
            if row["revoked_at"] is None:
                conn.execute(update(api_keys).where(api_keys.c.id == row["id"]).values(revoked_at=now))
        with self._lock:
            self._cache.clear()
        return _record({**row, "revoked_at": row["revoked_at"] or now})

    def cached(self, secret: str) -> ApiKey | None | object:
        """The cached answer for ``secret`` (an ApiKey or None), or :data:`MISS` when it must be looked up."""
        import time

        hit = self._cache.get(hash_key(secret)) if secret and len(secret) <= 200 else (0.0, None)
        if hit is None or time.monotonic() - hit[0] >= self.cache_s:
            return MISS
        return hit[1]

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key for ``secret``, or None (unknown or revoked)."""
        import time

        if not secret or len(secret) > 200:
            return None
        h = hash_key(secret)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(h)
            if hit is not None and now - hit[0] < self.cache_s:
                return hit[1]
        with self.db.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_hash == h)).mappings().first()
        key = _record(row) if row is not None and row["revoked_at"] is None else None
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[h] = (now, key)
        return key

    def count(self) -> int:
        return len(self.list())


def _record(row) -> ApiKey:
    return ApiKey(id=row["id"], role=Role(row["role"]), name=row["name"], prefix=row["prefix"],
                  created_at=utc(row["created_at"]), revoked_at=utc(row["revoked_at"]))


def utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every time in the store is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
