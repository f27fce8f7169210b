"""Live calls, notices, incidents and feedback. ``install(app, settings)`` wires them into ``create_app``.

The engine objects live in ``app.state`` (``calls``, ``notices``, ``incidents``, ``feedback``); they are
created on startup, after the pipeline has loaded, and an asyncio task expires idle calls. Request limits
come from ``settings`` (:func:`hotline.serve.live_schemas.live_request_models`); responses are the result
models of :mod:`hotline.core.results`.

No ``from __future__ import annotations`` here: FastAPI must see the per-app request classes themselves.
"""

import asyncio
import logging
import os
import socket
from datetime import timedelta
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response, WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect, WebSocketState

from hotline.core.errors import ConflictError, NotFoundError
from hotline.core.mask import masked_text
from hotline.core.results import CallState, EndCallResult, Feedback, FeedbackKind, Incident, Notice, Speaker
from hotline.core.settings import Settings
from hotline.pipeline.live.events import to_event
from hotline.pipeline.live.feedback import FeedbackStore, import_legacy_feedback
from hotline.pipeline.live.incidents import IncidentDetector
from hotline.pipeline.live.notices import NoticeBoard
from hotline.pipeline.live.registry import CallCapacityError, CallManager, ListenerLimitError
from hotline.serve.auth import PrincipalDep
from hotline.serve.deps import SettingsDep
from hotline.serve.live_schemas import (
    CallList,
    FeedbackList,
    IncidentList,
    LiveRequests,
    NoticeList,
    Transcript,
    live_request_models,
)
from hotline.store.calls import CallRepo
from hotline.store.incident_log import IncidentLog
from hotline.store.keys import ApiKey, Role
from hotline.store.notices import NoticeRepo

__all__ = ["install", "build_routers"]

logger = logging.getLogger(__name__)

REPLICA = f"{socket.gethostname()}:{os.getpid()}"  # names this process in the incident log


# -- dependencies -------------------------------------------------------------------------------
def _state_attr(request: Request, name: str):
    obj = getattr(request.app.state, name, None)
    if obj is None:
        raise HTTPException(status_code=503, detail="the live-call engine is still starting; retry in a few seconds")
    return obj


def get_calls(request: Request) -> CallManager:
    return _state_attr(request, "calls")


def get_notices(request: Request) -> NoticeBoard:
    return _state_attr(request, "notices")


def get_incidents(request: Request) -> IncidentDetector:
    return _state_attr(request, "incidents")


def get_feedback(request: Request) -> FeedbackStore:
    return _state_attr(request, "feedback")


CallsDep = Annotated[CallManager, Depends(get_calls)]
NoticesDep = Annotated[NoticeBoard, Depends(get_notices)]
IncidentsDep = Annotated[IncidentDetector, Depends(get_incidents)]
FeedbackDep = Annotated[FeedbackStore, Depends(get_feedback)]


def build_routers(settings: Settings) -> list[APIRouter]:
    """The ``/v1/calls``, ``/v1/notices``, ``/v1/incidents`` and ``/v1/feedback`` routers, limits from ``settings``."""
    models = live_request_models(settings)
    return [_calls_router(models), _notices_router(models), _incidents_router(), _feedback_router(models)]


# -- calls --------------------------------------------------------------------------------------
def _calls_router(models: LiveRequests) -> APIRouter:
    StartCallRequest, UtteranceRequest = models.start_call, models.utterance
    router = APIRouter(prefix="/v1/calls", tags=["calls"])

    @router.post("", status_code=201, response_model=CallState)
    def start_call(req: StartCallRequest, calls: CallsDep, who: PrincipalDep) -> CallState:  # type: ignore[valid-type]
        """Open a live call, owned by the calling key. 409 if the id is live already, 503 if every slot is busy."""
        return calls.start_call(req.call_id, region=req.region, started_at=req.started_at, customer=req.customer,
                                owner=who.id)

    @router.get("", response_model=CallList)
    def list_calls(calls: CallsDep, who: PrincipalDep) -> CallList:
        """One line per live call, most recent activity first: all calls for supervisors, an agent's own
        calls for an agent key."""
        return CallList(calls=calls.list_calls(owner=None if _sees_all(who) else who.id))

    @router.get("/{call_id}", response_model=CallState)
    def get_call(call_id: str, calls: CallsDep, who: PrincipalDep,
                 full: Annotated[bool, Query(description="every turn, not only the latest ones")] = False) -> CallState:
        """The call's state: its latest turns (``HOTLINE_STATE_RECENT_TURNS``), or all of them with ``full=true``."""
        _check_owner(calls, call_id, who)
        return calls.get(call_id, full=full)

    @router.get("/{call_id}/transcript", response_model=Transcript)
    def get_transcript(call_id: str, calls: CallsDep, who: PrincipalDep) -> Transcript:
        """Every turn of the call, oldest first (states and streams carry only the latest ones)."""
        _check_owner(calls, call_id, who)
        turns = calls.transcript(call_id)
        return Transcript(call_id=call_id, turns=turns, turn_count=turns[-1].idx + 1 if turns else 0)  # idx: 0, 1, …

    @router.post("/{call_id}/utterances", response_model=CallState)
    def add_utterance(call_id: str, req: UtteranceRequest, calls: CallsDep,  # type: ignore[valid-type]
                      who: PrincipalDep) -> CallState:
        """Add one turn (agent or customer); returns the updated state, also pushed to the call's streams."""
        _check_owner(calls, call_id, who)
        return calls.add_utterance(call_id, req.speaker, req.text, ts=req.ts, utterance_id=req.utterance_id)

    @router.post("/{call_id}/end", response_model=EndCallResult)
    def end_call(call_id: str, calls: CallsDep, who: PrincipalDep, settings: SettingsDep) -> EndCallResult:
        """Close the call: summary, ticket draft and final state. The ticket's dispatch copy carries the raw
        phone number only for a role in ``HOTLINE_DISPATCH_ROLES``; other roles get it masked."""
        _check_owner(calls, call_id, who)
        result = calls.end_call(call_id)
        if who.role.value not in settings.dispatch_roles:
            result = _without_raw(result)
        return result

    router.add_api_websocket_route("/{call_id}/stream", _stream_call)
    return router


async def _stream_call(websocket: WebSocket, call_id: str) -> None:
    """Pushes ``{"type": "state"|"incident"|"notice", "data": …}``; the current state first.

    Unknown call: one ``{"type": "error", "data": {"status": 404, "detail": …}}`` message, then close 4404.
    The server closes the socket (1000) after the call ends or expires.
    """
    calls: CallManager | None = getattr(websocket.app.state, "calls", None)
    state_ = websocket.scope.get("state", {})
    await websocket.accept(subprotocol=state_.get("ws_subprotocol"))
    if calls is None:
        await _ws_error(websocket, 503, "the live-call engine is still starting; retry in a few seconds")
        return
    try:
        who = state_.get("principal")
        if who is None or not _sees_all(who) and calls.owner_of(call_id) not in (None, who.id):
            await _ws_error(websocket, 403, f"call {call_id!r} belongs to another agent key")
            return
        q = calls.subscribe(call_id)
        state = await anyio.to_thread.run_sync(calls.get, call_id)
    except (NotFoundError, ConflictError) as e:
        status = 404 if isinstance(e, NotFoundError) else 429 if isinstance(e, ListenerLimitError) else 409
        await _ws_error(websocket, status, str(e))
        return
    try:
        await websocket.send_json(to_event("state", state))

        async def pump() -> None:
            while True:
                event = await q.get()
                if event is None:
                    return
                await websocket.send_json(event)

        async def drain() -> None:  # the client says nothing we need; this only notices a disconnect
            while True:
                msg = await websocket.receive()
                if msg["type"] == "websocket.disconnect":
                    return

        tasks = [asyncio.create_task(pump()), asyncio.create_task(drain())]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        for t in done:
            if t.exception() is not None and not isinstance(t.exception(), WebSocketDisconnect):
                logger.warning("stream of call %s stopped: %r", call_id, t.exception())
    except WebSocketDisconnect:
        pass
    finally:
        calls.unsubscribe(call_id, q)
        if websocket.client_state == WebSocketState.CONNECTED:
            try:
                await websocket.close(code=1000)
            except RuntimeError:
                pass


async def _ws_error(websocket: WebSocket, status: int, detail: str) -> None:
    await websocket.send_json({"type": "error", "data": {"status": status, "detail": detail}})
    await websocket.close(code=4000 + status)


def _sees_all(who: ApiKey) -> bool:
    """Supervisors and admins see every call; an agent key sees the calls it opened."""
    return who.role.allows(Role.SUPERVISOR)


def _check_owner(calls: CallManager, call_id: str, who: ApiKey) -> None:
    if _sees_all(who):
        return
    owner = calls.owner_of(call_id)  # NotFoundError → 404
    if owner is not None and owner != who.id:
        raise HTTPException(status_code=403, detail=f"call {call_id!r} belongs to another agent key; "
                            f"only that key or a supervisor may read or change it")


def _without_raw(result: EndCallResult) -> EndCallResult:
    """The end-of-call result with the dispatch copy's raw values replaced by the masked ones."""
    copy = dict(result.ticket.dispatch_copy)
    copy["fields"] = {k: masked_text(v) if isinstance(v, str) else v for k, v in copy.get("fields", {}).items()}
    copy["masked"] = True
    return result.model_copy(update={"ticket": result.ticket.model_copy(update={"dispatch_copy": copy})})


# -- notices ------------------------------------------------------------------------------------
def _notices_router(models: LiveRequests) -> APIRouter:
    NoticeRequest = models.notice
    router = APIRouter(prefix="/v1/notices", tags=["notices"])

    @router.post("", status_code=201, response_model=Notice)
    def add_notice(req: NoticeRequest, notices: NoticesDep) -> Notice:  # type: ignore[valid-type]
        """Publish an outage or planned-works notice; live calls it covers get it pushed at once."""
        return notices.add(req.model_dump(mode="json"))

    @router.get("", response_model=NoticeList)
    def list_notices(notices: NoticesDep,
                     active: Annotated[bool, Query(description="only those in force now")] = False) -> NoticeList:
        return NoticeList(notices=notices.list(active_only=active))

    @router.delete("/{notice_id}", status_code=204)
    def delete_notice(notice_id: str, notices: NoticesDep) -> Response:
        notices.delete(notice_id)
        return Response(status_code=204)

    return router


# -- incidents ----------------------------------------------------------------------------------
def _incidents_router() -> APIRouter:
    router = APIRouter(prefix="/v1/incidents", tags=["incidents"])

    @router.get("", response_model=IncidentList)
    def list_incidents(incidents: IncidentsDep, calls: CallsDep,
                       active: Annotated[bool, Query(description="only open incidents")] = False) -> IncidentList:
        now = calls.clock()
        return IncidentList(incidents=incidents.active(now) if active else incidents.all(now))

    @router.get("/{incident_id}", response_model=Incident)
    def get_incident(incident_id: str, incidents: IncidentsDep, calls: CallsDep) -> Incident:
        """One incident; its ``draft_notice`` is a ``POST /v1/notices`` body. 404 if the id is unknown."""
        return incidents.get(incident_id, calls.clock())

    return router


# -- feedback -----------------------------------------------------------------------------------
def _feedback_router(models: LiveRequests) -> APIRouter:
    FeedbackRequest = models.feedback
    router = APIRouter(prefix="/v1/feedback", tags=["feedback"])

    @router.post("", status_code=201, response_model=Feedback)
    def add_feedback(req: FeedbackRequest, store: FeedbackDep, calls: CallsDep,  # type: ignore[valid-type]
                     who: PrincipalDep) -> Feedback:
        """Record agent feedback. Category feedback on a live call takes its text and label from the call."""
        text, target = req.text, req.target
        if req.call_id is not None and (text is None or target is None):
            try:
                state = calls.get(req.call_id, full=True)
            except NotFoundError:
                state = None
            if state is not None and req.kind in (FeedbackKind.CATEGORY_WRONG, FeedbackKind.CATEGORY_RIGHT):
                if text is None:
                    text = _category_text(state)
                if target is None and state.category:
                    target = state.category.label
        return store.add(kind=req.kind, call_id=req.call_id, target=target, correct_label=req.correct_label,
                         text=text, note=req.note, key_id=who.id)

    @router.get("", response_model=FeedbackList)
    def list_feedback(store: FeedbackDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                      kind: FeedbackKind | None = None) -> FeedbackList:
        return FeedbackList(feedback=store.list(limit=limit, kind=kind.value if kind else None))

    return router


def _category_text(state: CallState) -> str | None:
    """The customer turns behind the call's category (all customer turns when none is marked)."""
    evidence = set(state.category.evidence) if state.category else set()
    turns = [t.text for t in state.turns if t.speaker == Speaker.CUSTOMER]
    chosen = [t.text for t in state.turns if t.idx in evidence] or turns
    return "，".join(chosen)[:2000] or None


# -- wiring -------------------------------------------------------------------------------------
def install(app: FastAPI, settings: Settings) -> None:
    """Add the live routers (limits from ``settings``), the engine objects (on startup) and the expiry task."""
    for router in build_routers(settings):
        app.include_router(router)

    def capacity(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc), "error": type(exc).__name__},
                            headers={"Retry-After": str(settings.retry_after_s)})

    def listeners(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=429, content={"detail": str(exc), "error": type(exc).__name__})

    app.add_exception_handler(CallCapacityError, capacity)
    app.add_exception_handler(ListenerLimitError, listeners)
    app.state.on_startup.append(_startup)
    app.state.on_shutdown.append(_shutdown)


async def _startup(app: FastAPI) -> None:
    settings = app.state.settings
    holder = app.state.holder
    pipe = holder.pipeline
    db = app.state.db
    taxonomy = getattr(pipe, "taxonomy", None)

    def build() -> None:  # reads the store (notices, the incident log): off the event loop
        app.state.notices = NoticeBoard(taxonomy=taxonomy, repo=NoticeRepo(db))
        app.state.incidents = IncidentDetector(threshold=settings.incident_threshold,
                                               window_min=settings.incident_window_min,
                                               log=IncidentLog(db, replica=REPLICA))
        app.state.feedback = FeedbackStore(db, taxonomy=taxonomy)
        n = import_legacy_feedback(settings.feedback_path, app.state.feedback)
        if n:
            logger.info("imported %d feedback rows from %s into the store", n, settings.feedback_path)
        app.state.calls = CallManager(lambda: holder.pipeline, settings=settings, notices=app.state.notices,
                                      incidents=app.state.incidents, repo=CallRepo(db))

    await anyio.to_thread.run_sync(build)
    interval = max(0.05, min(30.0, settings.call_ttl_s / 4))
    app.state.expiry_task = asyncio.create_task(_expire_loop(app.state.calls, interval))
    app.state.sync_task = asyncio.create_task(_sync_loop(app, settings.replica_sync_s))
    # a restarted server takes its live calls back from the store in the background (a request for one of
    # them before that loads it at once)
    app.state.resume_task = asyncio.create_task(anyio.to_thread.run_sync(app.state.calls.resume))
    logger.info("live-call engine ready (max %d calls, ttl %.0fs, replica %s, store %s)",
                settings.max_calls, settings.call_ttl_s, REPLICA, db.describe())


async def _sync_loop(app: FastAPI, interval: float) -> None:
    """Take in what other replicas wrote (notices, incident events) and purge old ended calls."""
    settings = app.state.settings
    purge_every = max(1, int(3600 / interval))
    n = 0
    while True:
        await asyncio.sleep(interval)
        try:
            await anyio.to_thread.run_sync(app.state.notices.sync)
            await anyio.to_thread.run_sync(app.state.incidents.sync)
            n += 1
            if n % purge_every == 1:
                await anyio.to_thread.run_sync(
                    lambda: app.state.calls.purge_ended(timedelta(days=settings.ended_call_retention_days)))
        except Exception:  # keep syncing if one round fails (e.g. the database restarts)
            logger.exception("replica sync failed")


async def _shutdown(app: FastAPI) -> None:
    for name in ("expiry_task", "sync_task", "resume_task"):
        task = getattr(app.state, name, None)
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
    calls = getattr(app.state, "calls", None)
    if calls is not None:
        calls.close()
    store = getattr(app.state, "feedback", None)
    if store is not None:
        store.close()


async def _expire_loop(calls: CallManager, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await anyio.to_thread.run_sync(calls.expire)
        except Exception:  # keep expiring even if one sweep fails
            logger.exception("call expiry sweep failed")

