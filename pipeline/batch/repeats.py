"""Repeat callers: the same caller about the same problem within 7 days, compared by a keyed hash of the phone.

A caller is their phone number — the customer metadata's ``phone`` (the CRM's or the switch's caller number)
or else the phone the caller gave in the call — turned into :func:`caller_key`, an HMAC-SHA256 under a
secret key (``HOTLINE_REPEAT_KEY``, else ``<home>/repeat.key``, made on first use). Only the key is kept:
a plain hash of a phone number is reversible by trying all 10^10 numbers, a keyed one is not without the key.

A call is a repeat when an earlier call from the same caller, at most ``window_days`` (7) before it, was about
the same **problem**: the same fault family (``data/kb/fault_families.json``: no signal and failing calls are one
network fault) or, for leaves in no family, the same service (billing, plans …). Only complaint calls count
(not inquiries or off-topic calls). ``repeat_of`` names the most recent such earlier call, so a chain of
callbacks reads c1 ← c2 ← c3.

:class:`RepeatDetector` sees calls in ``started_at`` order and keeps only the last ``window_days`` of callers
(memory is bounded by the calls of one window, however long the input).

Example:
    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2024, 5, 1, 9, tzinfo=timezone(timedelta(hours=8)))
    >>> det = RepeatDetector()
    >>> det.observe("c1", "k1", t0, "voice.cannot_call", True) is None
    True
    >>> det.observe("c2", "k1", t0 + timedelta(days=2), "coverage.outage", True)  # same network fault
    'c1'
    >>> det.observe("c3", "k1", t0 + timedelta(days=3), "billing.invoice", True) is None  # another problem
    True
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from hotline.core.callers import REPEAT_KEY_FILE, caller_key, load_repeat_key
from hotline.core.errors import InvalidInputError
from hotline.core.taxonomy import NON_COMPLAINT_PREFIX

__all__ = ["RepeatDetector", "caller_key", "load_repeat_key", "REPEAT_KEY_FILE"]

logger = logging.getLogger(__name__)

class RepeatDetector:
    """Finds repeat complaints among calls seen in ``started_at`` order (see the module docstring).

    Args:
        window_days: How far back an earlier call counts.
        families: Fault families (default: the shipped ones, read on first use).

    Attributes:
        stats_: Per category (leaf code): ``{"calls": complaint calls with a known caller, "repeats": …}``.
    """

    def __init__(self, *, window_days: float = 7.0, families: Any = None) -> None:
        if window_days <= 0:
            raise InvalidInputError(f"window_days must be > 0, got {window_days}")
        self.window_days = window_days
        self.families = families
        self._window = timedelta(days=window_days)
        self._family_of: dict[str, str] | None = None
        self._by_caller: dict[str, deque[tuple[datetime, str, str]]] = {}  # caller → (time, problem, call_id)
        self._order: deque[tuple[datetime, str]] = deque()  # (time, caller), oldest first, for expiry
        self._last: datetime | None = None
        self.stats_: dict[str, dict[str, int]] = {}

    def warm_up(self) -> None:
        """Load the fault families. Safe to call twice."""
        if self._family_of is None:
            from hotline.pipeline.live.incidents import load_fault_families

            fams = self.families if self.families is not None else load_fault_families()
            self._family_of = {code: f.name for f in fams for code in f.codes}

    def problem(self, label: str | None) -> str | None:
        """The problem a label is about: ``family:<name>``, else ``service:<service>``; None for no complaint."""
        if not label or label.startswith(NON_COMPLAINT_PREFIX):
            return None
        self.warm_up()
        assert self._family_of is not None
        family = self._family_of.get(label)
        return f"family:{family}" if family else f"service:{label.split('.', 1)[0]}"

    def observe(self, call_id: str, caller: str | None, started_at: datetime, label: str | None,
                is_complaint: bool) -> str | None:
        """Record one call; returns the ``call_id`` of the call it repeats, or None.

        Raises:
            InvalidInputError: calls come out of ``started_at`` order (sort them first).
        """
        if self._last is not None and started_at < self._last:
            raise InvalidInputError(f"call {call_id!r} at {started_at.isoformat()} comes after a call at "
                                    f"{self._last.isoformat()}; feed RepeatDetector in started_at order")
        self._last = started_at
        self._expire(started_at)
        problem = self.problem(label) if is_complaint else None
        if caller is None or problem is None:
            return None
        stats = self.stats_.setdefault(str(label), {"calls": 0, "repeats": 0})
        stats["calls"] += 1
        seen = self._by_caller.setdefault(caller, deque())
        repeat_of = next((cid for _, p, cid in reversed(seen) if p == problem), None)
        if repeat_of is not None:
            stats["repeats"] += 1
        seen.append((started_at, problem, call_id))
        self._order.append((started_at, caller))
        return repeat_of

    def rates(self) -> list[dict[str, Any]]:
        """Repeat rate per category, most repeats first: ``{"label", "calls", "repeats", "repeat_rate"}``."""
        rows = [{"label": label, "calls": s["calls"], "repeats": s["repeats"],
                 "repeat_rate": round(s["repeats"] / s["calls"], 4) if s["calls"] else 0.0}
                for label, s in self.stats_.items()]
        return sorted(rows, key=lambda r: (-r["repeats"], -r["calls"], r["label"]))

    def __len__(self) -> int:
        """Calls held in the window."""
        return len(self._order)

    def _expire(self, now: datetime) -> None:
        cutoff = now - self._window
        while self._order and self._order[0][0] < cutoff:
            _, caller = self._order.popleft()
            seen = self._by_caller.get(caller)
            if seen:
                seen.popleft()  # a caller's calls expire in the order they came
                if not seen:
                    del self._by_caller[caller]
