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
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hotline.core.errors import ConflictError, InvalidInputError, NotFittedError, NotFoundError
from hotline.core.results import CallBrief, CallState, EndCallResult, Incident, Speaker
from hotline.core.settings import Settings
from hotline.core.validate import check_call_id
from hotline.pipeline.live.events import EventFanout, publish, to_event
from hotline.pipeline.live.incidents import IncidentDetector, call_onset
from hotline.pipeline.live.notices import CHINA_TZ, NoticeBoard, parse_time, region_matches
from hotline.pipeline.live.ticket import SlotMemory, dispatch_copy, draft_ticket, summarise
from hotline.pipeline.live.tracker import CategoryTracker

__all__ = ["CallManager", "CallCapacityError"]

logger = logging.getLogger(__name__)

_LEVEL_RANK = {"none": 0, "watch": 1, "high": 2}
_MAX_REGION = 64
_MAX_CUSTOMER_KEY = 64
_MAX_CUSTOMER_VALUE = 200
_MAX_REASONS = 50
_REPLAY_SLOTS = ("phone", "location", "device", "fault_time")


class CallCapacityError(ConflictError):
    """All ``max_calls`` slots hold busy calls; a new call cannot be admitted (HTTP 503)."""


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

    def __post_init__(self) -> None:
        self.turns = deque(maxlen=self.max_turns)


class CallManager:
    """Thread-safe registry of live calls; one lock per call plus one for the registry.

    Args:
        pipeline: A warmed :class:`pipeline.assist.AssistPipeline`, or a zero-argument callable returning
            the current one (so a hot reload is picked up by the next utterance).
        settings: ``call_ttl_s``, ``max_calls``, ``max_turns_per_call``, ``max_text_chars`` are used.
        notices: Board whose matching notices are shown (and pushed when added).
        incidents: Detector fed with each call's category.
        clock: Returns the current aware datetime (default: now in UTC+8). Used for idle expiry and as the
            time at which notices and incidents are matched.
        switch_margin: Lead a challenger category needs to take over the display at once.
        busy_s: A call with no stream and no utterance for this long may be evicted to admit a new one.
    """

    def __init__(self, pipeline: Any, *, settings: Settings, notices: NoticeBoard, incidents: IncidentDetector,
                 clock: Callable[[], datetime] | None = None, switch_margin: float = 0.15,
                 busy_s: float = 60.0) -> None:
        self._pipeline_src = pipeline
        self.settings = settings
        self.notices = notices
        self.incidents = incidents
        self.clock = clock or (lambda: datetime.now(CHINA_TZ))
        self.switch_margin = switch_margin
        self.busy_s = min(busy_s, settings.call_ttl_s)
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
                   customer: dict[str, Any] | None = None) -> CallState:
        """Open a call; returns its first state.

        Raises:
            ConflictError: ``call_id`` is already live.
            CallCapacityError: ``max_calls`` live calls are all busy.
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
                     max_turns=self.settings.max_turns_per_call, last_activity=now,
                     tracker=CategoryTracker(switch_margin=self.switch_margin,
                                             max_turns=self.settings.max_turns_per_call))
        with self._lock:
            if call_id in self._calls:
                raise ConflictError(f"call_id {call_id!r} is already live; use another id or end that call first")
            evicted = self._make_room_locked(now)
            self._calls[call_id] = call
        for old in evicted:
            self._close_streams(old)
        with call.lock:
            state = self._snapshot(call)
        logger.debug("call %s started (region %s)", call_id, call.region or "-")
        return CallState.model_validate(state)

    def get(self, call_id: str) -> CallState:
        """The call's current state.

        Raises:
            NotFoundError: no live call has this id.
        """
        call = self._get(call_id)
        with call.lock:
            state = self._snapshot(call)
        return CallState.model_validate(state)

    def list_calls(self) -> list[CallBrief]:
        """A short line per live call, newest activity first."""
        with self._lock:
            calls = list(self._calls.values())
        return [CallBrief(call_id=c.call_id, region=c.region, status=c.status,
                          started_at=c.started_at.isoformat(), label=c.tracker.label,
                          escalate=c.escalation["escalate"], turns=c.next_idx,
                          updated_at=c.updated_at or c.started_at.isoformat())
                for c in sorted(calls, key=lambda c: c.last_activity, reverse=True)]

    def __len__(self) -> int:
        return len(self._calls)

    def add_utterance(self, call_id: str, speaker: str | Speaker, text: str,
                      ts: datetime | str | None = None) -> CallState:
        """Add one turn and return the updated state (pushed to listeners too).

        Raises:
            NotFoundError: unknown call. ConflictError: the call has ended.
            InvalidInputError: bad speaker, empty or too long text, bad ``ts``.
        """
        from hotline.core.mask import mask_pii
        from hotline.core.normalise import normalise_text

        speaker = _check_speaker(speaker)
        _check_utterance(text, self.settings.max_text_chars)
        call = self._get(call_id)
        now = self.clock()
        when = parse_time(ts, field="ts") if ts is not None else now
        norm = normalise_text(text)
        masked = mask_pii(norm).text
        new_incident = None
        with call.lock:
            if call.status != "active":
                if call.status == "expired":
                    raise NotFoundError(f"call {call_id!r} expired after {self.settings.call_ttl_s:.0f}s idle")
                raise ConflictError(f"call {call_id!r} has ended; start a new call for more utterances")
            idx = call.next_idx
            call.next_idx += 1
            call.turns.append({"idx": idx, "speaker": speaker, "text": masked, "ts": when.isoformat()})
            if speaker == Speaker.CUSTOMER.value:
                call.customer_turns += 1
            call.last_activity = now
            pipe = self._pipe()
            found = self._slot_extractor(pipe).extract(norm, reference_time=call.started_at)
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
            state = self._snapshot(call)
            ticket = {**state["ticket"],
                      "dispatch_copy": dispatch_copy(call.call_id, call.region, state["ticket"], call.slots,
                                                     call.customer_raw)}
            summary = summarise(state)
            subs = call.events.detach()
        final = CallState.model_validate(state)
        publish(subs, to_event("state", final))
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
            self._close_streams(c)
        if gone:
            logger.info("expired %d idle calls", len(gone))
        return [c.call_id for c in gone]

    # -- listeners ---------------------------------------------------------------------------
    def subscribe(self, call_id: str) -> Any:
        """A queue of events for one call (see :class:`~hotline.pipeline.live.events.EventFanout`).

        Inside a running event loop this is an ``asyncio.Queue``; elsewhere a ``queue.Queue``. ``None`` on it
        means the stream is over. A slow reader loses the oldest events, never blocks the engine.

        Raises:
            NotFoundError: unknown call. ConflictError: the call has ended.
        """
        call = self._get(call_id)
        with call.lock:
            if call.status != "active":
                raise ConflictError(f"call {call_id!r} has {call.status}; there is nothing more to stream")
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
        if call is None:
            raise NotFoundError(f"no live call with id {call_id!r}; start it with POST /v1/calls")
        return call

    def _make_room_locked(self, now: datetime) -> list[_Call]:
        if len(self._calls) < self.settings.max_calls:
            return []
        ttl = timedelta(seconds=self.settings.call_ttl_s)
        busy = timedelta(seconds=self.busy_s)
        evicted = [c for c in self._calls.values() if now - c.last_activity > ttl]

        def evictable(c: _Call) -> bool:
            return c.status != "active" or (not c.events and now - c.last_activity > busy)

        need = len(self._calls) - len(evicted) - self.settings.max_calls + 1
        if need > 0:
            rest = sorted((c for c in self._calls.values() if c not in evicted and evictable(c)),
                          key=lambda c: (c.status == "active", c.last_activity))
            evicted += rest[:need]
        if len(self._calls) - len(evicted) >= self.settings.max_calls:
            raise CallCapacityError(
                f"all {self.settings.max_calls} live-call slots are busy (HOTLINE_MAX_CALLS); "
                "end finished calls or raise the limit"
            )
        for c in evicted:
            del self._calls[c.call_id]
            logger.info("call %s evicted to make room", c.call_id)
        return evicted

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
        flags = self._escalation_detector().run([masked])["flags"][0]
        esc = call.escalation
        level = flags.get("level", "none")
        if _LEVEL_RANK.get(level, 0) > _LEVEL_RANK.get(esc["level"], 0):
            esc["level"] = level
        if flags.get("escalate"):
            esc["escalate"] = True
        seen = {(r["type"], r["match"]) for r in esc["reasons"]}
        for r in flags.get("reasons", []):
            if (r.get("type"), r.get("match")) not in seen and len(esc["reasons"]) < _MAX_REASONS:
                esc["reasons"].append({"type": r.get("type"), "match": r.get("match"), "turn": idx})

    def _update_vote(self, call: _Call, when: datetime) -> Incident | None:
        cat = call.tracker.category
        # a call shown at service level still votes with its likeliest leaf: the fault family groups leaves anyway
        vote = cat["label"] if cat and cat.get("level") != "none" and cat["is_complaint"] else None
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

    def _snapshot(self, call: _Call) -> dict[str, Any]:
        """The call state as a dict (validated into :class:`CallState` by the public methods)."""
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
            "turns": list(call.turns),
            "category": dict(category) if category else None,
            "faqs": list(call.faqs),
            "no_answer": call.no_answer,
            "spec": spec.to_dict() if spec is not None else None,
            "checklist": self._checklist(call, spec),
            "ticket": draft_ticket(spec, label, call.slots, call.customer_masked),
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


def _check_utterance(text: object, max_chars: int) -> None:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("text must be a non-empty string; send the utterance as transcribed")
    if len(text) > max_chars:
        raise InvalidInputError(
            f"text is too long: {len(text)} characters, the limit is {max_chars} (HOTLINE_MAX_TEXT_CHARS); split it"
        )
