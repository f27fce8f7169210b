"""The knowledge base in the store: every version of every FAQ entry and handling spec, its review state, and the
releases (published snapshots) builds are made from.

A version moves through one state machine; every move records who and when::

    draft ──submit──▶ review ──approve──▶ approved ──publish──▶ published ──(newer version published)──▶ superseded
      ▲                 │                                           │
      └──edit── rejected ◀──reject                                  └──retire──▶ retired (left out of the next release)

- One *open* version (draft, review, approved, rejected) per entry at a time; editing a draft or a rejected
  version makes a new draft version and the old one ``superseded``. Editing a published entry opens version n+1.
- A **release** is the set of versions live in one build: the last release, minus retired entries, with the
  approved versions in place of their predecessors. :meth:`KbRepo.plan_release` computes it,
  :meth:`KbRepo.commit_release` stores it (and runs the caller's promotion inside the same transaction, so a
  release is recorded if and only if its build went live). A rollback is a new release that republishes an
  earlier one's exact versions.
- ``published`` means "in the current release"; ``retired`` versions stay live until the next release.

Bodies are validated by the caller-supplied ``validator`` (the index layer knows what a FAQ or spec must hold);
the store checks only that the body names its own entry.

Example:
    >>> repo = KbRepo(open_database("sqlite:////tmp/hl/hotline.sqlite3"))  # doctest: +SKIP
    >>> v = repo.create("faq", {"id": "kb-900", "question": "怎么办副卡", "answer": "…"}, actor="lee")  # doctest: +SKIP
    >>> repo.submit("faq", "kb-900", actor="lee").state  # doctest: +SKIP
    <KbState.REVIEW: 'review'>
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from hotline.core.errors import ConflictError, InvalidInputError, NotFoundError
from hotline.store.db import Database
from hotline.store.keys import utc
from hotline.store.tables import kb_releases, kb_versions

__all__ = ["KbKind", "KbState", "KbVersion", "KbRelease", "ReleasePlan", "KbRepo", "OPEN_STATES", "Validator"]


class KbKind(str, Enum):
    """What an entry is: a FAQ (``faq.jsonl`` line, keyed by ``id``) or a handling spec (keyed by ``code``)."""

    FAQ = "faq"
    SPEC = "spec"

    def __str__(self) -> str:
        return self.value

    @property
    def key(self) -> str:
        return "id" if self is KbKind.FAQ else "code"

    @classmethod
    def parse(cls, value: object) -> KbKind:
        try:
            return cls(str(value))
        except ValueError:
            raise InvalidInputError(f"kind must be one of {[k.value for k in cls]}, got {value!r}") from None


class KbState(str, Enum):
    DRAFT = "draft"
    REVIEW = "review"
    APPROVED = "approved"
    REJECTED = "rejected"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"
    RETIRED = "retired"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: object) -> KbState:
        try:
            return cls(str(value))
        except ValueError:
            raise InvalidInputError(f"state must be one of {[s.value for s in cls]}, got {value!r}") from None


OPEN_STATES = (KbState.DRAFT, KbState.REVIEW, KbState.APPROVED, KbState.REJECTED)
Validator = Callable[[KbKind, dict[str, Any], bool], dict[str, Any]]
"""``validator(kind, body, strict) -> clean body``; ``strict`` for review (drafts may be incomplete)."""

# what to do next, per state, for the 409 messages
_FIX = {
    KbState.DRAFT: "submit it for review (POST /v1/kb/entries/{kind}/{id}/submit) and have a supervisor approve it",
    KbState.REVIEW: "have a supervisor approve it (POST …/approve) or reject it",
    KbState.APPROVED: "publish it (POST /v1/kb/publish or `hotline kb publish`)",
    KbState.REJECTED: "edit it (PUT /v1/kb/entries/{kind}/{id}) into a new draft and submit that",
    KbState.PUBLISHED: "edit it to open a new draft version",
    KbState.SUPERSEDED: "edit the entry to open a new draft version",
    KbState.RETIRED: "edit the entry to open a new draft version",
}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(value: datetime | None) -> str | None:
    return utc(value).isoformat() if value else None


@dataclass(frozen=True)
class KbVersion:
    """One version of one entry, as stored."""

    row: int
    kind: KbKind
    entry_id: str
    version: int
    state: KbState
    body: dict[str, Any]
    note: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    updated_by: str | None = None  # who made the last change (any state move)
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    published_by: str | None = None
    published_at: datetime | None = None
    retired_by: str | None = None
    retired_at: datetime | None = None

    @property
    def ref(self) -> str:
        return f"{self.kind.value}/{self.entry_id} v{self.version}"

    def to_dict(self, *, live: bool | None = None) -> dict[str, Any]:
        out = {"kind": self.kind.value, "id": self.entry_id, "version": self.version, "state": self.state.value,
               "body": self.body, "note": self.note,
               "created_by": self.created_by, "created_at": _iso(self.created_at),
               "reviewed_by": self.reviewed_by, "reviewed_at": _iso(self.reviewed_at),
               "published_by": self.published_by, "published_at": _iso(self.published_at),
               "retired_by": self.retired_by, "retired_at": _iso(self.retired_at),
               "updated_by": self.updated_by, "updated_at": _iso(self.updated_at)}
        if live is not None:
            out["live"] = live
        return out


@dataclass(frozen=True)
class KbRelease:
    """A published snapshot: which versions went live together, in which build, by whom, when."""

    id: int
    action: str
    parent: int | None
    rollback_of: int | None
    entries: list[dict[str, Any]]
    changes: dict[str, list[str]]
    build_id: str | None
    created_by: str | None
    created_at: datetime
    note: str | None

    def to_dict(self, *, entries: bool = False) -> dict[str, Any]:
        n = {k.value: sum(1 for e in self.entries if e["kind"] == k.value) for k in KbKind}
        out = {"release": self.id, "action": self.action, "parent": self.parent, "rollback_of": self.rollback_of,
               "build": self.build_id, "created_by": self.created_by, "created_at": _iso(self.created_at),
               "note": self.note, "counts": n, "changes": self.changes}
        if entries:
            out["entries"] = self.entries
        return out


@dataclass
class ReleasePlan:
    """What a publish or rollback would put live: computed first, built, then committed if nothing moved."""

    release_id: int
    parent: int | None
    action: str
    live: list[KbVersion]                                    # in KB order
    promote: list[int] = field(default_factory=list)        # approved rows that become published
    changes: dict[str, list[str]] = field(default_factory=dict)
    rollback_of: int | None = None

    def bodies(self, kind: KbKind | str) -> list[dict[str, Any]]:
        kind = KbKind.parse(kind)
        return [v.body for v in self.live if v.kind is kind]

    def summary(self) -> dict[str, Any]:
        return {"release": self.release_id, "parent": self.parent, "action": self.action,
                "rollback_of": self.rollback_of, "changes": self.changes,
                "counts": {k.value: len(self.bodies(k)) for k in KbKind}}


def _version(row: Any) -> KbVersion:
    return KbVersion(row=int(row["id"]), kind=KbKind(row["kind"]), entry_id=row["entry_id"], version=row["version"],
                     state=KbState(row["state"]), body=dict(row["body"]), note=row["note"],
                     created_by=row["created_by"], created_at=utc(row["created_at"]),
                     updated_at=utc(row["updated_at"]), updated_by=row["updated_by"], reviewed_by=row["reviewed_by"],
                     reviewed_at=utc(row["reviewed_at"]), published_by=row["published_by"],
                     published_at=utc(row["published_at"]), retired_by=row["retired_by"],
                     retired_at=utc(row["retired_at"]))


def _release(row: Any) -> KbRelease:
    return KbRelease(id=int(row["id"]), action=row["action"], parent=row["parent"], rollback_of=row["rollback_of"],
                     entries=list(row["entries"]), changes=dict(row["changes"]), build_id=row["build_id"],
                     created_by=row["created_by"], created_at=utc(row["created_at"]), note=row["note"])


def _actor(actor: str | None) -> str:
    actor = (actor or "").strip()
    if not actor or len(actor) > 200:
        raise InvalidInputError(f"actor (who made the change) must be 1-200 characters, got {actor!r:.60}")
    return actor


def _note(note: str | None) -> str | None:
    if note is None:
        return None
    if not isinstance(note, str) or len(note) > 2000:
        raise InvalidInputError(f"note must be a string of at most 2000 characters, got {len(str(note))}")
    return note.strip() or None


def _lenient(kind: KbKind, body: dict[str, Any], strict: bool) -> dict[str, Any]:
    return body


class KbRepo:
    """Versions and releases in the ``kb_versions`` / ``kb_releases`` tables.

    Args:
        db: The store.
        validator: Checks and normalises a body (default: only that it names its entry).
    """

    def __init__(self, db: Database, *, validator: Validator | None = None) -> None:
        self.db = db
        self.validator = validator or _lenient

    # -- reading -----------------------------------------------------------------------------
    def is_empty(self) -> bool:
        with self.db.connect() as conn:
            return conn.execute(select(func.count()).select_from(kb_versions)).scalar_one() == 0

    def list(self, *, state: KbState | str | None = None, kind: KbKind | str | None = None, q: str | None = None,
             latest: bool = True, limit: int = 500) -> list[KbVersion]:
        """Versions, newest change first. ``latest``: only each entry's newest version (with ``state``: the
        newest version in that state). ``q``: a substring of the entry id or its body text."""
        query = select(kb_versions)
        if state is not None:
            query = query.where(kb_versions.c.state == KbState.parse(state).value)
        if kind is not None:
            query = query.where(kb_versions.c.kind == KbKind.parse(kind).value)
        with self.db.connect() as conn:
            rows = [_version(r) for r in conn.execute(query.order_by(kb_versions.c.id.desc())).mappings()]
        if latest:
            seen: set[tuple[KbKind, str]] = set()
            rows = [v for v in rows if (v.kind, v.entry_id) not in seen and not seen.add((v.kind, v.entry_id))]
        if q:
            needle = q.strip().lower()
            rows = [v for v in rows if needle in v.entry_id.lower() or needle in _text(v.body).lower()]
        return rows[:limit]

    def history(self, kind: KbKind | str, entry_id: str) -> list[KbVersion]:
        """Every version of one entry, oldest first. Unknown entry → NotFoundError."""
        kind = KbKind.parse(kind)
        with self.db.connect() as conn:
            rows = [_version(r) for r in conn.execute(
                select(kb_versions).where(kb_versions.c.kind == kind.value, kb_versions.c.entry_id == entry_id)
                .order_by(kb_versions.c.version)).mappings()]
        if not rows:
            raise NotFoundError(f"no {kind.value} entry {entry_id!r} in the knowledge base; list them with "
                                f"GET /v1/kb/entries or `hotline kb list`")
        return rows

    def releases(self, *, limit: int = 100) -> list[KbRelease]:
        """Releases, newest first."""
        with self.db.connect() as conn:
            return [_release(r) for r in conn.execute(
                select(kb_releases).order_by(kb_releases.c.id.desc()).limit(limit)).mappings()]

    def release(self, release_id: int) -> KbRelease:
        with self.db.connect() as conn:
            row = conn.execute(select(kb_releases).where(kb_releases.c.id == int(release_id))).mappings().first()
        if row is None:
            known = [r.id for r in self.releases(limit=20)]
            raise NotFoundError(f"no knowledge-base release {release_id!r}; releases (newest first): "
                                f"{known or 'none'}")
        return _release(row)

    def current_release(self) -> KbRelease | None:
        with self.db.connect() as conn:
            return self._current(conn)

    def release_versions(self, release: KbRelease) -> list[KbVersion]:
        """The versions of a release, in KB order."""
        with self.db.connect() as conn:
            return self._rows(conn, [e["row"] for e in release.entries])

    def live_rows(self) -> set[int]:
        """Row ids of the versions in the current release."""
        cur = self.current_release()
        return {e["row"] for e in cur.entries} if cur else set()

    # -- seeding -----------------------------------------------------------------------------
    def seed(self, entries: dict[KbKind, list[dict[str, Any]]], *, actor: str, build_id: str | None,
             note: str | None = None) -> KbRelease | None:
        """On first use: store ``entries`` as published version 1 and release 1 (the KB a home already serves).

        A no-op (returns None) when the knowledge base holds anything already, also when another process
        seeded it at the same moment.
        """
        actor = _actor(actor)
        now = _now()
        try:
            with self.db.begin() as conn:
                if conn.execute(select(func.count()).select_from(kb_versions)).scalar_one():
                    return None
                live: list[dict[str, Any]] = []
                for kind, bodies in entries.items():
                    kind = KbKind.parse(kind)
                    for body in bodies:
                        body = self._check(kind, body, strict=True)
                        row = conn.execute(kb_versions.insert().values(
                            kind=kind.value, entry_id=body[kind.key], version=1, state=KbState.PUBLISHED.value,
                            body=body, note=note, created_by=actor, created_at=now, reviewed_by=actor,
                            reviewed_at=now, published_by=actor, published_at=now, updated_at=now, updated_by=actor)
                        ).inserted_primary_key[0]
                        live.append({"kind": kind.value, "id": body[kind.key], "version": 1, "row": int(row)})
                conn.execute(kb_releases.insert().values(
                    id=1, action="import", parent=None, rollback_of=None, entries=live,
                    changes={"added": [f"{e['kind']}/{e['id']}" for e in live], "changed": [], "removed": []},
                    build_id=build_id, created_by=actor, created_at=now, note=note))
        except IntegrityError:
            return None  # seeded by another process meanwhile
        return self.release(1)

    # -- editing -----------------------------------------------------------------------------
    def create(self, kind: KbKind | str, body: dict[str, Any], *, actor: str, note: str | None = None) -> KbVersion:
        """A new entry as a draft (version 1). An id already in use → ConflictError (edit it instead)."""
        kind = KbKind.parse(kind)
        body = self._check(kind, body, strict=False)
        entry_id = body[kind.key]
        with self.db.begin() as conn:
            if self._versions(conn, kind, entry_id):
                raise ConflictError(f"{kind.value} entry {entry_id!r} already exists; edit it with "
                                    f"PUT /v1/kb/entries/{kind.value}/{entry_id} (a new draft version), or pick "
                                    f"another {kind.key}")
            return self._insert(conn, kind, entry_id, 1, body, actor=_actor(actor), note=_note(note))

    def edit(self, kind: KbKind | str, entry_id: str, body: dict[str, Any], *, actor: str,
             note: str | None = None) -> KbVersion:
        """A new draft version of an entry. The open draft or rejected version it replaces becomes ``superseded``;
        an entry in review or approved must be rejected first (ConflictError)."""
        kind = KbKind.parse(kind)
        body = self._check(kind, body, strict=False)
        if body[kind.key] != entry_id:
            raise InvalidInputError(f"the body's {kind.key!r} is {body[kind.key]!r} but the entry edited is "
                                    f"{entry_id!r}; an entry keeps its {kind.key} (create a new entry to rename)")
        with self.db.begin() as conn:
            versions = self._versions(conn, kind, entry_id)
            if not versions:
                raise NotFoundError(f"no {kind.value} entry {entry_id!r} to edit; create it with POST /v1/kb/entries")
            latest = versions[-1]
            if latest.state in (KbState.REVIEW, KbState.APPROVED):
                raise ConflictError(f"{latest.ref} is {latest.state.value}; it cannot be edited until a supervisor "
                                    f"rejects it (POST /v1/kb/entries/{kind.value}/{entry_id}/reject)")
            actor = _actor(actor)
            if latest.state in (KbState.DRAFT, KbState.REJECTED):
                self._move(conn, latest, KbState.SUPERSEDED, actor=actor)
            return self._insert(conn, kind, entry_id, latest.version + 1, body, actor=actor, note=_note(note))

    def submit(self, kind: KbKind | str, entry_id: str, *, actor: str, note: str | None = None) -> KbVersion:
        """draft → review. The body must now be complete (the strict validator)."""
        with self.db.begin() as conn:
            v = self._open(conn, kind, entry_id, KbState.DRAFT, "submit")
            self._check(v.kind, v.body, strict=True)
            return self._move(conn, v, KbState.REVIEW, actor=_actor(actor), note=_note(note))

    def approve(self, kind: KbKind | str, entry_id: str, *, actor: str, note: str | None = None) -> KbVersion:
        """review → approved (goes live with the next publish)."""
        with self.db.begin() as conn:
            v = self._open(conn, kind, entry_id, KbState.REVIEW, "approve")
            return self._move(conn, v, KbState.APPROVED, actor=_actor(actor), note=_note(note), reviewed_by=True)

    def reject(self, kind: KbKind | str, entry_id: str, *, actor: str, note: str | None = None) -> KbVersion:
        """review → rejected (the author edits it into a new draft)."""
        with self.db.begin() as conn:
            v = self._open(conn, kind, entry_id, KbState.REVIEW, "reject")
            return self._move(conn, v, KbState.REJECTED, actor=_actor(actor), note=_note(note), reviewed_by=True)

    def retire(self, kind: KbKind | str, entry_id: str, *, actor: str, note: str | None = None) -> KbVersion:
        """published → retired: the entry is left out of the next release (it stays live until then)."""
        kind = KbKind.parse(kind)
        with self.db.begin() as conn:
            versions = self._versions(conn, kind, entry_id)
            if not versions:
                raise NotFoundError(f"no {kind.value} entry {entry_id!r} to retire")
            live = [v for v in versions if v.state is KbState.PUBLISHED]
            if not live:
                states = ", ".join(f"v{v.version} {v.state.value}" for v in versions)
                raise ConflictError(f"{kind.value}/{entry_id} has no published version to retire ({states}); only "
                                    f"a published entry can be retired")
            return self._move(conn, live[-1], KbState.RETIRED, actor=_actor(actor), note=_note(note), retired_by=True)

    # -- releases ----------------------------------------------------------------------------
    def plan_release(self, *, only: Iterable[tuple[KbKind | str, str]] | None = None) -> ReleasePlan:
        """The next release: the current one, minus retired entries, with approved versions in place.

        Args:
            only: Publish just these ``(kind, id)`` entries' approved versions (retirements always go).

        Raises:
            ConflictError: a named entry is not approved (naming its state and what to do), or nothing changed.
        """
        with self.db.connect() as conn:
            current = self._current(conn)
            live = self._rows(conn, [e["row"] for e in current.entries]) if current else []
            approved = [_version(r) for r in conn.execute(select(kb_versions).where(
                kb_versions.c.state == KbState.APPROVED.value).order_by(kb_versions.c.id)).mappings()]
            if only is not None:
                wanted = [(KbKind.parse(k), i) for k, i in only]
                by_key = {(v.kind, v.entry_id): v for v in approved}
                for kind, entry_id in wanted:
                    if (kind, entry_id) not in by_key:
                        versions = self._versions(conn, kind, entry_id)
                        if not versions:
                            raise NotFoundError(f"no {kind.value} entry {entry_id!r} to publish")
                        last = versions[-1]
                        raise ConflictError(f"cannot publish {last.ref}: it is in state {last.state.value!r}, and "
                                            f"only approved versions are published; {_FIX[last.state]}")
                approved = [by_key[w] for w in dict.fromkeys(wanted)]
            counts = self._state_counts(conn)
        changes: dict[str, list[str]] = {"added": [], "changed": [], "removed": []}
        pos = {(v.kind, v.entry_id): i for i, v in enumerate(live)}
        out: list[KbVersion | None] = list(live)
        for v in live:
            if v.state is KbState.RETIRED:
                out[pos[(v.kind, v.entry_id)]] = None
                changes["removed"].append(f"{v.kind.value}/{v.entry_id}")
        for v in approved:
            key = (v.kind, v.entry_id)
            if key in pos:
                if out[pos[key]] is None:
                    changes["removed"].remove(f"{v.kind.value}/{v.entry_id}")
                out[pos[key]] = v
                changes["changed"].append(f"{v.kind.value}/{v.entry_id}")
            else:
                out.append(v)
                changes["added"].append(f"{v.kind.value}/{v.entry_id}")
        if not any(changes.values()):
            raise ConflictError(
                f"nothing to publish: no approved versions and no retired entries since release "
                f"{current.id if current else 'none'} ({counts.get('review', 0)} in review, "
                f"{counts.get('draft', 0)} drafts); approve entries in review first")
        return ReleasePlan(release_id=(current.id + 1) if current else 1, parent=current.id if current else None,
                           action="publish", live=[v for v in out if v is not None],
                           promote=[v.row for v in approved], changes=changes)

    def plan_rollback(self, to: int | None = None) -> ReleasePlan:
        """A new release with the exact versions of release ``to`` (default: the one live before the current).

        Raises:
            InvalidInputError: nothing to roll back to, or ``to`` is the current release.
            NotFoundError: no release ``to``.
        """
        with self.db.connect() as conn:
            current = self._current(conn)
            if current is None:
                raise InvalidInputError("the knowledge base has no release yet; nothing to roll back")
            if to is None:
                if current.parent is None:
                    raise InvalidInputError(f"nothing to roll back to: release {current.id} is the first one. Name "
                                            f"one with --to (see `hotline kb releases`)")
                to = current.parent
            if int(to) == current.id:
                raise InvalidInputError(f"release {to} is already live; nothing to roll back")
        target = self.release(int(to))
        with self.db.connect() as conn:
            live = self._rows(conn, [e["row"] for e in target.entries])
            now_live = self._rows(conn, [e["row"] for e in current.entries])
        before = {(v.kind, v.entry_id): v.version for v in now_live}
        after = {(v.kind, v.entry_id): v.version for v in live}
        changes = {"added": [f"{k.value}/{i}" for (k, i) in after if (k, i) not in before],
                   "changed": [f"{k.value}/{i}" for (k, i), n in after.items() if before.get((k, i), n) != n],
                   "removed": [f"{k.value}/{i}" for (k, i) in before if (k, i) not in after]}
        return ReleasePlan(release_id=current.id + 1, parent=current.id, action="rollback", live=live,
                           changes=changes, rollback_of=target.id)

    def commit_release(self, plan: ReleasePlan, *, actor: str, build_id: str | None, note: str | None = None,
                       on_commit: Callable[[], Any] | None = None) -> KbRelease:
        """Store ``plan`` as the new current release and move the states (published / superseded).

        ``on_commit`` (the build's promotion) runs inside the transaction, after every check: if it raises,
        nothing is stored; if the checks fail it never runs.

        Raises:
            ConflictError: another release landed since the plan was made, or a planned version changed state.
        """
        actor, now = _actor(actor), _now()
        with self.db.begin() as conn:
            current = self._current(conn)
            if (current.id if current else None) != plan.parent:
                raise ConflictError(f"release {current.id if current else None} went live while this one was being "
                                    f"built on release {plan.parent}; publish again")
            fresh = {v.row: v for v in self._rows(conn, [v.row for v in plan.live])}
            for row in plan.promote:
                if fresh[row].state is not KbState.APPROVED:
                    v = fresh[row]
                    raise ConflictError(f"{v.ref} became {v.state.value} while the release was being built; "
                                        f"publish again")
            live_rows = {v.row for v in plan.live}
            old_rows = {e["row"] for e in current.entries} if current else set()
            # the previously live versions that leave: superseded (a retired one stays retired)
            leaving = old_rows - live_rows
            if leaving:
                conn.execute(update(kb_versions).where(kb_versions.c.id.in_(sorted(leaving)),
                                                       kb_versions.c.state == KbState.PUBLISHED.value)
                             .values(state=KbState.SUPERSEDED.value, updated_at=now, updated_by=actor))
            # an open version older than what a rollback brings back is kept as it is: it still goes through review
            arriving = sorted(live_rows - old_rows)
            if arriving:
                conn.execute(update(kb_versions).where(kb_versions.c.id.in_(arriving))
                             .values(state=KbState.PUBLISHED.value, published_by=actor, published_at=now,
                                     updated_at=now, updated_by=actor))
            if plan.action == "rollback":  # retired-but-live versions the target keeps are live again
                conn.execute(update(kb_versions).where(kb_versions.c.id.in_(sorted(live_rows & old_rows)),
                                                       kb_versions.c.state == KbState.RETIRED.value)
                             .values(state=KbState.PUBLISHED.value, updated_at=now, updated_by=actor))
            entries = [{"kind": v.kind.value, "id": v.entry_id, "version": v.version, "row": v.row}
                       for v in plan.live]
            try:
                conn.execute(kb_releases.insert().values(
                    id=plan.release_id, action=plan.action, parent=plan.parent, rollback_of=plan.rollback_of,
                    entries=entries, changes=plan.changes, build_id=build_id, created_by=actor, created_at=now,
                    note=_note(note)))
            except IntegrityError:
                raise ConflictError(f"release {plan.release_id} was stored by another publish meanwhile; "
                                    f"publish again") from None
            if on_commit is not None:
                on_commit()
        return self.release(plan.release_id)

    # -- internals ---------------------------------------------------------------------------
    def _check(self, kind: KbKind, body: Any, *, strict: bool) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise InvalidInputError(f"a {kind.value} body must be a JSON object, got {type(body).__name__}")
        key = body.get(kind.key)
        if (not isinstance(key, str) or not key.strip() or len(key.strip()) > 128
                or any(ch in key for ch in "/?#\\") or any(ord(ch) < 32 for ch in key)):
            raise InvalidInputError(f"a {kind.value} body needs {kind.key!r}: a non-empty string of at most 128 "
                                    f"characters without '/', '?', '#', '\\' or control characters, got {key!r:.60}")
        clean = self.validator(kind, {**body, kind.key: key.strip()}, strict)
        if clean.get(kind.key) != key.strip():
            raise InvalidInputError(f"the validator changed the {kind.key} of {key!r}; it must keep it")
        return clean

    @staticmethod
    def _current(conn: Connection) -> KbRelease | None:
        row = conn.execute(select(kb_releases).order_by(kb_releases.c.id.desc()).limit(1)).mappings().first()
        return _release(row) if row is not None else None

    @staticmethod
    def _rows(conn: Connection, rows: list[int]) -> list[KbVersion]:
        """Versions by row id, in the order given."""
        if not rows:
            return []
        got = {int(r["id"]): _version(r) for r in conn.execute(
            select(kb_versions).where(kb_versions.c.id.in_(rows))).mappings()}
        return [got[r] for r in rows]

    @staticmethod
    def _versions(conn: Connection, kind: KbKind, entry_id: str) -> list[KbVersion]:
        return [_version(r) for r in conn.execute(
            select(kb_versions).where(kb_versions.c.kind == kind.value, kb_versions.c.entry_id == entry_id)
            .order_by(kb_versions.c.version)).mappings()]

    def _open(self, conn: Connection, kind: KbKind | str, entry_id: str, need: KbState, verb: str) -> KbVersion:
        kind = KbKind.parse(kind)
        versions = self._versions(conn, kind, entry_id)
        if not versions:
            raise NotFoundError(f"no {kind.value} entry {entry_id!r} to {verb}; list them with GET /v1/kb/entries")
        latest = versions[-1]
        if latest.state is not need:
            raise ConflictError(f"cannot {verb} {latest.ref}: it is in state {latest.state.value!r}, and {verb} needs "
                                f"{need.value!r}; {_FIX[latest.state]}")
        return latest

    @staticmethod
    def _insert(conn: Connection, kind: KbKind, entry_id: str, version: int, body: dict[str, Any], *,
                actor: str, note: str | None) -> KbVersion:
        now = _now()
        try:
            row = conn.execute(kb_versions.insert().values(
                kind=kind.value, entry_id=entry_id, version=version, state=KbState.DRAFT.value, body=body, note=note,
                created_by=actor, created_at=now, updated_at=now, updated_by=actor)).inserted_primary_key[0]
        except IntegrityError:
            raise ConflictError(f"{kind.value}/{entry_id} v{version} was written by someone else meanwhile; "
                                f"reload and edit again") from None
        return KbVersion(row=int(row), kind=kind, entry_id=entry_id, version=version, state=KbState.DRAFT, body=body,
                         note=note, created_by=actor, created_at=now, updated_at=now, updated_by=actor)

    @staticmethod
    def _move(conn: Connection, v: KbVersion, to: KbState, *, actor: str, note: str | None = None,
              **stamp: bool) -> KbVersion:
        """Move ``v`` to state ``to`` only if nobody moved it meanwhile (compare-and-set on the state); ``stamp``
        names the ``*_by`` columns that also get ``actor`` (and their ``*_at`` the time)."""
        now = _now()
        values: dict[str, Any] = {"state": to.value, "updated_at": now, "updated_by": actor}
        if note is not None:
            values["note"] = note
        for column in stamp:
            values[column] = actor
            values[column.replace("_by", "_at")] = now
        done = conn.execute(update(kb_versions).where(kb_versions.c.id == v.row, kb_versions.c.state == v.state.value)
                            .values(**values)).rowcount
        if not done:
            raise ConflictError(f"{v.ref} changed state meanwhile; reload it and try again")
        row = conn.execute(select(kb_versions).where(kb_versions.c.id == v.row)).mappings().one()
        return _version(row)

    @staticmethod
    def _state_counts(conn: Connection) -> dict[str, int]:
        q = select(kb_versions.c.state, func.count()).group_by(kb_versions.c.state)
        return {s: int(n) for s, n in conn.execute(q)}


def _text(body: dict[str, Any]) -> str:
    parts: list[str] = []

    def walk(x: Any) -> None:
        if isinstance(x, str):
            parts.append(x)
        elif isinstance(x, dict):
            for val in x.values():
                walk(val)
        elif isinstance(x, list):
            for val in x:
                walk(val)

    walk(body)
    return " ".join(parts)

