"""The knowledge-base lifecycle over HTTP (supervisor role, see :data:`hotline.serve.auth.POLICY`).

Entries (FAQ answers and handling specs) move draft → review → approved → published (→ retired), each edit a new
version (:mod:`hotline.store.kb`); ``POST /v1/kb/publish`` builds the approved versions into a new build and
promotes it (:mod:`hotline.index.publish`), ``POST /v1/kb/rollback`` republishes an earlier release. A move the
state machine does not allow answers 409 naming the state and the fix. Every call is in the audit log (the auth
middleware writes supervisor requests there); the store keeps who and when on each version and release.

Publishing rebuilds the FAQ index (seconds to a minute): the routes are plain ``def``, so it runs in the
thread pool, never on the event loop; one publish (or retrain) at a time, a second gets 409. Every worker picks
up the new build within ``HOTLINE_BUILD_POLL_S`` (``serve/watch.py``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, Field

from hotline.core.settings import Settings
from hotline.index.publish import KbPublisher
from hotline.serve.auth import PrincipalDep
from hotline.store.kb import KbKind, KbState, KbVersion
from hotline.store.keys import ApiKey

__all__ = ["router", "install"]

router = APIRouter(prefix="/v1/kb", tags=["knowledge base"])

_Note = Annotated[str | None, Field(default=None, max_length=2000)]


class EntryCreate(BaseModel):
    kind: KbKind = Field(description="faq | spec")
    body: dict[str, Any] = Field(description="a faq.jsonl line (id, question, answer, category, similar) or a "
                                             "specs.jsonl line (code, title, questions, checks, …)")
    note: _Note = None


class EntryEdit(BaseModel):
    body: dict[str, Any]
    note: _Note = None


class Transition(BaseModel):
    note: _Note = None


class EntryRef(BaseModel):
    kind: KbKind
    id: str = Field(min_length=1, max_length=128)


class PublishRequest(BaseModel):
    entries: list[EntryRef] | None = Field(default=None, max_length=1000, description="publish only these entries' "
                                           "approved versions; default: every approved version")
    note: _Note = None


class RollbackRequest(BaseModel):
    to: int | None = Field(default=None, ge=1, description="the release to republish; default: the one live "
                                                           "before the current")
    note: _Note = None


def install(app: FastAPI, settings: Settings) -> None:
    """Add the routes and, at start-up, the publisher on the app's store."""

    async def start(app: FastAPI) -> None:
        app.state.kb = KbPublisher(settings, db=app.state.db)

    app.state.on_startup.append(start)
    app.include_router(router)


def _kb(request: Request) -> KbPublisher:
    return request.app.state.kb


def _actor(principal: ApiKey) -> str:
    return f"{principal.name} ({principal.id})"[:200]


def _out(v: KbVersion, live: set[int]) -> dict[str, Any]:
    return v.to_dict(live=v.row in live)


@router.get("/entries")
def list_entries(request: Request, state: KbState | None = None, kind: KbKind | None = None,
                 q: Annotated[str | None, Query(max_length=200)] = None,
                 limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> dict[str, Any]:
    """Each entry's newest version (with ``state``: the newest in that state), newest change first; ``q``
    matches the id or any text of the body. ``live``: in the current release."""
    kb = _kb(request)
    live = kb.repo.live_rows()
    return {"entries": [_out(v, live) for v in kb.repo.list(state=state, kind=kind, q=q, limit=limit)]}


@router.post("/entries", status_code=201)
def create_entry(body: EntryCreate, request: Request, principal: PrincipalDep) -> dict[str, Any]:
    """A new entry as a draft (version 1)."""
    v = _kb(request).repo.create(body.kind, body.body, actor=_actor(principal), note=body.note)
    return _out(v, set())


@router.get("/entries/{kind}/{entry_id}")
def entry_history(kind: KbKind, entry_id: str, request: Request) -> dict[str, Any]:
    """Every version of one entry, oldest first."""
    kb = _kb(request)
    live = kb.repo.live_rows()
    return {"versions": [_out(v, live) for v in kb.repo.history(kind, entry_id)]}


@router.put("/entries/{kind}/{entry_id}")
def edit_entry(kind: KbKind, entry_id: str, body: EntryEdit, request: Request,
               principal: PrincipalDep) -> dict[str, Any]:
    """A new draft version (of a draft, a rejected or a published entry)."""
    v = _kb(request).repo.edit(kind, entry_id, body.body, actor=_actor(principal), note=body.note)
    return _out(v, set())


def _move(verb: str):
    def route(kind: KbKind, entry_id: str, request: Request, principal: PrincipalDep,
              body: Transition | None = None) -> dict[str, Any]:
        kb = _kb(request)
        v = getattr(kb.repo, verb)(kind, entry_id, actor=_actor(principal), note=body.note if body else None)
        return _out(v, kb.repo.live_rows())

    route.__name__ = f"{verb}_entry"
    route.__doc__ = {"submit": "draft → review.", "approve": "review → approved (live with the next publish).",
                     "reject": "review → rejected (edit it into a new draft).",
                     "retire": "published → retired (left out of the next release)."}[verb]
    return route


for _verb in ("submit", "approve", "reject", "retire"):
    router.add_api_route(f"/entries/{{kind}}/{{entry_id}}/{_verb}", _move(_verb), methods=["POST"])


@router.post("/publish")
def publish(request: Request, principal: PrincipalDep, body: PublishRequest | None = None) -> dict[str, Any]:
    """Build the approved versions (minus retired entries) into a new build and promote it; returns the release
    with its ``build`` id. 409 when nothing is approved, a named entry is not, or another job runs."""
    only = [(e.kind.value, e.id) for e in body.entries] if body and body.entries is not None else None
    return _kb(request).publish(actor=_actor(principal), only=only, note=body.note if body else None)


@router.post("/rollback")
def rollback(request: Request, principal: PrincipalDep, body: RollbackRequest | None = None) -> dict[str, Any]:
    """Republish release ``to`` (default: the one before the current) as a new release in a new build."""
    return _kb(request).rollback(actor=_actor(principal), to=body.to if body else None,
                                 note=body.note if body else None)


@router.get("/releases")
def releases(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Releases, newest first (``current``: the newest)."""
    rels = _kb(request).repo.releases(limit=limit)
    return {"releases": [{**r.to_dict(), "current": i == 0} for i, r in enumerate(rels)]}
