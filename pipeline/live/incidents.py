"""Mass-incident detection: many distinct calls about the same fault in the same region, close in time.

One network fault makes callers describe different symptoms (no signal, calls failing, data failing; the
broadband down, the modem's LOS light, the TV box dark), so calls are counted by **fault family** — the
leaves one fault produces, shipped in ``data/kb/fault_families.json`` — not by leaf. Leaves in no family
(billing, inquiries, a long-standing weak signal …) never count, nor does a call whose problem is
long-standing (:func:`call_onset`: 好几个月了, 一直这样, 上个月开始 …).

Calls are grouped by family and **place**: the call's region read as (province, city, district)
(:mod:`hotline.pipeline.live.places`), so ``南京市江宁区``, ``江宁区`` and ``江苏省南京市江宁区`` are one place.
Two districts never join; a city-only call (``南京市``) joins its city's district when that is unambiguous
— exactly one district of the city has an open incident of the family, or else exactly one has calls of it
in the window. When ``threshold`` distinct calls of one family and place fall inside a sliding window of
``window_min`` minutes, ONE incident is raised; later calls of that family and place join it while it is
open. An incident closes once no call joined it for ``window_min`` minutes; a later burst raises a new one.

An incident (:class:`~hotline.core.results.Incident`) names its family, its most frequent leaf (``code``),
the most common sub-area its callers named (a road, a 小区, a landmark) and a draft notice to publish.

Example:
    >>> det = IncidentDetector(threshold=2, window_min=30)
    >>> det.observe("c1", "broadband.cannot_connect", "杭州市", "2024-05-01T08:00:00+08:00") is None
    True
    >>> det.observe("c2", "broadband.slow", "杭州市", "2024-05-01T08:05:00+08:00").call_ids
    ['c1', 'c2']
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any

from hotline.core.errors import ArtifactError, InvalidInputError, NotFoundError
from hotline.core.results import Incident, NoticeKind
from hotline.core.taxonomy import NON_COMPLAINT_PREFIX, Taxonomy, default_taxonomy
from hotline.pipeline.live.notices import parse_time
from hotline.pipeline.live.places import Place, PlaceBook, parse_place, place_in, sub_area

logger = logging.getLogger(__name__)

__all__ = ["IncidentDetector", "FaultFamily", "load_fault_families", "Onset", "call_onset"]


# -- fault families ------------------------------------------------------------------------------
@dataclass(frozen=True)
class FaultFamily:
    """The leaves one network fault produces, and how to tell callers about it.

    Attributes:
        name: ``mobile_network``.
        display_name: ``移动网络区域故障``.
        codes: Its leaf codes, most telling first (breaks ties for an incident's ``code``).
        services: Service codes a notice about it covers.
        script: What the agent reads out; ``{area}`` and ``{until}`` are filled in.
        notice_hours: How long a draft notice stays in force from the first call.
    """

    name: str
    display_name: str
    codes: tuple[str, ...]
    services: tuple[str, ...]
    script: str
    notice_hours: float = 4.0


def load_fault_families(path: str | Path | None = None, *, taxonomy: Taxonomy | None = None) -> tuple[FaultFamily, ...]:
    """Read and check a fault-families JSON file (default: the shipped ``data/kb/fault_families.json``).

    Raises:
        ArtifactError: the file is missing or not valid JSON, or a family names an unknown leaf or service,
            repeats a leaf of another family, or has a script with placeholders other than {area}, {until}.
    """
    if path is None:
        from hotline.core.resources import data_path

        path = data_path("kb", "fault_families.json")
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"fault families file not found: {path}; pass a JSON file like data/kb/fault_families.json")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ArtifactError(f"fault families file {path} is not valid JSON: {e}") from None
    tax = taxonomy or default_taxonomy()
    families: list[FaultFamily] = []
    owner: dict[str, str] = {}
    for i, f in enumerate(raw.get("families", []) if isinstance(raw, dict) else []):
        where = f"{path}: families[{i}]"
        try:
            fam = FaultFamily(name=str(f["name"]), display_name=str(f["display_name"]), codes=tuple(f["codes"]),
                              services=tuple(f["services"]), script=str(f["script"]),
                              notice_hours=float(f.get("notice_hours", 4.0)))
        except (KeyError, TypeError, ValueError) as e:
            raise ArtifactError(f"{where} needs name, display_name, codes, services and script: {e!r}") from None
        for c in fam.codes:
            if c not in tax or c.startswith(NON_COMPLAINT_PREFIX):
                raise ArtifactError(f"{where} ({fam.name}): {c!r} is not a complaint leaf of the taxonomy")
            if c in owner:
                raise ArtifactError(f"{where} ({fam.name}): {c!r} is already in family {owner[c]!r}; a leaf has one family")
            owner[c] = fam.name
        bad = [s for s in fam.services if s not in tax.services]
        if bad or not fam.services:
            raise ArtifactError(f"{where} ({fam.name}): services must be service codes of {tax.services}, got {bad}")
        fields = set(re.findall(r"{(\w*)}", fam.script))
        if not fields <= {"area", "until"} or fam.notice_hours <= 0:
            raise ArtifactError(f"{where} ({fam.name}): script may use only {{area}} and {{until}} (got {sorted(fields)}) "
                                f"and notice_hours must be > 0 (got {fam.notice_hours})")
        families.append(fam)
    if not families:
        raise ArtifactError(f"{path} lists no families; see data/kb/fault_families.json for the shape")
    return tuple(families)


@lru_cache(maxsize=1)
def _shipped_families() -> tuple[FaultFamily, ...]:
    return load_fault_families()


# -- onset ---------------------------------------------------------------------------------------
class Onset(str, Enum):
    """Since when the caller's problem has been there: ``chronic`` calls never count towards an incident."""

    RECENT = "recent"
    CHRONIC = "chronic"
    UNKNOWN = "unknown"


CHRONIC_AFTER = timedelta(days=7)
_N = r"(?:\d+|[一二两三四五六七八九十几]+)"
# The problem has lasted weeks, months or years, or since the line was installed.
_DURATION_RE = re.compile(
    r"长期|常年|长年|一直以来|一直都是|一直是这样|一直这样|老毛病|老问题|从来(?:都)?没(?:好|正常)过|好几个月|几个月了|数月|"
    r"好几年|几年了|好几周|好几个(?:星期|礼拜)|几个(?:星期|礼拜)了|一年多|大半年|半年(?:了|多|以来)|"
    r"(?<!等)(?<!等了)(?:好久了|很久了|好长时间了|很长时间了|挺长时间了)|"  # not 等了好久了 (waiting on the line)
    rf"{_N}个?(?:月|年)(?:了|多|以来|之久)|{_N}(?:周|个星期|个礼拜)(?:了|多|以来)|"
    r"上个?月份?(?:开始|以来|起|就)|从(?:去年|前年|上个?月|年初|年前|春节|过年)|自从.{0,12}?(?:以来|之后|以后|开始|就)|"
    r"从(?:装|办|开通|安装|搬|入住|买)[^，。,.]{0,8}?(?:就|开始|以来|起)"
)
# It happens again and again (weaker: "today, suddenly" outweighs it). Not 老是/总是/每次: "老是打不通" is
# said of the last hour too.
_RECURRING_RE = re.compile(
    r"经常|时常|隔三差五|三天两头|反反复复|时好时坏|时有时无|每天|天天|每到|一到晚上|一到高峰|"
    r"一直(?:都)?(?:很|特别|比较|非常|挺|有点)?(?:差|慢|弱|卡|不稳定?|不好|不行|有问题)"
)
# It started just now.
_ACUTE_RE = re.compile(
    r"突然|忽然|一下子|刚才|刚刚|今天|今早|今晚|今儿|"
    rf"{_N}分钟(?:前|之前|了)|半个?小时|{_N}个?(?:小时|钟头)(?:前|之前|了)|刚(?:断|没|掉)"
)
_START_MARK_RE = re.compile(r"^(?:从|自从|自)|开始|以来|起$|之后|以后")
_TODAY_RE = re.compile(r"凌晨|清晨|早上|早晨|上午|中午|下午|傍晚|晚上|\d{1,2}[点:：]|[一二两三四五六七八九十]{1,3}点")


def call_onset(fault_time: str | None, text: str | None, *, started_at: datetime | str,
               chronic_after: timedelta = CHRONIC_AFTER) -> Onset:
    """Since when the problem has been there, from the call's fault-time slot value and customer text.

    An explicit start (``从上个月开始``, ``昨天晚上开始``, resolved against ``started_at``) decides: longer ago
    than ``chronic_after`` (7 days) is chronic. Otherwise words that say the problem has lasted weeks or
    months (好几个月, 长期, 一直这样, 从装宽带就 …) make it chronic; then a bare time said (三个月前, 这两天)
    decides; then words that say it just started (突然, 刚才, 今天) make it recent; words that say it keeps
    happening (经常, 每天晚上, 一直很慢) make it chronic; else it is unknown (and counts).

    Example:
        >>> call_onset("从上个月开始", "从上个月开始就一直信号不好", started_at="2024-05-01T09:00:00+08:00").value
        'chronic'
        >>> call_onset(None, "突然就没信号了", started_at="2024-05-01T09:00:00+08:00").value
        'recent'
    """
    start = parse_time(started_at, field="started_at")
    said = (fault_time or "").strip()
    text = text or ""
    began = _resolve_start(said, start)
    if began is not None and _START_MARK_RE.search(said):
        return Onset.CHRONIC if start - began >= chronic_after else Onset.RECENT
    if _DURATION_RE.search(text) or _DURATION_RE.search(said):
        return Onset.CHRONIC
    if began is not None:
        return Onset.CHRONIC if start - began >= chronic_after else Onset.RECENT
    if _ACUTE_RE.search(text) or _ACUTE_RE.search(said) or (said and _TODAY_RE.search(said)):
        return Onset.RECENT
    if _RECURRING_RE.search(text):
        return Onset.CHRONIC
    return Onset.UNKNOWN


@lru_cache(maxsize=1)
def _slot_extractor() -> Any:
    from hotline.pipeline.slots import SlotExtractor

    return SlotExtractor()


def _resolve_start(said: str, start: datetime) -> datetime | None:
    """When ``said`` (a fault-time expression) began, resolved as the slot extractor does; None if it can't."""
    if not said:
        return None
    found = _slot_extractor().extract(said, reference_time=start).get("fault_time")
    resolved = found.get("resolved") if found else None
    if not resolved:
        return None
    try:
        dt = datetime.fromisoformat(resolved)
    except ValueError:
        return None
    if len(resolved) <= 10:  # a date: from its midnight
        dt = datetime.combine(dt.date(), time(0))
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=start.tzinfo)


# -- the detector --------------------------------------------------------------------------------
@dataclass(eq=False)
class _Vote:
    call_id: str
    family: str
    code: str
    place: Place  # as the region (and the caller) said it; resolved against the PlaceBook when used
    region: str
    sub_area: str | None
    at: datetime
    incident: dict[str, Any] | None = field(default=None, repr=False)
    resolved: tuple[int, Place] | None = field(default=None, repr=False)  # (PlaceBook version, place)


Target = tuple  # ("d", city key | None, district) | ("c", city key) | ("raw", region)


class IncidentDetector:
    """Thread-safe sliding-window counter of distinct calls per (fault family, place).

    Args:
        threshold: Distinct calls in the window that raise an incident.
        window_min: Window length in minutes; also how long an incident stays open without new calls.
        max_votes: Most call votes remembered (oldest dropped first), to bound memory.
        max_incidents: Most incidents remembered (oldest dropped first).
        families: The fault families; default the shipped ``data/kb/fault_families.json`` (read on first use).
    """

    def __init__(self, *, threshold: int = 10, window_min: float = 30.0, max_votes: int = 200_000,
                 max_incidents: int = 10_000, families: tuple[FaultFamily, ...] | list[FaultFamily] | None = None,
                 log: Any = None) -> None:
        if threshold <= 0:
            raise InvalidInputError(f"threshold must be > 0, got {threshold}")
        if window_min <= 0:
            raise InvalidInputError(f"window_min must be > 0, got {window_min}")
        self.threshold = threshold
        self.window_min = window_min
        self.max_votes = max_votes
        self.max_incidents = max_incidents
        self.families = tuple(families) if families is not None else None
        self._window = timedelta(minutes=window_min)
        self._lock = threading.Lock()
        self._family_of: dict[str, FaultFamily] | None = None
        self._by_name: dict[str, FaultFamily] = {}
        self._book = PlaceBook()
        self._votes: OrderedDict[str, _Vote] = OrderedDict()  # call_id → its vote
        self._by_family: dict[str, dict[str, _Vote]] = {}  # family → {call_id: vote}
        self._incidents: list[dict[str, Any]] = []
        self._open: dict[tuple[str, Target], dict[str, Any]] = {}  # (family, target) → its latest incident
        self._ids = itertools.count(1)
        # shared mode: every vote goes through a hotline.store.incident_log.IncidentLog and is applied in its
        # global order, so every replica reaches the same incidents, with ids from the raising event's seq
        self.log = log
        self._event_id: int | None = None
        self._applied = 0
        self._apply_lock = threading.Lock()
        self._mine: dict[int, Incident | None] = {}  # this process's events, applied, awaiting their caller
        self._pending: set[int] = set()
        self._listeners: list[Any] = []
        if log is not None:
            self._applied = log.replay_start(max(timedelta(days=1), 2 * self._window))
            self.sync()  # rebuild from the log (no one listens yet: nothing is pushed)

    @staticmethod
    def counts(code: str | None) -> bool:
        """Whether a call with this category may take part in detection (it must also be in a family)."""
        return bool(code) and not code.startswith(NON_COMPLAINT_PREFIX)

    def family_of(self, code: str | None) -> FaultFamily | None:
        """The fault family of a leaf code, or None (billing, inquiries … never count)."""
        if not self.counts(code):
            return None
        return self._families().get(code or "")

    def vote_code(self, label: str | None, probs: Mapping[str, float] | None) -> str | None:
        """The leaf a call votes with: its label, unless a fault family other than the label's holds the
        majority of its category distribution ``probs`` (``{leaf: p}``); then that family's likeliest leaf.

        An outage reaches callers as several symptoms, and an agent's "your area has a fault" can tip a
        broadband call's top leaf to a mobile one (宽带断网 0.35 + 电视 0.2 against 区域故障 0.45): the fault
        family is read from the whole distribution, as the detector groups by family anyway.

        Example:
            >>> IncidentDetector().vote_code("coverage.outage", {"coverage.outage": 0.45,
            ...     "broadband.cannot_connect": 0.35, "broadband.iptv": 0.2})
            'broadband.cannot_connect'
        """
        if not self.counts(label) or not probs:
            return label
        mass: dict[str, float] = {}
        for code, p in probs.items():
            fam = self.family_of(code)
            if fam is not None:
                mass[fam.name] = mass.get(fam.name, 0.0) + float(p)
        if not mass:
            return label
        best = max(mass, key=lambda f: mass[f])
        own = self.family_of(label)
        if mass[best] <= 0.5 or (own is not None and own.name == best):
            return label
        return max((c for c in probs if (f := self.family_of(c)) is not None and f.name == best),
                   key=lambda c: probs[c])

    # -- shared mode ------------------------------------------------------------------------------
    def add_listener(self, fn: Any) -> None:
        """``fn(incident)`` hears of incidents raised by other replicas' calls (shared mode only)."""
        self._listeners.append(fn)

    def sync(self) -> int:
        """Apply the log's events not applied yet, in order; returns how many. A no-op without a log."""
        if self.log is None:
            return 0
        raised: list[Incident] = []
        n = 0
        with self._apply_lock:
            while True:
                events = self.log.since(self._applied)
                if not events:
                    break
                for ev in events:
                    result = self._apply(ev)
                    self._applied = ev["seq"]
                    n += 1
                    if ev["seq"] in self._pending:
                        self._mine[ev["seq"]] = result
                    elif result is not None:
                        raised.append(result)
        for inc in raised:
            for fn in list(self._listeners):
                try:
                    fn(inc)
                except Exception:  # a listener must not stop the others or the sync
                    logger.exception("incident listener failed")
        return n

    def _apply(self, ev: dict[str, Any]) -> Incident | None:
        p = ev["payload"]
        if ev["kind"] == "forget":
            self._forget_local(ev["call_id"])
            return None
        self._event_id = ev["seq"]
        try:
            return self._observe_local(ev["call_id"], p.get("code"), p.get("region"), p["at"],
                                       location=p.get("location"), onset=p.get("onset"))
        except InvalidInputError as e:  # validated before it was written; only a damaged row gets here
            logger.warning("incident event %s skipped: %s", ev["seq"], e)
            return None
        finally:
            self._event_id = None

    def _through_log(self, kind: str, call_id: str, when: datetime, payload: dict[str, Any]) -> Incident | None:
        seq = self.log.append(kind, call_id, when, payload)
        with self._apply_lock:
            self._pending.add(seq)
        try:
            self.sync()
            with self._apply_lock:
                return self._mine.pop(seq, None)
        finally:
            with self._apply_lock:
                self._pending.discard(seq)
                self._mine.pop(seq, None)

    def observe(self, call_id: str, code: str | None, region: str | None, at: datetime | str, *,
                location: str | None = None, onset: Onset | str | None = None) -> Incident | None:
        """Record the call's current category; returns an incident only when this call raises it.

        In shared mode (``log``) the vote is written to the log first and applied in the log's order.
        """
        if self.log is None:
            return self._observe_local(call_id, code, region, at, location=location, onset=onset)
        when = parse_time(at, field="at")
        if onset is not None:
            try:
                onset = Onset(onset).value
            except ValueError:
                raise InvalidInputError(f"onset must be one of {[o.value for o in Onset]}, got {onset!r}") from None
        return self._through_log("observe", call_id, when,
                                 {"code": code, "region": region, "location": location, "onset": onset})

    def _observe_local(self, call_id: str, code: str | None, region: str | None, at: datetime | str, *,
                       location: str | None = None, onset: Onset | str | None = None) -> Incident | None:
        """Record the call's current category; returns an incident only when this call raises it.

        Args:
            call_id: The call.
            code: Its leaf category; ``None`` (abstained, no category yet), an ``inquiry.*`` code or a leaf in
                no fault family withdraws the call's vote.
            region: Where the call came from (``南京市江宁区``, ``江宁区``, ``南京市`` …); empty never counts.
            at: When (ISO 8601 with offset, or an aware datetime).
            location: The call's location slot value (what the caller said of where they are): its named
                place becomes the call's sub-area, and a district in it places a city-only call.
            onset: :func:`call_onset` of the call; ``chronic`` withdraws the vote.

        Calling again with nothing changed is cheap and changes nothing; a call counts once.
        """
        when = parse_time(at, field="at")
        try:
            onset = Onset(onset) if onset is not None else Onset.UNKNOWN
        except ValueError:
            raise InvalidInputError(f"onset must be one of {[o.value for o in Onset]}, got {onset!r}") from None
        family = self.family_of(code)
        region = (region or "").strip()
        said = parse_place(region)
        counts = family is not None and onset is not Onset.CHRONIC and bool(said)
        place, sub = (_refine(said, location), sub_area(location)) if counts else (said, None)
        with self._lock:
            self._book.learn(said)
            if place is not said:
                self._book.learn(place)
            if not counts or family is None:
                self._withdraw_locked(call_id, when)
                return None
            vote = self._votes.get(call_id)
            changed = True
            if vote is not None and vote.family == family.name and vote.place == place:
                changed = vote.resolved is None or vote.resolved[0] != self._book.version
                vote.code, vote.sub_area = code or vote.code, sub or vote.sub_area
                inc = vote.incident
                if inc is not None and call_id in inc["_codes"]:
                    inc["_codes"][call_id], inc["_subs"][call_id] = vote.code, vote.sub_area
            else:
                # a call moving within its family (a leaf re-classified, a district said) keeps its time
                first = vote.at if vote is not None and vote.family == family.name else when
                self._withdraw_locked(call_id, when)
                vote = _Vote(call_id, family.name, code or "", place, region, sub, first)
                self._votes[call_id] = vote
                self._by_family.setdefault(family.name, {})[call_id] = vote
                self._trim_locked()
            raised = self._evaluate_locked(vote, when, changed=changed)
            return None if raised is None else self._public(raised, when)

    def forget(self, call_id: str) -> None:
        """Drop a call's pending vote (it stays listed in any incident it joined)."""
        if self.log is not None:
            from datetime import timezone

            self._through_log("forget", call_id, datetime.now(timezone.utc), {})
            return
        self._forget_local(call_id)

    def _forget_local(self, call_id: str) -> None:
        with self._lock:
            vote = self._votes.pop(call_id, None)
            if vote is not None:
                self._by_family.get(vote.family, {}).pop(call_id, None)

    def active(self, at: datetime | str) -> list[Incident]:
        """Incidents still open at ``at``."""
        self.sync()
        when = parse_time(at, field="at")
        with self._lock:
            return [self._public(i, when) for i in self._incidents if self._is_open(i, when)]

    def all(self, at: datetime | str | None = None) -> list[Incident]:
        """Every incident raised so far, oldest first (``status`` evaluated at ``at`` when given)."""
        self.sync()
        when = parse_time(at, field="at") if at is not None else None
        with self._lock:
            return [self._public(i, when) for i in self._incidents]

    def get(self, incident_id: str, at: datetime | str | None = None) -> Incident:
        """One incident by id (``status`` evaluated at ``at`` when given).

        Raises:
            NotFoundError: no incident has this id (or it was dropped past ``max_incidents``).
        """
        when = parse_time(at, field="at") if at is not None else None
        self.sync()
        with self._lock:
            for inc in self._incidents:
                if inc["id"] == incident_id:
                    return self._public(inc, when)
        raise NotFoundError(f"no incident with id {incident_id!r}; list them with GET /v1/incidents")

    def covering(self, call_id: str, code: str | None, region: str | None, at: datetime | str) -> list[Incident]:
        """Open incidents a call should be shown: those it is in, and those of its family and place."""
        when = parse_time(at, field="at")
        family = self.family_of(code)
        with self._lock:
            target = None
            if family is not None and region and parse_place(region.strip()):
                activity = self._activity(family.name, self._window_votes(family.name, when), when)
                target = self._target(family.name, self._book.resolve(parse_place(region.strip())), when, activity)
            return [self._public(i, when) for i in self._incidents if self._is_open(i, when)
                    and (call_id in i["_times"] or (family is not None and i["family"] == family.name
                                                    and i["_key"] == target))]

    # -- internals: grouping -------------------------------------------------------------------
    def _families(self) -> dict[str, FaultFamily]:
        if self._family_of is None:
            fams = self.families if self.families is not None else _shipped_families()
            self._by_name = {f.name: f for f in fams}
            self._family_of = {c: f for f in fams for c in f.codes}
        return self._family_of

    def _window_votes(self, family: str, when: datetime) -> list[_Vote]:
        """The family's votes inside the window ending at ``when``; drops those long past any window."""
        votes = self._by_family.get(family, {})
        stale = [c for c, v in votes.items() if v.at <= when - 2 * self._window]
        for c in stale:  # keeps memory bounded by the live traffic
            del votes[c]
            self._votes.pop(c, None)
        return [v for v in votes.values() if when - self._window < v.at <= when]

    def _activity(self, family: str, window: list[_Vote], when: datetime) -> dict[str, Any]:
        """Per city key: the districts with an open incident of the family, and those with calls in the window."""
        incident_districts: dict[str, set[str]] = {}
        open_cities: set[str] = set()
        for key in [k for k, inc in self._open.items() if when - inc["_last"] > 2 * self._window]:
            del self._open[key]  # closed long ago (still listed by all())
        for (fam, target), inc in self._open.items():
            if fam != family or not self._is_open(inc, when):
                continue
            if target[0] == "d" and target[1] is not None:
                incident_districts.setdefault(target[1], set()).add(target[2])
            elif target[0] == "c":
                open_cities.add(target[1])
        vote_districts: dict[str, Counter[str]] = {}
        resolved: dict[str, Place] = {}
        for v in window:
            p = resolved[v.call_id] = self._resolved(v)
            if p.district and p.city_key:
                vote_districts.setdefault(p.city_key, Counter())[p.district] += 1
        return {"incident": incident_districts, "votes": vote_districts, "open_cities": open_cities,
                "resolved": resolved}

    def _target(self, family: str, place: Place, when: datetime, activity: dict[str, Any]) -> Target:
        """Which group a call of ``place`` counts in (see the module docstring for the rule)."""
        if place.raw is not None:
            return ("raw", place.raw)
        if place.district:
            return ("d", place.city_key, place.district)
        city = place.city_key
        if city in activity["open_cities"]:
            return ("c", city)
        districts = activity["incident"].get(city, set())
        if len(districts) == 1:
            return ("d", city, next(iter(districts)))
        if not districts:
            # by the calls in the window: one district of the city, or one that clearly dominates (at least
            # twice the calls of any other) — a stray call from another district must not make it ambiguous
            counts = activity["votes"].get(city, Counter()).most_common(2)
            if counts and (len(counts) == 1 or counts[0][1] >= 2 * counts[1][1]):
                return ("d", city, counts[0][0])
        return ("c", city)  # two districts of the city are hit alike: a city-only call is ambiguous

    def _resolved(self, vote: _Vote) -> Place:
        if vote.resolved is None or vote.resolved[0] != self._book.version:
            vote.resolved = (self._book.version, self._book.resolve(vote.place))
        return vote.resolved[1]

    def _open_for(self, family: str, target: Target, when: datetime) -> dict[str, Any] | None:
        inc = self._open.get((family, target))
        if inc is None and target[0] == "d" and target[1] is not None:
            # an incident raised from bare-district calls before the district's city was known
            inc = self._open.get((family, ("d", None, target[2])))
        return inc if inc is not None and self._is_open(inc, when) else None

    def _evaluate_locked(self, vote: _Vote, when: datetime, *, changed: bool = True) -> dict[str, Any] | None:
        """Join the open incident of the vote's group, or raise one when the group reaches the threshold.

        A vote repeated unchanged (the next turn of the same call) can only join: its group was counted when
        it was cast.
        """
        if vote.incident is not None and self._is_open(vote.incident, when) and vote.call_id in vote.incident["_times"]:
            return None  # already in an open incident
        place = self._resolved(vote)
        if not changed and (place.district or place.raw is not None):  # the group needs no counting
            incident = self._open_for(vote.family, self._target(vote.family, place, when, {}), when)
            if incident is not None:
                self._join(incident, vote)
            return None
        window = self._window_votes(vote.family, when)
        activity = self._activity(vote.family, window, when)
        resolved = activity["resolved"]
        target = self._target(vote.family, place, when, activity)
        incident = self._open_for(vote.family, target, when)
        if incident is not None:
            self._join(incident, vote)
            return None
        if not changed:
            return None
        members = [v for v in window
                   if self._target(v.family, resolved[v.call_id], when, activity) == target
                   and not (v.incident is not None and self._is_open(v.incident, when))]
        if not any(v is vote for v in members) or len(members) < self.threshold:
            return None
        members.sort(key=lambda v: v.at)
        fam = self._by_name[vote.family]
        incident = {
            "id": f"inc-{self._event_id if self._event_id is not None else next(self._ids)}",
            "type": "mass_incident",
            "family": fam.name,
            "region": self._label(target),
            "call_ids": [],
            "raised_at": when.isoformat(),
            "_key": target,
            "_family": fam,
            "_times": {}, "_codes": {}, "_subs": {}, "_bare": False,
        }
        for v in members:
            self._join(incident, v)
        self._incidents.append(incident)
        self._open[(fam.name, target)] = incident
        if len(self._incidents) > self.max_incidents:
            del self._incidents[0]
        return incident

    def _join(self, incident: dict[str, Any], vote: _Vote) -> None:
        if vote.call_id not in incident["_times"]:
            incident["call_ids"].append(vote.call_id)
            incident["_times"][vote.call_id] = vote.at
        incident["_codes"][vote.call_id] = vote.code
        incident["_subs"][vote.call_id] = vote.sub_area
        if vote.place.district and not vote.place.city:
            incident["_bare"] = True  # a call came with the district alone: the notice should name it so
        vote.incident = incident
        self._touch(incident)

    def _label(self, target: Target) -> str:
        """The region string of a group: ``南京市江宁区``, ``江宁区``, ``南京市`` or the raw region."""
        if target[0] == "raw":
            return target[1]
        if target[0] == "c":
            return self._book.resolve(Place(city=target[1])).label
        city = self._book.resolve(Place(city=target[1])).city if target[1] else None
        return Place(city=city, district=target[2]).label

    # -- internals: bookkeeping ----------------------------------------------------------------
    def _is_open(self, incident: dict[str, Any], when: datetime) -> bool:
        return when - incident["_last"] < self._window

    @staticmethod
    def _touch(incident: dict[str, Any]) -> None:
        times = incident["_times"].values()
        incident["_first"], incident["_last"] = min(times), max(times)

    def _withdraw_locked(self, call_id: str, when: datetime) -> None:
        vote = self._votes.pop(call_id, None)
        if vote is None:
            return
        self._by_family.get(vote.family, {}).pop(call_id, None)
        # a re-classified (or now long-standing) call leaves the open incident it was in
        inc = vote.incident
        if inc is not None and self._is_open(inc, when) and call_id in inc["_times"] and len(inc["call_ids"]) > 1:
            inc["call_ids"].remove(call_id)
            for k in ("_times", "_codes", "_subs"):
                inc[k].pop(call_id, None)
            self._touch(inc)

    def _trim_locked(self) -> None:
        while len(self._votes) > self.max_votes:
            call_id, vote = self._votes.popitem(last=False)
            self._by_family.get(vote.family, {}).pop(call_id, None)

    def _public(self, incident: dict[str, Any], when: datetime | None) -> Incident:
        fam: FaultFamily = incident["_family"]
        counts = Counter(incident["_codes"].values())
        rank = {c: i for i, c in enumerate(fam.codes)}
        code = min(counts, key=lambda c: (-counts[c], rank.get(c, len(rank))))
        subs = Counter(s for s in incident["_subs"].values() if s)
        sub = subs.most_common(1)[0][0] if subs else None  # ties: the first said
        out = {
            "id": incident["id"],
            "type": incident["type"],
            "code": code,
            "region": incident["region"],
            "call_ids": list(incident["call_ids"]),
            "count": len(incident["call_ids"]),
            "first": incident["_first"].isoformat(),
            "last": incident["_last"].isoformat(),
            "raised_at": incident["raised_at"],
            "family": fam.name,
            "sub_area": sub,
            "draft_notice": _draft_notice(incident, fam, sub),
        }
        if when is not None:
            out["status"] = "open" if self._is_open(incident, when) else "closed"
        return Incident.model_validate(out)


def _refine(place: Place, location: str | None) -> Place:
    """A city-only region made precise by the district the caller named (``南京市`` + ``江宁区百家湖``)."""
    if place.raw is not None or place.district or not location:
        return place
    named = place_in(location)
    if named.district and (named.city is None or named.city_key == place.city_key):
        return Place(province=place.province, city=place.city, district=named.district)
    return place


def _draft_notice(incident: dict[str, Any], fam: FaultFamily, sub: str | None) -> dict[str, Any]:
    """A ``POST /v1/notices`` body for the incident: the supervisor checks it and publishes it as is."""
    region = incident["region"]
    regions = [region]
    key = incident["_key"]
    if key[0] == "d" and incident["_bare"] and key[2] != region:
        regions.append(key[2])  # calls that came with the district alone match only the bare name
    starts = incident["_first"]
    ends = starts + timedelta(hours=fam.notice_hours)
    if ends <= incident["_last"]:
        ends = incident["_last"] + timedelta(hours=1)
    until = f"{ends.month}月{ends.day}日{ends:%H:%M}"
    area = f"{region}{sub or ''}"
    title = f"{region}{f'（{sub}一带）' if sub else ''}{fam.display_name}"
    return {
        "title": title[:100],
        "kind": NoticeKind.OUTAGE.value,
        "regions": regions,
        "services": list(fam.services),
        "categories": list(fam.codes),
        "starts_at": starts.isoformat(),
        "ends_at": ends.isoformat(),
        "script": fam.script.format(area=area, until=until),
    }
