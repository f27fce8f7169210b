"""Live call engine: utterances stream in, the agent's view of the call (category, answers, ticket) comes out.

:class:`CallManager` keeps the live calls (start, utterances, end, idle expiry, a capacity bound) and, per
call, the masked turns. On every utterance it updates:

* **category** from customer turns only (:class:`~hotline.pipeline.live.tracker.CategoryTracker`: evidence
  that decays, shown with hysteresis).
* **faqs** from the last two informative customer turns, boosted by the smoothed category probabilities.
* **ticket** draft (:mod:`hotline.pipeline.live.ticket`): the handling spec's fields filled from slots found
  in all turns (customer turns win), phone numbers masked (raw digits stay in memory for the dispatch copy
  returned by :meth:`CallManager.end_call`).
* **escalation** from customer turns; once flagged a call stays flagged.
* **notices** and **incidents** that cover the call's region and category.

Results are the models of :mod:`hotline.core.results` (:class:`CallState`, :class:`EndCallResult`,
:class:`CallBrief`). Listeners (:meth:`CallManager.subscribe`, :mod:`hotline.pipeline.live.events`) receive
``{"type": "state"|"incident"|"notice", "data": ...}`` JSON events; ``None`` means the call is over.

Example:
    >>> mgr = CallManager(pipe, settings=Settings(), notices=NoticeBoard(), incidents=IncidentDetector())  # doctest: +SKIP
    >>> mgr.start_call("c1", region="杭州市西湖区")  # doctest: +SKIP
    >>> mgr.add_utterance("c1", "customer", "我家宽带从昨天晚上开始连不上了").category.label  # doctest: +SKIP
    'broadband.cannot_connect'
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hotline.core.errors import ConflictError, InvalidInputError, NotFittedError, NotFoundError
from hotline.core.results import CallBrief, CallState, EndCallResult, Incident, Speaker, Turn
from hotline.core.settings import Settings
from hotline.core.validate import CALL_ID_PATTERN, check_call_id
from hotline.pipeline.escalation import merge_escalation
from hotline.pipeline.live.events import EventFanout, publish, to_event
from hotline.pipeline.live.incidents import IncidentDetector, call_onset
from hotline.pipeline.live.notices import CHINA_TZ, NoticeBoard, parse_time, region_matches
from hotline.pipeline.live.ticket import SlotMemory, dispatch_copy, draft_ticket, summarise
from hotline.pipeline.live.tracker import CategoryTracker

__all__ = ["CallManager", "CallCapacityError", "ListenerLimitError"]

logger = logging.getLogger(__name__)

_MAX_REGION = 64
_MAX_CUSTOMER_KEY = 64
_MAX_CUSTOMER_VALUE = 200
_REPLAY_SLOTS = ("phone", "location", "device", "fault_time")
_UTTERANCE_ID_RE = re.compile(CALL_ID_PATTERN)  # the same rule as call ids


class CallCapacityError(ConflictError):
    """All ``max_calls`` slots hold live calls within their idle TTL; a new call is refused (HTTP 503)."""


class ListenerLimitError(ConflictError):
    """The call already has ``max_listeners_per_call`` open streams (HTTP 429)."""


@dataclass
class _Call:
    call_id: str
    region: str
    started_at: datetime
    customer_raw: dict[str, str]
    customer_masked: dict[str, str]
    max_turns: int
    last_activity: datetime
    tracker: CategoryTracker
    status: str = "active"
    lock: threading.RLock = field(default_factory=threading.RLock)
    next_idx: int = 0
    turns: deque = field(default_factory=deque)
    updated_at: str = ""
    vote: str | None = None
    customer_turns: int = 0
    onset: tuple[tuple[int, str | None], Any] | None = None  # ((customer turns, fault time said), its onset)
    faqs: list[dict[str, Any]] = field(default_factory=list)
    no_answer: bool = True
    slots: SlotMemory = field(default_factory=SlotMemory)
    escalation: dict[str, Any] = field(default_factory=lambda: {"escalate": False, "level": "none", "reasons": []})
    events: EventFanout = field(default_factory=EventFanout)
    owner: str | None = None  # the API key id that opened the call (None when authentication is off)
    # the client's utterance_id → (turn idx, speaker, masked text), for the kept turns: a retried POST is not a new turn
    utterance_ids: dict[str, tuple[int, str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.turns = deque(maxlen=self.max_turns)


class CallManager:
    """Thread-safe registry of live calls; one lock per call plus one for the registry.

    A full table (``max_calls``) makes room only from calls that have ended or are past their idle TTL; a call
    still within its TTL is never evicted, however quiet (a caller on hold): the new call is refused instead.
    States carry the last ``state_recent_turns`` turns and ``turn_count`` (bounded per utterance, whatever the
    call's length); :meth:`transcript` and ``get(full=True)`` have every turn kept. A call takes at most
    ``max_listeners_per_call`` streams.

    Args:
        pipeline: A warmed :class:`pipeline.assist.AssistPipeline`, or a zero-argument callable returning
            the current one (so a hot reload is picked up by the next utterance).
        settings: ``call_ttl_s``, ``max_calls``, ``max_turns_per_call``, ``max_text_chars``,
            ``state_recent_turns`` and ``max_listeners_per_call`` are used.
        notices: Board whose matching notices are shown (and pushed when added).
        incidents: Detector fed with each call's category.
        clock: Returns the current aware datetime (default: now in UTC+8). Used for idle expiry and as the
            time at which notices and incidents are matched.
        switch_margin: Lead a challenger category needs to take over the display at once.
    """

    def __init__(self, pipeline: Any, *, settings: Settings, notices: NoticeBoard, incidents: IncidentDetector,
                 clock: Callable[[], datetime] | None = None, switch_margin: float = 0.15,
                 repo: Any = None) -> None:
        self._pipeline_src = pipeline
        # a hotline.store.calls.CallRepo: each turn is stored (masked) before it is acknowledged, so a restarted
        # server or another replica rebuilds the call from the store and carries on
        self.repo = repo
        self.settings = settings
        self._repeat_key: bytes | None = None  # loaded when the first call with a phone ends
        self.notices = notices
        self.incidents = incidents
        self.clock = clock or (lambda: datetime.now(CHINA_TZ))
        self.switch_margin = switch_margin
        self._calls: dict[str, _Call] = {}
        self._lock = threading.Lock()
        self._slots = None
        self._escalation = None
        self._aux_lock = threading.Lock()
        notices.add_listener(self._on_notice)

    # -- helpers to reach the models ------------------------------------------------------------
    def _pipe(self) -> Any:
        src = self._pipeline_src
        pipe = src() if callable(src) else src
        if pipe is None:
            raise NotFittedError("the models are not loaded yet; retry in a few seconds")
        return pipe

    def _slot_extractor(self, pipe: Any) -> Any:
        ext = getattr(pipe, "slots", None)
        if ext is not None:
            return ext
        with self._aux_lock:
            if self._slots is None:
                from hotline.pipeline.slots import SlotExtractor

                self._slots = SlotExtractor()
            return self._slots

    def _escalation_detector(self) -> Any:
        with self._aux_lock:
            if self._escalation is None:
                from hotline.pipeline.escalation import EscalationDetector

                det = EscalationDetector()
                if hasattr(det, "warm_up"):
                    det.warm_up()
                self._escalation = det
            return self._escalation

    def close(self) -> None:
        """Detach from the notice board and end every open stream (server shutdown)."""
        self.notices.remove_listener(self._on_notice)
        for call in self._live_calls():
            with call.lock:
                subs = call.events.detach()
            publish(subs, None)

    # -- lifecycle ---------------------------------------------------------------------------
    def start_call(self, call_id: str | None = None, region: str = "", started_at: datetime | str | None = None,
                   customer: dict[str, Any] | None = None, owner: str | None = None) -> CallState:
        """Open a call; returns its first state. ``owner`` (an API key id) is who may continue it.

        Raises:
            ConflictError: ``call_id`` is already live.
            CallCapacityError: ``max_calls`` calls are held, all active and within their idle TTL.
            InvalidInputError: bad id, region, time or customer dict.
        """
        from hotline.core.mask import masked_text
        from hotline.core.normalise import normalise_text

        call_id = uuid.uuid4().hex if call_id is None else check_call_id(call_id)
        region = _check_region(region)
        now = self.clock()
        started = parse_time(started_at, field="started_at") if started_at is not None else now
        raw = _check_customer(customer)
        masked = {k: masked_text(v) if v else v for k, v in raw.items()}
        call = _Call(call_id=call_id, region=normalise_text(region) if region else "",
                     started_at=started, customer_raw=raw, customer_masked=masked,
                     max_turns=self.settings.max_turns_per_call, last_activity=now, owner=owner,
                     tracker=CategoryTracker(switch_margin=self.switch_margin,
                                             max_turns=self.settings.max_turns_per_call))
        # the first state is made before the call is registered: if that fails, no half-made call stays behind
        with call.lock:
            state = CallState.model_validate(self._snapshot(call))
        with self._lock:
            if call_id in self._calls:
                raise ConflictError(f"call_id {call_id!r} is already live; use another id or end that call first")
            evicted = self._make_room_locked(now)
            if self.repo is not None:  # ConflictError when the id is live on another replica
                self.repo.create(call_id, owner=owner, region=call.region, started_at=started,
                                 customer=masked, now=now)
            self._calls[call_id] = call
        for old in evicted:
            self._close_streams(old)
        logger.debug("call %s started (region %s)", call_id, call.region or "-")
        return state

    def get(self, call_id: str, *, full: bool = False) -> CallState:
        """The call's current state: the last ``state_recent_turns`` turns, or every turn kept when ``full``.

        Raises:
            NotFoundError: no live call has this id.
        """
        call = self._get(call_id)
        with call.lock:
            state = self._snapshot(call, full=full)
        return CallState.model_validate(state)

    def transcript(self, call_id: str) -> list[Turn]:
        """Every turn kept (at most ``max_turns_per_call``, the latest), oldest first.

        Raises:
            NotFoundError: no live call has this id.
        """
        call = self._get(call_id)
        with call.lock:
            turns = list(call.turns)
        return [Turn.model_validate(t) for t in turns]

    def owner_of(self, call_id: str) -> str | None:
        """The API key id that opened the call. Raises NotFoundError for an unknown call."""
        return self._get(call_id).owner

    def list_calls(self, *, owner: str | None = None) -> list[CallBrief]:
        """A short line per live call, newest activity first; only ``owner``'s calls when given."""
        with self._lock:
            calls = [c for c in self._calls.values() if owner is None or c.owner == owner]
        out = [(c.last_activity, CallBrief(call_id=c.call_id, region=c.region, status=c.status,
                                           started_at=c.started_at.isoformat(), label=c.tracker.label,
                                           escalate=c.escalation["escalate"], turns=c.next_idx,
                                           updated_at=c.updated_at or c.started_at.isoformat()))
               for c in calls]
        if self.repo is not None:  # calls other replicas carry (not loaded here): what the store knows of them
            here = {c.call_id for c in calls}
            since = self.clock() - timedelta(seconds=self.settings.call_ttl_s)
            for row in self.repo.briefs(active_since=since, owner=owner):
                if row["call_id"] not in here:
                    out.append((row["last_activity"], CallBrief(
                        call_id=row["call_id"], region=row["region"], status="active",
                        started_at=row["started_at"].astimezone(CHINA_TZ).isoformat(), label=None, escalate=False,
                        turns=row["turns"], updated_at=row["last_activity"].astimezone(CHINA_TZ).isoformat())))
        return [b for _, b in sorted(out, key=lambda x: x[0], reverse=True)]

    def __len__(self) -> int:
        return len(self._calls)

    def add_utterance(self, call_id: str, speaker: str | Speaker, text: str,
                      ts: datetime | str | None = None, utterance_id: str | None = None) -> CallState:
        """Add one turn and return the updated state (pushed to listeners too).

        ``utterance_id`` (the client's id for the turn) makes the call idempotent: a retry with an id already
        added returns the call's current state and adds nothing, so a request whose answer was lost can be
        sent again safely. Ids are remembered for the turns the call keeps (``max_turns_per_call``).

        Raises:
            NotFoundError: unknown call. ConflictError: the call has ended, or ``utterance_id`` was used for a
                different turn.
            InvalidInputError: bad speaker, empty or too long text, bad ``ts`` or ``utterance_id``.
        """
        from hotline.core.mask import mask_pii
        from hotline.core.normalise import normalise_text

        speaker = _check_speaker(speaker)
        _check_utterance(text, self.settings.max_text_chars)
        if utterance_id is not None:
            utterance_id = _check_utterance_id(utterance_id)
        call = self._get(call_id)
        now = self.clock()
        when = parse_time(ts, field="ts") if ts is not None else now
        norm = normalise_text(text)
        masked = mask_pii(norm).text
        new_incident = None
        with call.lock:
            if utterance_id is not None and utterance_id in call.utterance_ids:
                return self._repeated(call, utterance_id, speaker, masked)
            if call.status != "active":
                if call.status == "expired":
                    raise NotFoundError(f"call {call_id!r} expired after {self.settings.call_ttl_s:.0f}s idle")
                raise ConflictError(f"call {call_id!r} has ended; start a new call for more utterances")
            # what can fail on odd input runs before the call changes, so a failure leaves no half-added turn
            pipe = self._pipe()
            found = self._slot_extractor(pipe).extract(norm, reference_time=call.started_at)
            if self.repo is not None:  # stored before it is acknowledged (and before memory changes)
                self._store_turn(call, speaker, masked, when, now, utterance_id)
                if utterance_id is not None and utterance_id in call.utterance_ids:  # caught up: a retry
                    return self._repeated(call, utterance_id, speaker, masked)
            idx = call.next_idx
            call.next_idx += 1
            call.turns.append({"idx": idx, "speaker": speaker, "text": masked, "ts": when.isoformat()})
            if utterance_id is not None:
                self._remember(call, utterance_id, (idx, speaker, masked))
            if speaker == Speaker.CUSTOMER.value:
                call.customer_turns += 1
            call.last_activity = now
            call.slots.record(found, idx, speaker)
            answers = [str(found[k]["value"]) for k in ("location",) if found.get(k)]
            # both speakers' turns feed the call model (the agent's diagnosis may decide the category)
            informative = call.tracker.update(pipe.classifier, masked, idx, speaker=speaker, slot_values=answers,
                                              call_model=getattr(pipe, "call_model", None),
                                              taxonomy=getattr(pipe, "taxonomy", None))
            if speaker == Speaker.CUSTOMER.value:
                self._update_escalation(call, masked, idx)
                if informative:
                    self._update_faqs(call, pipe)
            new_incident = self._update_vote(call, when)
            logger.debug("call %s turn %d %s: %s", call_id, idx, speaker, masked)  # masked text only
            snapshot = self._snapshot(call)
            subs = call.events.targets()
        state = CallState.model_validate(snapshot)
        publish(subs, to_event("state", state))
        if new_incident is not None:
            logger.warning("mass incident %s: %s in %s, %d calls", new_incident.id, new_incident.code,
                           new_incident.region, new_incident.count)
            self._broadcast_incident(new_incident)
        return state

    def _remember(self, call: _Call, utterance_id: str, turn: tuple[int, str, str]) -> None:
        """Record a turn's client id; the oldest go once more ids are held than the call keeps turns."""
        ids = call.utterance_ids
        ids[utterance_id] = turn
        while len(ids) > self.settings.max_turns_per_call:
            del ids[next(iter(ids))]

    def _repeated(self, call: _Call, utterance_id: str, speaker: str, masked: str) -> CallState:
        """The answer to a retried turn (caller holds call.lock): the current state, or 409 if the id was
        used for another turn."""
        idx, said_by, said = call.utterance_ids[utterance_id]
        if (said_by, said) != (speaker, masked):
            raise ConflictError(
                f"utterance_id {utterance_id!r} was already used for turn {idx} of call {call.call_id!r}, with "
                "another speaker or text; give each turn its own id (reuse an id only to retry the same turn)")
        logger.debug("call %s turn %d repeated (utterance_id %s): not added again", call.call_id, idx, utterance_id)
        return CallState.model_validate(self._snapshot(call))

    def end_call(self, call_id: str) -> EndCallResult:
        """Close the call: the summary, the ticket draft with its dispatch copy, and the final state.

        The ticket's ``dispatch_copy`` holds the unmasked field values (the phone number's digits) for the
        dispatch system; it is returned here only, never stored in the state or logged.

        Raises:
            NotFoundError: unknown or expired call. ConflictError: the call has already ended.
        """
        call = self._get(call_id)
        with call.lock:
            if call.status == "ended":
                raise ConflictError(f"call {call_id!r} has already ended")
            if call.status == "expired":
                raise NotFoundError(f"call {call_id!r} expired after {self.settings.call_ttl_s:.0f}s idle")
            call.status = "ended"
            call.last_activity = self.clock()
            state = self._snapshot(call, full=True)  # the summary reads the whole call; the result keeps it
            ticket = {**state["ticket"],
                      "dispatch_copy": dispatch_copy(call.call_id, call.region, state["ticket"], call.slots,
                                                     call.customer_raw)}
            summary = summarise(state)
            self._store_end(call, state, summary, ticket, "ended")
            subs = call.events.detach()
        final = CallState.model_validate(state)
        publish(subs, to_event("state", CallState.model_validate(self._recent(state))))
        publish(subs, None)
        logger.debug("call %s ended (%s, %d turns)", call_id, call.tracker.label or "no category", call.next_idx)
        return EndCallResult.model_validate({"summary": summary, "ticket": ticket, "state": final})

    def slot_values(self, call_id: str, names: tuple[str, ...] = _REPLAY_SLOTS) -> dict[str, str | None]:
        """Raw best value per slot ``names`` (phone as digits) for offline tools such as replay; never log it."""
        call = self._get(call_id)
        with call.lock:
            return call.slots.values(tuple(names))

    def discard(self, call_id: str) -> None:
        """Forget a call at once (replay uses this to keep memory flat)."""
        with self._lock:
            call = self._calls.pop(call_id, None)
        if call is not None:
            self._close_streams(call)

    def expire(self, now: datetime | None = None) -> list[str]:
        """Drop calls idle for longer than ``settings.call_ttl_s``; returns their ids."""
        now = now or self.clock()
        ttl = timedelta(seconds=self.settings.call_ttl_s)
        with self._lock:
            gone = [c for c in self._calls.values() if now - c.last_activity > ttl]
            for c in gone:
                del self._calls[c.call_id]
        for c in gone:
            was_active = c.status == "active"
            self._close_streams(c)  # marks it expired
            if self.repo is not None and was_active:
                self._expire_stored(c, now, ttl)
        if gone:
            logger.info("expired %d idle calls", len(gone))
        return [c.call_id for c in gone]

    def _expire_stored(self, call: _Call, now: datetime, ttl: timedelta) -> None:
        """Keep an abandoned call as an ended call (status ``expired``), unless another replica is still
        carrying it (its stored activity is recent): then only this process's copy goes."""
        try:
            stored = self.repo.load(call.call_id)
            if stored is None or now - stored["last_activity"] <= ttl:
                return
            with call.lock:
                state = self._snapshot(call, full=True)
                summary = summarise(state)
                self._store_end(call, state, summary, state["ticket"], "expired")
        except Exception:  # one bad call must not stop the sweep; it is retried at the next restart
            logger.exception("could not store expired call %s", call.call_id)

    # -- listeners ---------------------------------------------------------------------------
    def subscribe(self, call_id: str) -> Any:
        """A queue of events for one call (see :class:`~hotline.pipeline.live.events.EventFanout`).

        Inside a running event loop this is an ``asyncio.Queue``; elsewhere a ``queue.Queue``. ``None`` on it
        means the stream is over. A slow reader loses the oldest events, never blocks the engine.

        Raises:
            NotFoundError: unknown call. ConflictError: the call has ended.
            ListenerLimitError: the call already has ``max_listeners_per_call`` streams.
        """
        call = self._get(call_id)
        limit = self.settings.max_listeners_per_call
        with call.lock:
            if call.status != "active":
                raise ConflictError(f"call {call_id!r} has {call.status}; there is nothing more to stream")
            if len(call.events) >= limit:
                raise ListenerLimitError(
                    f"call {call_id!r} already has {limit} open streams (HOTLINE_MAX_LISTENERS_PER_CALL); "
                    "close another widget on this call, or poll GET /v1/calls/{call_id}")
            return call.events.subscribe()

    def unsubscribe(self, call_id: str, q: Any) -> None:
        """Stop feeding ``q``; a call that is gone is ignored."""
        with self._lock:
            call = self._calls.get(call_id)
        if call is not None:
            call.events.unsubscribe(q)

    # -- internals: registry -------------------------------------------------------------------
    def _get(self, call_id: str) -> _Call:
        with self._lock:
            call = self._calls.get(call_id)
        if call is None and self.repo is not None:
            call = self._load(call_id)
        if call is None:
            raise NotFoundError(f"no live call with id {call_id!r}; start it with POST /v1/calls")
        return call

    # -- the store ------------------------------------------------------------------------------
    def _store_turn(self, call: _Call, speaker: str, masked: str, when: datetime, now: datetime,
                    utterance_id: str | None) -> None:
        """Write the next turn (caller holds call.lock), first taking in turns another replica added."""
        from hotline.store.calls import TurnConflict

        for _ in range(3):
            stored = self.repo.version(call.call_id)
            if stored is None:
                call.status = "ended"
                raise ConflictError(f"call {call.call_id!r} has ended (or expired); start a new call")
            if stored > call.next_idx:
                self._catch_up(call)
                if utterance_id is not None and utterance_id in call.utterance_ids:
                    return
            try:
                self.repo.append_turn(call.call_id, call.next_idx, speaker=speaker, text=masked, ts=when,
                                      now=now, utterance_id=utterance_id)
                return
            except TurnConflict:
                continue  # another replica wrote that index a moment ago: catch up and try the next one
        raise ConflictError(f"call {call.call_id!r} is being written by several servers at once; retry")

    def _catch_up(self, call: _Call) -> None:
        """Apply the stored turns this process has not seen (written by another replica)."""
        stored = self.repo.load(call.call_id)
        if stored is None:
            return
        pipe = self._pipe()
        for t in stored["transcript"]:
            if t["idx"] >= call.next_idx:
                self._replay_turn(call, pipe, t)

    def _replay_turn(self, call: _Call, pipe: Any, t: dict[str, Any]) -> None:
        """One stored (masked) turn into the call's memory: the same steps as a live turn, nothing pushed."""
        masked, speaker, when = t["text"], t["speaker"], t["ts"].astimezone(CHINA_TZ)
        found = self._slot_extractor(pipe).extract(masked, reference_time=call.started_at)
        idx = call.next_idx = t["idx"]
        call.next_idx += 1
        call.turns.append({"idx": idx, "speaker": speaker, "text": masked, "ts": when.isoformat()})
        if t.get("utterance_id"):
            self._remember(call, t["utterance_id"], (idx, speaker, masked))
        if speaker == Speaker.CUSTOMER.value:
            call.customer_turns += 1
        call.slots.record(found, idx, speaker)
        call.tracker.update(pipe.classifier, masked, idx, speaker=speaker,
                            call_model=getattr(pipe, "call_model", None), taxonomy=getattr(pipe, "taxonomy", None))
        if speaker == Speaker.CUSTOMER.value:
            self._update_escalation(call, masked, idx)
        call.last_activity = max(call.last_activity, when)

    def _load(self, call_id: str) -> _Call | None:
        """Rebuild a live call from the store (after a restart, or one opened on another replica)."""
        stored = self.repo.load(call_id)
        if stored is None or self.clock() - stored["last_activity"] > timedelta(seconds=self.settings.call_ttl_s):
            return None  # unknown, or idle past its TTL (the sweep files it as expired)
        pipe = self._pipe()
        started = stored["started_at"].astimezone(CHINA_TZ)
        customer = dict(stored["customer"] or {})
        call = _Call(call_id=call_id, region=stored["region"], started_at=started, customer_raw=customer,
                     customer_masked=customer, max_turns=self.settings.max_turns_per_call,
                     last_activity=stored["last_activity"].astimezone(CHINA_TZ), owner=stored["owner_key"],
                     tracker=CategoryTracker(switch_margin=self.switch_margin,
                                             max_turns=self.settings.max_turns_per_call))
        with call.lock:
            for t in stored["transcript"]:
                self._replay_turn(call, pipe, t)
            if call.customer_turns:
                self._update_faqs(call, pipe)
            call.last_activity = stored["last_activity"].astimezone(CHINA_TZ)
        with self._lock:
            existing = self._calls.get(call_id)
            if existing is not None:  # loaded by another thread meanwhile
                return existing
            evicted = self._make_room_locked(self.clock())
            self._calls[call_id] = call
        for old in evicted:
            self._close_streams(old)
        logger.info("call %s resumed from the store (%d turns)", call_id, call.next_idx)
        return call

    def resume(self) -> int:
        """Load every stored call active within the idle TTL (a restarted server's live calls); returns how
        many were loaded."""
        if self.repo is None:
            return 0
        since = self.clock() - timedelta(seconds=self.settings.call_ttl_s)
        n = 0
        for call_id in self.repo.live_ids(active_since=since):
            try:
                if self._get(call_id) is not None:
                    n += 1
            except (NotFoundError, CallCapacityError):
                continue
        return n

    def _store_end(self, call: _Call, state: dict[str, Any], summary: str, ticket: dict[str, Any],
                   status: str) -> None:
        """Move the call to the ended-calls table: masked transcript, state, summary and ticket (no
        dispatch copy: raw values never reach the store)."""
        if self.repo is None:
            return
        public_ticket = {k: v for k, v in ticket.items() if k != "dispatch_copy"}
        record = {"status": status, "summary": summary, "ticket": public_ticket, "customer": call.customer_masked,
                  "state": state, "caller": self._caller(call)}
        cat = state.get("category") or {}
        self.repo.end(call.call_id, owner=call.owner, region=call.region, started_at=call.started_at,
                      ended_at=call.last_activity, label=cat.get("label"), record=record)

    def _caller(self, call: _Call) -> str | None:
        """The keyed hash of the caller's phone (the CRM's, else the one said in the call) that batch analysis
        compares to find repeat callers; the number itself never reaches the store."""
        from hotline.core.callers import caller_key, load_repeat_key

        phone = call.customer_raw.get("phone") or call.slots.values(("phone",)).get("phone")
        if not phone:
            return None
        if self._repeat_key is None:
            self._repeat_key = load_repeat_key(self.settings)
        return caller_key(phone, self._repeat_key)

    def purge_ended(self, older_than: timedelta) -> int:
        """Delete stored ended calls older than ``older_than`` (the retention period)."""
        if self.repo is None:
            return 0
        # stored calls nobody carries any more (their server died, or they were evicted past their TTL)
        stale = self.repo.expire_stale(idle_for=timedelta(seconds=self.settings.call_ttl_s), now=self.clock())
        if stale:
            logger.info("filed %d abandoned stored calls as expired", stale)
        n = self.repo.purge(older_than=older_than)
        if n:
            logger.info("purged %d ended calls older than %s", n, older_than)
        return n

    def _make_room_locked(self, now: datetime) -> list[_Call]:
        """Free one slot from ended/expired calls (oldest first) or calls past their TTL; never from a call
        still within its idle TTL. Raises :class:`CallCapacityError` when none can go."""
        if len(self._calls) < self.settings.max_calls:
            return []
        ttl = timedelta(seconds=self.settings.call_ttl_s)
        stale = [c for c in self._calls.values() if now - c.last_activity > ttl]
        need = len(self._calls) - len(stale) - self.settings.max_calls + 1
        if need > 0:
            done = sorted((c for c in self._calls.values() if c.status != "active" and c not in stale),
                          key=lambda c: c.last_activity)
            stale += done[:need]
        if len(self._calls) - len(stale) >= self.settings.max_calls:
            raise CallCapacityError(
                f"all {self.settings.max_calls} live-call slots hold active calls within their idle TTL "
                f"(HOTLINE_MAX_CALLS={self.settings.max_calls}, HOTLINE_CALL_TTL_S={self.settings.call_ttl_s:g}); "
                "retry shortly, end finished calls or raise the limit"
            )
        for c in stale:
            del self._calls[c.call_id]
            logger.info("call %s (%s) evicted to make room", c.call_id, c.status)
        return stale

    def _close_streams(self, call: _Call) -> None:
        with call.lock:
            if call.status == "active":
                call.status = "expired"
            state = self._snapshot(call)
            subs = call.events.detach()
        if subs:
            publish(subs, to_event("state", CallState.model_validate(state)))
            publish(subs, None)

    def _live_calls(self) -> list[_Call]:
        with self._lock:
            return [c for c in self._calls.values() if c.status == "active"]

    # -- internals: updates (caller holds call.lock) -------------------------------------------
    def _update_faqs(self, call: _Call, pipe: Any) -> None:
        query = " ".join(call.tracker.recent)
        res = pipe.retriever.run([query], top_k=getattr(pipe, "top_k", 5),
                                 category_probs=[call.tracker.probs])["results"][0]
        call.faqs = [h.model_dump() for h in res.hits]
        call.no_answer = bool(res.no_answer)

    def _update_escalation(self, call: _Call, masked: str, idx: int) -> None:
        merge_escalation(call.escalation, self._escalation_detector().run([masked])["flags"][0], idx)

    def _update_vote(self, call: _Call, when: datetime) -> Incident | None:
        cat = call.tracker.category
        # a call shown at service level still votes with its likeliest leaf: the fault family groups leaves anyway
        vote = cat["label"] if cat and cat.get("level") != "none" and cat["is_complaint"] else None
        vote = self.incidents.vote_code(vote, call.tracker.probs) if vote is not None else None
        call.vote = vote
        # every turn, not only when the vote changes: where the caller is and since when often come later (the
        # detector ignores a repeat that changes nothing), and a long-standing problem must leave the count
        said = call.slots.values(("location", "fault_time"))
        onset = None if vote is None else self._onset(call, said["fault_time"])
        return self.incidents.observe(call.call_id, vote, call.region, when, location=said["location"], onset=onset)

    @staticmethod
    def _onset(call: _Call, fault_time: str | None) -> Any:
        """:func:`call_onset` of the call, recomputed only when the customer said more or the fault time changed
        (an agent turn changes neither, and it re-reads every customer turn)."""
        key = (call.customer_turns, fault_time)
        if call.onset is None or call.onset[0] != key:
            text = "，".join(t["text"] for t in call.turns if t["speaker"] == Speaker.CUSTOMER.value)
            call.onset = (key, call_onset(fault_time, text, started_at=call.started_at))
        return call.onset[1]

    # -- internals: views (caller holds call.lock) --------------------------------------------
    def _specs(self) -> dict[str, Any]:
        try:
            return getattr(self._pipe(), "specs", None) or {}
        except NotFittedError:
            return {}

    def _spec(self, call: _Call) -> Any:
        """The handling spec of the shown leaf; none while the call is shown at service level or off-topic."""
        cat = call.tracker.category
        if cat is None or cat.get("level", "leaf") != "leaf":
            return None
        return self._specs().get(cat["label"])

    def _checklist(self, call: _Call, spec: Any) -> list[str]:
        """The spec's questions; at service level, one question per likely leaf to tell them apart."""
        if spec is not None:
            return list(spec.questions)
        cat = call.tracker.category
        if not cat or cat.get("level") != "service":
            return []
        specs, out = self._specs(), []
        for c in cat.get("top", []):
            leaf = specs.get(c["code"])
            if leaf is not None and leaf.questions and c["code"].split(".", 1)[0] == cat["service"]:
                out.append(f"{leaf.title}？{leaf.questions[0]}")
        return out

    def _recent(self, state: dict[str, Any]) -> dict[str, Any]:
        """A state dict with only its last ``state_recent_turns`` turns."""
        n = self.settings.state_recent_turns
        return state if len(state["turns"]) <= n else {**state, "turns": state["turns"][-n:]}

    def _snapshot(self, call: _Call, *, full: bool = False) -> dict[str, Any]:
        """The call state as a dict (validated into :class:`CallState` by the public methods): the last
        ``state_recent_turns`` turns, or all kept turns when ``full``, and ``turn_count``."""
        now = self.clock()
        spec = self._spec(call)
        label = call.tracker.category["label"] if spec is not None else None
        notices = [n.model_dump(mode="json") for n in self.notices.match(call.region, label, now)] if label else []
        shown = call.tracker.category["label"] if call.tracker.category else None
        incidents = [i.model_dump(mode="json") for i in self.incidents.covering(call.call_id, shown, call.region, now)]
        replies = [{"source": "notice", "id": n["id"], "title": n["title"], "text": n["script"]} for n in notices]
        replies += [{"source": "faq", "id": h.get("id"), "title": h.get("question"), "text": h.get("answer"),
                     "score": h.get("score")} for h in call.faqs]
        call.updated_at = now.isoformat()
        category = call.tracker.category
        return {
            "call_id": call.call_id,
            "region": call.region,
            "started_at": call.started_at.isoformat(),
            "status": call.status,
            "customer": dict(call.customer_masked),
            "turns": list(call.turns) if full else list(call.turns)[-self.settings.state_recent_turns:],
            "turn_count": call.next_idx,
            "category": dict(category) if category else None,
            "faqs": list(call.faqs),
            "no_answer": call.no_answer,
            "spec": spec.to_dict() if spec is not None else None,
            "checklist": self._checklist(call, spec),
            "ticket": draft_ticket(spec, label, call.slots, call.customer_masked, escalation=call.escalation,
                                   mass_incident=bool(incidents), started_at=call.started_at),
            "notices": notices,
            "incidents": incidents,
            "replies": replies,
            "escalation": {**call.escalation, "reasons": list(call.escalation["reasons"])},
            "updated_at": call.updated_at,
        }

    # -- internals: pushing ----------------------------------------------------------------------
    def _broadcast_incident(self, incident: Incident) -> None:
        for call in self._live_calls():
            with call.lock:
                shown = call.tracker.category["label"] if call.tracker.category else None
                covering = self.incidents.covering(call.call_id, shown, call.region, self.clock())
                if not any(i.id == incident.id for i in covering):
                    continue
                state = self._snapshot(call)
                subs = call.events.targets()
            publish(subs, to_event("incident", incident))
            publish(subs, to_event("state", CallState.model_validate(state)))

    def _on_notice(self, event: str, notice: dict[str, Any]) -> None:
        now = self.clock()
        for call in self._live_calls():
            with call.lock:
                label = call.tracker.label
                if not label:
                    continue
                service = label.split(".", 1)[0]
                covers = label in notice["categories"] or service in notice["services"]
                if not covers or not any(region_matches(call.region, a) for a in notice["regions"]):
                    continue
                if event == "added" and not (parse_time(notice["starts_at"], field="starts_at") <= now
                                             < parse_time(notice["ends_at"], field="ends_at")):
                    continue
                state = self._snapshot(call)
                subs = call.events.targets()
            publish(subs, to_event("notice", {**notice, "event": event}))
            publish(subs, to_event("state", CallState.model_validate(state)))


def _check_region(region: object) -> str:
    if not isinstance(region, str) or len(region.strip()) > _MAX_REGION:
        raise InvalidInputError(f"region must be a string of at most {_MAX_REGION} characters, got {region!r:.80}")
    return region.strip()


def _check_customer(customer: dict[str, Any] | None) -> dict[str, str]:
    """Known customer data as stripped strings; ``None`` values are dropped."""
    raw: dict[str, str] = {}
    for k, v in (customer or {}).items():
        if v is None:
            continue
        if (not isinstance(k, str) or not isinstance(v, (str, int, float)) or len(str(v)) > _MAX_CUSTOMER_VALUE
                or len(k) > _MAX_CUSTOMER_KEY):
            raise InvalidInputError(
                f"customer[{k!r:.40}] must be a string of at most {_MAX_CUSTOMER_VALUE} characters, got {v!r:.80}"
            )
        raw[k] = str(v).strip()
    return raw


def _check_speaker(speaker: object) -> str:
    speaker = speaker.value if isinstance(speaker, Speaker) else speaker
    if speaker not in (Speaker.AGENT.value, Speaker.CUSTOMER.value):
        raise InvalidInputError(f"speaker must be 'agent' or 'customer', got {speaker!r:.40}")
    return str(speaker)


def _check_utterance_id(utterance_id: object) -> str:
    if not isinstance(utterance_id, str) or not _UTTERANCE_ID_RE.fullmatch(utterance_id):
        raise InvalidInputError(
            f"utterance_id must be 1-64 characters of letters, digits and _.:-, got {utterance_id!r:.80}; "
            "use your own id for the turn, e.g. 'c-0001:17'")
    return utterance_id


def _check_utterance(text: object, max_chars: int) -> None:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("text must be a non-empty string; send the utterance as transcribed")
    if len(text) > max_chars:
        raise InvalidInputError(
            f"text is too long: {len(text)} characters, the limit is {max_chars} (HOTLINE_MAX_TEXT_CHARS); split it"
        )
