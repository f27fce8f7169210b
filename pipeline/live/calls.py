"""Live call engine: utterances stream in, the agent's view of the call (category, answers, ticket) comes out.

Per call the engine keeps the masked turns and, on every utterance, updates:

* **category** from customer turns only. Each turn's class probabilities are weighted by how informative
  the turn is (``嗯``/``对的`` weigh nothing; long, confident turns weigh most) and mixed into a running
  evidence vector whose older part decays by ``0.5 ** weight`` per new turn, so later turns weigh more.
  The displayed label has hysteresis: a challenger takes over only when it leads by ``switch_margin`` or
  is on top for two informative turns in a row.
* **faqs** from the last two informative customer turns, boosted by the smoothed category probabilities.
* **ticket** draft: the handling spec's fields filled from slots found in all turns (customer turns win),
  phone numbers masked (raw digits stay in memory for the dispatch copy returned by :meth:`end_call`).
* **escalation** from customer turns; once flagged a call stays flagged.
* **notices** and **incidents** that cover the call's region and category.

Listeners (:meth:`CallManager.subscribe`) receive ``{"type": "state"|"incident"|"notice", "data": ...}``
events; ``None`` means the call is over and the stream should close.

Example:
    >>> mgr = CallManager(pipe, settings=Settings(), notices=NoticeBoard(), incidents=IncidentDetector())  # doctest: +SKIP
    >>> mgr.start_call("c1", region="杭州市西湖区")  # doctest: +SKIP
    >>> mgr.add_utterance("c1", "customer", "我家宽带从昨天晚上开始连不上了")["category"]["label"]  # doctest: +SKIP
    'broadband.cannot_connect'
"""

from __future__ import annotations

import asyncio
import logging
import queue
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from hotline.core.errors import ConflictError, InvalidInputError, NotFittedError, NotFoundError
from hotline.core.results import Speaker
from hotline.core.settings import Settings
from hotline.pipeline.live.incidents import IncidentDetector
from hotline.pipeline.live.notices import CHINA_TZ, NoticeBoard, parse_time, region_matches

__all__ = ["CallManager", "Speaker", "CallCapacityError", "check_call_id", "turn_weight"]

logger = logging.getLogger(__name__)

_LEVEL_RANK = {"none": 0, "watch": 1, "high": 2}
_MAX_REGION = 64
_MAX_CALL_ID = 64
_CALL_ID_RE = re.compile(r"^[A-Za-z0-9_.:\-]+$")
_QUEUE_SIZE = 256

# Words that carry no complaint content; only used to measure how informative a turn is. The second
# line covers answers to the agent's ticket questions (我的电话是…, 住在…), which say nothing of the fault.
_FILLER_RE = re.compile(
    "喂|嗯|啊|哦|噢|呃|额|唉|哎|呀|吧|呢|嘛|啦|哈|好的|好吧|是的|对的|对|是|好|行|可以|没错|明白|知道了|"
    "谢谢|您好|你好|那个|这个|就是|然后|请问|麻烦|"
    "我的|我们|我|电话|号码|手机号|联系方式|联系|地址|住在|住|在|位置|叫|姓"
)
_MASKED_RE = re.compile(r"[0-9A-Za-z]*\*{2,}[0-9A-Za-z]*")
_HAN_RE = re.compile("[\u4e00-\u9fff]")
_LATIN_RE = re.compile("[A-Za-z0-9]+")

_QUESTIONS = {
    "phone": "请问您的联系电话是多少？",
    "location": "请问{label}在哪里？麻烦说具体一些，比如哪个区、哪个小区、几栋。",
    "device": "请问您的{label}是什么？",
    "fault_time": "请问{label}大概是什么时候？",
    "appointment_time": "请问您方便什么时间安排上门？",
    "amount": "请问{label}是多少？",
    "id_verified": "为了保护您的账户安全，麻烦提供一下机主身份证号码的后四位，核实一下身份。",
    "roaming_place": "请问您现在在哪个国家或城市？",
    "billing_month": "请问是哪个月的账单？",
    "broadband_account": "请问您的宽带账号是多少？",
    "channel": "请问{label}是哪个？比如营业厅、网上营业厅、手机APP还是客服热线。",
    "order_time": "请问{label}大概是什么时候？",
}


class CallCapacityError(ConflictError):
    """All ``max_calls`` slots hold busy calls; a new call cannot be admitted (HTTP 503)."""


def check_call_id(call_id: object) -> str:
    """A call id is 1-64 ASCII letters, digits or ``_.:-``; returns it or raises InvalidInputError."""
    if not isinstance(call_id, str) or not call_id or len(call_id) > _MAX_CALL_ID or not _CALL_ID_RE.match(call_id):
        raise InvalidInputError(
            f"call_id must be 1-{_MAX_CALL_ID} characters of letters, digits and _.:-, got {call_id!r:.80}"
        )
    return call_id


def turn_weight(masked_text: str, probs: np.ndarray, *, slot_values: list[str] | None = None) -> float:
    """How much one customer turn counts as category evidence, in ``[0, 1]``.

    Length gate: characters left after dropping masked numbers, the given slot values (an address,
    a device) and filler words (``嗯``, ``对的``, ``我的电话是`` …); under 2 → 0, 6 or more → 1. Confidence: the top probability's margin over uniform, in ``[0, 1]``
    (a turn the classifier cannot place, such as one giving a phone number, adds almost nothing).
    The weight is their product.
    """
    content = _MASKED_RE.sub("", masked_text)
    for v in slot_values or []:
        if v and len(v) >= 2:
            content = content.replace(v, "")
    content = _FILLER_RE.sub("", content)
    n = len(_HAN_RE.findall(content)) + len(_LATIN_RE.findall(content))
    if n < 2:
        return 0.0
    gate = min(1.0, n / 6.0)
    c = probs.shape[-1]
    margin = (float(probs.max()) - 1.0 / c) / (1.0 - 1.0 / c) if c > 1 else 1.0
    return gate * min(1.0, max(0.0, margin))


@dataclass
class _Subscriber:
    queue: Any
    loop: asyncio.AbstractEventLoop | None


@dataclass
class _Call:
    call_id: str
    region: str
    started_at: datetime
    customer_raw: dict[str, str]
    customer_masked: dict[str, str]
    max_turns: int
    last_activity: datetime
    status: str = "active"
    lock: threading.RLock = field(default_factory=threading.RLock)
    next_idx: int = 0
    turns: deque = field(default_factory=deque)
    updated_at: str = ""
    # category evidence
    classes: tuple[str, ...] | None = None
    evidence: np.ndarray | None = None  # [n_classes], decayed weighted sum of turn probabilities
    weight_total: float = 0.0
    contribs: deque = field(default_factory=deque)  # (turn idx, weight, probs [n_classes], weight_total after)
    recent_customer: deque = field(default_factory=lambda: deque(maxlen=2))  # masked informative turns
    displayed: str | None = None
    pending: str | None = None
    held: int = 0
    category: dict[str, Any] | None = None
    category_probs: dict[str, float] = field(default_factory=dict)
    vote: str | None = None
    faqs: list[dict[str, Any]] = field(default_factory=list)
    no_answer: bool = True
    slots_customer: dict[str, tuple[dict[str, Any], int]] = field(default_factory=dict)
    slots_agent: dict[str, tuple[dict[str, Any], int]] = field(default_factory=dict)
    escalation: dict[str, Any] = field(default_factory=lambda: {"escalate": False, "level": "none", "reasons": []})
    subscribers: list[_Subscriber] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.turns = deque(maxlen=self.max_turns)
        self.contribs = deque(maxlen=self.max_turns)


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
                subs = list(call.subscribers)
                call.subscribers.clear()
            self._publish(subs, None)

    # -- lifecycle ---------------------------------------------------------------------------
    def start_call(self, call_id: str | None = None, region: str = "", started_at: datetime | str | None = None,
                   customer: dict[str, Any] | None = None) -> dict[str, Any]:
        """Open a call; returns its first state.

        Raises:
            ConflictError: ``call_id`` is already live.
            CallCapacityError: ``max_calls`` live calls are all busy.
            InvalidInputError: bad id, region, time or customer dict.
        """
        from hotline.core.mask import masked_text
        from hotline.core.normalise import normalise_text

        call_id = uuid.uuid4().hex if call_id is None else check_call_id(call_id)
        if not isinstance(region, str) or len(region.strip()) > _MAX_REGION:
            raise InvalidInputError(f"region must be a string of at most {_MAX_REGION} characters, got {region!r:.80}")
        now = self.clock()
        started = parse_time(started_at, field="started_at") if started_at is not None else now
        raw: dict[str, str] = {}
        masked: dict[str, str] = {}
        for k, v in (customer or {}).items():
            if v is None:
                continue
            if not isinstance(k, str) or not isinstance(v, (str, int, float)) or len(str(v)) > 200 or len(k) > 64:
                raise InvalidInputError(
                    f"customer[{k!r:.40}] must be a string of at most 200 characters, got {v!r:.80}"
                )
            raw[k] = str(v).strip()
            masked[k] = masked_text(raw[k]) if raw[k] else raw[k]
        call = _Call(call_id=call_id, region=normalise_text(region.strip()) if region.strip() else "",
                     started_at=started, customer_raw=raw, customer_masked=masked,
                     max_turns=self.settings.max_turns_per_call, last_activity=now)
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
        return state

    def get(self, call_id: str) -> dict[str, Any]:
        call = self._get(call_id)
        with call.lock:
            return self._snapshot(call)

    def list_calls(self) -> list[dict[str, Any]]:
        """A short line per live call, newest activity first."""
        with self._lock:
            calls = list(self._calls.values())
        out = []
        for c in sorted(calls, key=lambda c: c.last_activity, reverse=True):
            out.append({"call_id": c.call_id, "region": c.region, "status": c.status,
                        "started_at": c.started_at.isoformat(), "label": c.displayed,
                        "escalate": c.escalation["escalate"], "turns": c.next_idx,
                        "updated_at": c.updated_at or c.started_at.isoformat()})
        return out

    def __len__(self) -> int:
        return len(self._calls)

    def add_utterance(self, call_id: str, speaker: str | Speaker, text: str,
                      ts: datetime | str | None = None) -> dict[str, Any]:
        """Add one turn and return the updated state (pushed to listeners too).

        Raises:
            NotFoundError: unknown call. ConflictError: the call has ended.
            InvalidInputError: bad speaker, empty or too long text, bad ``ts``.
        """
        from hotline.core.mask import mask_pii
        from hotline.core.normalise import normalise_text

        speaker = speaker.value if isinstance(speaker, Speaker) else speaker
        if speaker not in (Speaker.AGENT.value, Speaker.CUSTOMER.value):
            raise InvalidInputError(f"speaker must be 'agent' or 'customer', got {speaker!r:.40}")
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError("text must be a non-empty string; send the utterance as transcribed")
        if len(text) > self.settings.max_text_chars:
            raise InvalidInputError(
                f"text is too long: {len(text)} characters, the limit is {self.settings.max_text_chars}; split it"
            )
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
            call.last_activity = now
            pipe = self._pipe()
            found = self._update_slots(call, pipe, norm, idx, speaker)
            if speaker == Speaker.CUSTOMER.value:
                answers = [str(found[k]["value"]) for k in ("location",) if found.get(k)]
                informative = self._update_category(call, pipe, masked, idx, answers)
                self._update_escalation(call, masked, idx)
                if informative:
                    self._update_faqs(call, pipe)
                new_incident = self._update_vote(call, when)
            logger.debug("call %s turn %d %s: %s", call_id, idx, speaker, masked)  # masked text only
            state = self._snapshot(call)
            subs = list(call.subscribers)
        self._publish(subs, {"type": "state", "data": state})
        if new_incident is not None:
            logger.warning("mass incident %s: %s in %s, %d calls", new_incident["id"], new_incident["code"],
                           new_incident["region"], new_incident["count"])
            self._broadcast_incident(new_incident)
        return state

    def end_call(self, call_id: str) -> dict[str, Any]:
        """Close the call: ``{"summary": str, "ticket": ticket draft + dispatch copy, "state": final state}``.

        The ticket's ``dispatch_copy`` holds the unmasked field values (the phone number's digits) for the
        dispatch system; it is returned here only, never stored in the state or logged.
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
            ticket = dict(state["ticket"])
            ticket["dispatch_copy"] = self._dispatch_copy(call, state["ticket"])
            summary = self._summary(call, state)
            subs = list(call.subscribers)
            call.subscribers.clear()
        self._publish(subs, {"type": "state", "data": state})
        self._publish(subs, None)
        logger.debug("call %s ended (%s, %d turns)", call_id, call.displayed or "no category", call.next_idx)
        return {"summary": summary, "ticket": ticket, "state": state}

    def slot_values(self, call_id: str) -> dict[str, str | None]:
        """Raw best value per slot (phone as digits) for offline tools such as replay; never log it."""
        call = self._get(call_id)
        with call.lock:
            out: dict[str, str | None] = {}
            for name in ("phone", "location", "device", "fault_time"):
                found = call.slots_customer.get(name) or call.slots_agent.get(name)
                out[name] = str(found[0].get("value")) if found and found[0].get("value") is not None else None
            return out

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
        """A queue of events for one call.

        Inside a running event loop this is an ``asyncio.Queue`` fed thread-safely through
        ``loop.call_soon_threadsafe``; elsewhere a ``queue.Queue``. ``None`` on it means the stream is over.
        A slow reader loses the oldest events, never blocks the engine.
        """
        call = self._get(call_id)
        try:
            loop = asyncio.get_running_loop()
            q: Any = asyncio.Queue(maxsize=_QUEUE_SIZE)
        except RuntimeError:
            loop = None
            q = queue.Queue(maxsize=_QUEUE_SIZE)
        with call.lock:
            if call.status != "active":
                raise ConflictError(f"call {call_id!r} has {call.status}; there is nothing more to stream")
            call.subscribers.append(_Subscriber(q, loop))
        return q

    def unsubscribe(self, call_id: str, q: Any) -> None:
        with self._lock:
            call = self._calls.get(call_id)
        if call is None:
            return
        with call.lock:
            call.subscribers = [s for s in call.subscribers if s.queue is not q]

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
            return c.status != "active" or (not c.subscribers and now - c.last_activity > busy)

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
            subs = list(call.subscribers)
            call.subscribers.clear()
        self._publish(subs, {"type": "state", "data": state})
        self._publish(subs, None)

    def _live_calls(self) -> list[_Call]:
        with self._lock:
            return [c for c in self._calls.values() if c.status == "active"]

    # -- internals: updates (caller holds call.lock) -------------------------------------------
    def _update_category(self, call: _Call, pipe: Any, masked: str, idx: int, slot_values: list[str]) -> bool:
        from hotline.pipeline.classify import describe_probs

        classes = tuple(pipe.classifier.classes)
        probs = np.asarray(pipe.classifier.probabilities([masked]), dtype=np.float64)[0]  # [n_classes]
        if call.classes != classes:
            call.evidence = _remap(call.evidence, call.classes, classes)
            call.contribs = deque(
                ((i, w, _remap(p, call.classes, classes), wt) for i, w, p, wt in call.contribs), maxlen=call.max_turns
            )
            call.classes = classes
        w = turn_weight(masked, probs, slot_values=slot_values)
        if w <= 0.0:
            return False
        call.recent_customer.append(masked)
        ev = call.evidence if call.evidence is not None else np.zeros(len(classes))
        call.evidence = ev * (0.5 ** w) + w * probs
        call.weight_total += w
        call.contribs.append((idx, w, probs, call.weight_total))
        smoothed = call.evidence / call.evidence.sum()
        # hysteresis on the displayed label
        best = classes[int(np.argmax(smoothed))]
        pos = {c: i for i, c in enumerate(classes)}
        if call.displayed is None or call.displayed not in pos:
            call.displayed, call.pending, call.held = best, None, 1
        elif best == call.displayed:
            call.pending = None
            call.held += 1
        elif smoothed[pos[best]] - smoothed[pos[call.displayed]] >= self.switch_margin or call.pending == best:
            call.displayed, call.pending, call.held = best, None, 1
        else:
            call.pending = best
        label = call.displayed
        taxonomy = getattr(pipe, "taxonomy", None) or pipe.classifier.taxonomy
        threshold_for = pipe.classifier.model.threshold_for
        desc = describe_probs(smoothed[None, :], list(classes), taxonomy, top_k=3, threshold_for=threshold_for)[0]
        conf = float(smoothed[pos[label]])
        entry = taxonomy._by_code.get(label) if hasattr(taxonomy, "_by_code") else None
        # turns whose (decayed) contribution to the shown label is at least a fifth of its evidence
        total = float(call.evidence[pos[label]]) or 1.0
        evidence = [i for i, wi, p, wt in call.contribs
                    if wi * p[pos[label]] * 0.5 ** (call.weight_total - wt) / total >= 0.2]
        call.category = {
            "label": label,
            "confidence": round(conf, 4),
            "service": label.split(".", 1)[0],
            "service_name": entry.service if entry else label.split(".", 1)[0],
            "phenomenon": entry.phenomenon if entry else label,
            "top": [c.model_dump() for c in desc.top],
            "evidence": evidence,
            "stable": call.pending is None and (call.held >= 2 or conf >= 0.9),
            "abstain": conf < threshold_for(label),
            "is_complaint": entry.is_complaint if entry else not label.startswith("inquiry."),
        }
        call.category_probs = {c: float(p) for c, p in zip(classes, smoothed) if p >= 0.01}
        return True

    def _update_faqs(self, call: _Call, pipe: Any) -> None:
        query = " ".join(call.recent_customer)
        res = pipe.retriever.run([query], top_k=getattr(pipe, "top_k", 5),
                                 category_probs=[call.category_probs])["results"][0]
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
            if (r.get("type"), r.get("match")) not in seen and len(esc["reasons"]) < 50:
                esc["reasons"].append({"type": r.get("type"), "match": r.get("match"), "turn": idx})

    def _update_slots(self, call: _Call, pipe: Any, norm_text: str, idx: int, speaker: str) -> dict[str, Any]:
        found = self._slot_extractor(pipe).extract(norm_text, reference_time=call.started_at)
        store = call.slots_customer if speaker == Speaker.CUSTOMER.value else call.slots_agent
        for name, slot in found.items():
            if slot is not None and slot.get("value") not in (None, ""):
                store[name] = (slot, idx)
        return found

    def _update_vote(self, call: _Call, when: datetime) -> dict[str, Any] | None:
        cat = call.category
        vote = cat["label"] if cat and not cat["abstain"] and cat["is_complaint"] else None
        if vote == call.vote:
            return None
        call.vote = vote
        return self.incidents.observe(call.call_id, vote, call.region, when)

    # -- internals: views (caller holds call.lock) --------------------------------------------
    def _spec(self, call: _Call) -> Any:
        if call.displayed is None:
            return None
        try:
            specs = getattr(self._pipe(), "specs", None) or {}
        except NotFittedError:
            return None
        return specs.get(call.displayed)

    def _ticket(self, call: _Call, spec: Any) -> dict[str, Any]:
        fields = []
        missing = []
        questions = []
        for f in (spec.ticket_fields if spec is not None else []):
            name, label, required = _field(f)
            value, resolved, turn = None, None, None
            found = call.slots_customer.get(name) or call.slots_agent.get(name)
            if found is not None:
                slot, turn = found
                value = slot.get("masked") or slot.get("value")
                resolved = slot.get("resolved")
            elif call.customer_masked.get(name):
                value = call.customer_masked[name]
            entry = {"name": name, "label": label, "required": required,
                     "value": None if value is None else str(value), "evidence_turn": turn}
            if resolved is not None:
                entry["resolved"] = str(resolved)
            fields.append(entry)
            if required and value is None:
                missing.append(name)
                questions.append(_QUESTIONS.get(name, "请问{label}是什么？").format(label=label))
        return {
            "category": call.displayed,
            "fields": fields,
            "missing": missing,
            "suggested_questions": questions,
            "dispatch_route": getattr(spec, "dispatch_route", None) if spec is not None else None,
        }

    def _dispatch_copy(self, call: _Call, ticket: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"call_id": call.call_id, "region": call.region, "category": ticket["category"],
                               "dispatch_route": ticket["dispatch_route"], "fields": {}}
        for f in ticket["fields"]:
            name = f["name"]
            found = call.slots_customer.get(name) or call.slots_agent.get(name)
            if found is not None:
                out["fields"][name] = found[0].get("resolved") or found[0].get("value")
            elif name in call.customer_raw:
                out["fields"][name] = call.customer_raw[name]
            else:
                out["fields"][name] = None
        return out

    def _snapshot(self, call: _Call) -> dict[str, Any]:
        now = self.clock()
        spec = self._spec(call)
        label = call.displayed
        notices = self.notices.match(call.region, label, now) if label else []
        incidents = [i for i in self.incidents.active(now)
                     if label and i["code"] == label and region_matches(call.region, i["region"])]
        replies = [{"source": "notice", "id": n["id"], "title": n["title"], "text": n["script"]} for n in notices]
        replies += [{"source": "faq", "id": h.get("id"), "title": h.get("question"), "text": h.get("answer"),
                     "score": h.get("score")} for h in call.faqs]
        call.updated_at = now.isoformat()
        return {
            "call_id": call.call_id,
            "region": call.region,
            "started_at": call.started_at.isoformat(),
            "status": call.status,
            "customer": dict(call.customer_masked),
            "turns": list(call.turns),
            "category": dict(call.category) if call.category else None,
            "faqs": list(call.faqs),
            "no_answer": call.no_answer,
            "spec": spec.to_dict() if spec is not None else None,
            "checklist": list(spec.questions) if spec is not None else [],
            "ticket": self._ticket(call, spec),
            "notices": notices,
            "incidents": incidents,
            "replies": replies,
            "escalation": {**call.escalation, "reasons": list(call.escalation["reasons"])},
            "updated_at": call.updated_at,
        }

    def _summary(self, call: _Call, state: dict[str, Any]) -> str:
        cat = state["category"]
        parts = [f"来电类别：{cat['phenomenon']}（{cat['service_name']}）" if cat else "来电类别：未识别"]
        first = next((t["text"] for t in call.turns if t["speaker"] == Speaker.CUSTOMER.value
                      and cat and t["idx"] in cat["evidence"]), None)
        if first:
            parts.append(f"客户诉求：{first[:80]}")
        for f in state["ticket"]["fields"]:
            if f["value"] is not None:
                parts.append(f"{f['label']}：{f['value']}")
        if state["ticket"]["missing"]:
            labels = [f["label"] for f in state["ticket"]["fields"] if f["name"] in state["ticket"]["missing"]]
            parts.append("待补充：" + "、".join(labels))
        if state["escalation"]["escalate"]:
            kinds = sorted({r["type"] for r in state["escalation"]["reasons"]})
            parts.append("升级风险：" + "、".join(kinds))
        if state["notices"]:
            parts.append("已播报公告：" + "、".join(n["title"] for n in state["notices"]))
        return "；".join(parts) + "。"

    # -- internals: pushing ----------------------------------------------------------------------
    def _publish(self, subs: list[_Subscriber], event: dict[str, Any] | None) -> None:
        for s in subs:
            if s.loop is None:
                _put_dropping(s.queue, event)
            else:
                try:
                    s.loop.call_soon_threadsafe(_put_dropping, s.queue, event)
                except RuntimeError:  # the loop has closed: the listener is gone
                    pass

    def _broadcast_incident(self, incident: dict[str, Any]) -> None:
        for call in self._live_calls():
            with call.lock:
                if call.displayed != incident["code"] or not region_matches(call.region, incident["region"]):
                    continue
                state = self._snapshot(call)
                subs = list(call.subscribers)
            self._publish(subs, {"type": "incident", "data": incident})
            self._publish(subs, {"type": "state", "data": state})

    def _on_notice(self, event: str, notice: dict[str, Any]) -> None:
        now = self.clock()
        for call in self._live_calls():
            with call.lock:
                label = call.displayed
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
                subs = list(call.subscribers)
            self._publish(subs, {"type": "notice", "data": {**notice, "event": event}})
            self._publish(subs, {"type": "state", "data": state})


def _put_dropping(q: Any, event: Any) -> None:
    """Put without blocking; when full, drop the oldest event (a newer state supersedes it)."""
    while True:
        try:
            q.put_nowait(event)
            return
        except (asyncio.QueueFull, queue.Full):
            try:
                q.get_nowait()
            except (asyncio.QueueEmpty, queue.Empty):
                return


def _plain(obj: Any) -> Any:
    """JSON-safe copy: numpy scalars and arrays become Python numbers and lists."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def _remap(vec: np.ndarray | None, old: tuple[str, ...] | None, new: tuple[str, ...]) -> np.ndarray | None:
    """Move a per-class vector onto another class order (after a model reload); unknown classes get 0."""
    if vec is None or old is None:
        return vec
    pos = {c: i for i, c in enumerate(old)}
    return np.array([vec[pos[c]] if c in pos else 0.0 for c in new], dtype=np.float64)


def _field(f: Any) -> tuple[str, str, bool]:
    """(name, label, required) of a ticket field given as a dataclass or a dict."""
    if isinstance(f, dict):
        name = f["name"]
        return name, f.get("label") or name, bool(f.get("required", False))
    return f.name, getattr(f, "label", "") or f.name, bool(getattr(f, "required", False))
