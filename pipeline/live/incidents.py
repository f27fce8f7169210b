"""Mass-incident detection: many distinct calls about the same fault in the same region, close in time.

Each call holds at most one vote, for its current (phenomenon code, region). When ``threshold`` distinct
calls of one key fall inside a sliding window of ``window_min`` minutes, ONE incident is raised; later
calls of that key join it while it is open. An incident closes once no call joined it for ``window_min``
minutes; a later burst raises a new one. Inquiries (``inquiry.*``) and calls without a confident
category never count. Incidents are returned as :class:`~hotline.core.results.Incident` models.

Example:
    >>> det = IncidentDetector(threshold=2, window_min=30)
    >>> det.observe("c1", "broadband.cannot_connect", "杭州市", "2024-05-01T08:00:00+08:00") is None
    True
    >>> det.observe("c2", "broadband.cannot_connect", "杭州市", "2024-05-01T08:05:00+08:00").call_ids
    ['c1', 'c2']
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

from hotline.core.errors import InvalidInputError
from hotline.core.results import Incident
from hotline.core.taxonomy import NON_COMPLAINT_PREFIX
from hotline.pipeline.live.notices import parse_time

__all__ = ["IncidentDetector"]

Key = tuple[str, str]


class IncidentDetector:
    """Thread-safe sliding-window counter of distinct calls per (code, region).

    Args:
        threshold: Distinct calls in the window that raise an incident.
        window_min: Window length in minutes; also how long an incident stays open without new calls.
        max_votes: Most call votes remembered (oldest dropped first), to bound memory.
    """

    def __init__(self, *, threshold: int = 10, window_min: float = 30.0, max_votes: int = 200_000,
                 max_incidents: int = 10_000) -> None:
        if threshold <= 0:
            raise InvalidInputError(f"threshold must be > 0, got {threshold}")
        if window_min <= 0:
            raise InvalidInputError(f"window_min must be > 0, got {window_min}")
        self.threshold = threshold
        self.window_min = window_min
        self.max_votes = max_votes
        self.max_incidents = max_incidents
        self._window = timedelta(minutes=window_min)
        self._lock = threading.Lock()
        self._votes: OrderedDict[str, tuple[Key, datetime]] = OrderedDict()  # call_id → (key, at)
        self._by_key: dict[Key, dict[str, datetime]] = {}  # key → {call_id: at}
        self._incidents: list[dict[str, Any]] = []
        self._open: dict[Key, dict[str, Any]] = {}  # key → the latest incident of that key
        self._ids = itertools.count(1)

    @staticmethod
    def counts(code: str | None) -> bool:
        """Whether a call with this category takes part in detection."""
        return bool(code) and not code.startswith(NON_COMPLAINT_PREFIX)

    def observe(self, call_id: str, code: str | None, region: str | None,
                at: datetime | str) -> Incident | None:
        """Record the call's current category; returns an incident only when this call raises it.

        ``code=None`` (abstained, no category yet) or an ``inquiry.*`` code withdraws the call's vote.
        """
        when = parse_time(at, field="at")
        region = (region or "").strip()
        with self._lock:
            self._withdraw_locked(call_id, keep_key=(code, region) if code else None)
            if not self.counts(code) or not region:
                return None
            key: Key = (code, region)  # type: ignore[assignment]
            votes = self._by_key.setdefault(key, {})
            for stale in [c for c, t in votes.items() if t <= when - 2 * self._window and c != call_id]:
                del votes[stale]  # long past any window: keeps memory bounded by the live traffic
                self._votes.pop(stale, None)
            if call_id not in votes:
                votes[call_id] = when
                self._votes[call_id] = (key, when)
                self._trim_locked()
            votes = self._by_key.get(key, {})
            incident = self._open.get(key)
            if incident is not None and self._is_open(incident, when):
                if call_id not in incident["call_ids"]:
                    incident["call_ids"].append(call_id)
                    incident["_times"][call_id] = votes.get(call_id, when)
                    self._touch(incident)
                return None
            recent = {c: t for c, t in votes.items() if when - self._window < t <= when}
            if len(recent) < self.threshold:
                return None
            ordered = sorted(recent.items(), key=lambda kv: kv[1])
            incident = {
                "id": f"inc-{next(self._ids)}",
                "type": "mass_incident",
                "code": key[0],
                "region": key[1],
                "call_ids": [c for c, _ in ordered],
                "raised_at": when.isoformat(),
                "_times": dict(ordered),
            }
            self._touch(incident)
            self._incidents.append(incident)
            self._open[key] = incident
            if len(self._incidents) > self.max_incidents:
                del self._incidents[0]
            return _public(incident, when, self._window)

    def forget(self, call_id: str) -> None:
        """Drop a call's pending vote (it stays listed in any incident it joined)."""
        with self._lock:
            self._withdraw_locked(call_id, keep_key=None)

    def active(self, at: datetime | str) -> list[Incident]:
        """Incidents still open at ``at``."""
        when = parse_time(at, field="at")
        with self._lock:
            return [_public(i, when, self._window) for i in self._incidents if self._is_open(i, when)]

    def all(self, at: datetime | str | None = None) -> list[Incident]:
        """Every incident raised so far, oldest first (``status`` evaluated at ``at`` when given)."""
        when = parse_time(at, field="at") if at is not None else None
        with self._lock:
            return [_public(i, when, self._window) for i in self._incidents]

    # -- internals -----------------------------------------------------------------------------
    def _is_open(self, incident: dict[str, Any], when: datetime) -> bool:
        return when - incident["_last"] < self._window

    @staticmethod
    def _touch(incident: dict[str, Any]) -> None:
        times = incident["_times"].values()
        incident["_first"], incident["_last"] = min(times), max(times)

    def _withdraw_locked(self, call_id: str, *, keep_key: Key | None) -> None:
        old = self._votes.get(call_id)
        if old is None or old[0] == keep_key:
            return
        key, _ = old
        del self._votes[call_id]
        votes = self._by_key.get(key)
        if votes is not None:
            votes.pop(call_id, None)
            if not votes:
                del self._by_key[key]
        # a re-classified call moves its vote: it leaves the open incident of its old key too
        incident = self._open.get(key)
        if incident is not None and call_id in incident["call_ids"] and len(incident["call_ids"]) > 1:
            incident["call_ids"].remove(call_id)
            incident["_times"].pop(call_id, None)
            self._touch(incident)

    def _trim_locked(self) -> None:
        while len(self._votes) > self.max_votes:
            call_id, (key, _) = self._votes.popitem(last=False)
            votes = self._by_key.get(key)
            if votes is not None:
                votes.pop(call_id, None)
                if not votes:
                    del self._by_key[key]


def _public(incident: dict[str, Any], when: datetime | None, window: timedelta) -> Incident:
    out = {k: (list(v) if isinstance(v, list) else v) for k, v in incident.items() if not k.startswith("_")}
    out["count"] = len(incident["call_ids"])
    out["first"] = incident["_first"].isoformat()
    out["last"] = incident["_last"].isoformat()
    if when is not None:
        out["status"] = "open" if (when - incident["_last"] < window) else "closed"
    return Incident.model_validate(out)
