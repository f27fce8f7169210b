"""Service notices: known outages and planned works the agent should read out before anything else.

A notice covers some regions and some services (``broadband``) and/or leaf categories
(``broadband.cannot_connect``) for a time span. A live call matches a notice when its region lies
inside one of the notice's regions (``杭州市西湖区`` lies inside ``杭州市``), its category is covered and
the call's time falls inside the span. Reads return :class:`~hotline.core.results.Notice` models.

Example:
    >>> board = NoticeBoard()
    >>> n = board.add({"title": "西湖区光缆中断", "kind": "outage", "regions": ["杭州市"],
    ...                "services": ["broadband"], "starts_at": "2024-05-01T08:00:00+08:00",
    ...                "ends_at": "2024-05-01T20:00:00+08:00", "script": "您好，您所在区域光缆抢修中，预计20点前恢复。"})
    >>> [m.id for m in board.match("杭州市西湖区", "broadband.slow", "2024-05-01T09:00:00+08:00")] == [n.id]
    True
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from hotline.core.errors import InvalidInputError, NotFoundError
from hotline.core.results import Notice, NoticeKind
from hotline.core.taxonomy import Taxonomy, default_taxonomy

logger = logging.getLogger(__name__)

__all__ = ["NoticeBoard", "NoticeKind", "region_matches", "parse_time", "CHINA_TZ"]

CHINA_TZ = timezone(timedelta(hours=8), "CST")
_MAX_TITLE = 100
_MAX_SCRIPT = 2000
_MAX_REGION = 64


def parse_time(value: Any, *, field: str) -> datetime:
    """An aware datetime from an ISO 8601 string (offset required) or a datetime.

    Raises:
        InvalidInputError: naming ``field`` when the value is not ISO 8601 or has no UTC offset.
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInputError(
                f"{field} must be an ISO 8601 time with offset like '2024-05-01T08:00:00+08:00', got {value!r}"
            ) from None
    else:
        raise InvalidInputError(f"{field} must be an ISO 8601 string, got {type(value).__name__} {value!r}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise InvalidInputError(
            f"{field} must carry a UTC offset (e.g. '+08:00' or 'Z'), got {value!s}; add the offset"
        )
    return dt


def region_matches(call_region: str | None, area: str) -> bool:
    """True when the call's region is the area or lies inside it (``杭州市西湖区`` inside ``杭州市``)."""
    if not call_region or not area:
        return False
    return area == call_region or area in call_region


class NoticeBoard:
    """Thread-safe store of notices with time/region/category matching.

    ``add_listener(fn)`` registers ``fn(event, notice)`` (event ``"added"`` or ``"deleted"``, the notice as
    a dict), called after the change, outside the board's lock; the live-call engine uses it to push
    notices to calls.
    """

    def __init__(self, *, taxonomy: Taxonomy | None = None, max_notices: int = 10_000, repo: Any = None) -> None:
        self.taxonomy = taxonomy
        self.max_notices = max_notices
        self.repo = repo  # a hotline.store.notices.NoticeRepo: durable, shared by every replica
        self._notices: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []
        if repo is not None:
            self.sync()

    def sync(self) -> int:
        """Take in the notices other replicas added or withdrew (listeners hear of each); returns how many
        changed. A no-op without a store."""
        if self.repo is None:
            return 0
        with self._sync_lock:
            stored = self.repo.active_ids()
            with self._lock:
                local = set(self._notices)
            gone = local - stored
            new = [n for n in (self._restore(b) for b in self.repo.bodies(stored - local)) if n is not None]
            with self._lock:
                removed = [self._notices.pop(nid) for nid in gone if nid in self._notices]
                for n in new:
                    self._notices[n["id"]] = n
        for n in removed:
            self._emit("deleted", n)
        for n in new:
            self._emit("added", n)
        return len(removed) + len(new)

    def _restore(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """A stored notice back into the board's shape (its id and created_at kept); None if it no longer
        validates (e.g. a category removed from the taxonomy), logged."""
        try:
            clean = self._validate(body)
        except InvalidInputError as e:
            logger.warning("stored notice %s skipped: %s", body.get("id"), e)
            return None
        clean["created_at"] = body.get("created_at", clean["created_at"])
        return clean

    def _tax(self) -> Taxonomy:
        if self.taxonomy is None:
            self.taxonomy = default_taxonomy()
        return self.taxonomy

    # -- changes -------------------------------------------------------------------------------
    def add(self, notice: dict[str, Any]) -> Notice:
        """Validate and store a notice; returns it with ``id`` and ``created_at``.

        Raises:
            InvalidInputError: naming the offending field (``ends_at``, ``categories[0]`` …).
        """
        clean = self._validate(notice)
        with self._lock:
            if clean["id"] in self._notices:
                raise InvalidInputError(f"notice id {clean['id']!r} already exists; omit 'id' to get a fresh one")
            if len(self._notices) >= self.max_notices:
                self._prune_locked(datetime.now(timezone.utc))
            if len(self._notices) >= self.max_notices:
                raise InvalidInputError(
                    f"the notice board holds {self.max_notices} notices already; delete old ones first"
                )
            if self.repo is not None:  # durable before it is acknowledged; a duplicate id fails here
                self.repo.insert(_public(clean))
            self._notices[clean["id"]] = clean
        self._emit("added", clean)
        return _model(clean)

    def delete(self, notice_id: str) -> Notice:
        if self.repo is not None and notice_id not in self._notices:
            self.sync()  # another replica may have published it a moment ago
        with self._lock:
            if self.repo is not None and notice_id in self._notices:
                self.repo.delete(notice_id)
            notice = self._notices.pop(notice_id, None)
        if notice is None:
            raise NotFoundError(f"no notice with id {notice_id!r}; list them with GET /v1/notices")
        self._emit("deleted", notice)
        return _model(notice)

    def add_listener(self, fn: Callable[[str, dict[str, Any]], None]) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[str, dict[str, Any]], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    # -- reads ---------------------------------------------------------------------------------
    def get(self, notice_id: str) -> Notice:
        with self._lock:
            notice = self._notices.get(notice_id)
        if notice is None:
            raise NotFoundError(f"no notice with id {notice_id!r}; list them with GET /v1/notices")
        return _model(notice)

    def list(self, *, active_only: bool = False, at: datetime | str | None = None) -> list[Notice]:
        """All notices (or those active at ``at``, default now), outages first, then by start time."""
        when = parse_time(at, field="at") if at is not None else datetime.now(timezone.utc)
        with self._lock:
            items = list(self._notices.values())
        if active_only:
            items = [n for n in items if _active(n, when)]
        return [_model(n) for n in sorted(items, key=_order)]

    def match(self, region: str | None, category: str | None, at: datetime | str | None = None) -> list[Notice]:
        """Active notices covering ``region`` and the leaf ``category`` at ``at`` (default now)."""
        if not region or not category:
            return []
        when = parse_time(at, field="at") if at is not None else datetime.now(timezone.utc)
        service = category.split(".", 1)[0]
        with self._lock:
            items = list(self._notices.values())
        out = [
            n for n in items
            if _active(n, when)
            and (category in n["categories"] or service in n["services"])
            and any(region_matches(region, area) for area in n["regions"])
        ]
        return [_model(n) for n in sorted(out, key=_order)]

    def __len__(self) -> int:
        return len(self._notices)

    # -- helpers -------------------------------------------------------------------------------
    def _emit(self, event: str, notice: dict[str, Any]) -> None:
        for fn in list(self._listeners):
            fn(event, _public(notice))

    def _prune_locked(self, now: datetime) -> None:
        """Drop notices that ended more than a day ago."""
        for nid in [k for k, n in self._notices.items() if n["_ends"] < now - timedelta(days=1)]:
            del self._notices[nid]

    def _validate(self, notice: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(notice, dict):
            raise InvalidInputError(f"a notice must be a JSON object, got {type(notice).__name__}")
        tax = self._tax()
        title = _text(notice.get("title"), "title", _MAX_TITLE)
        script = _text(notice.get("script"), "script", _MAX_SCRIPT)
        kind = notice.get("kind", NoticeKind.OUTAGE.value)
        kind = kind.value if isinstance(kind, NoticeKind) else kind
        if kind not in {k.value for k in NoticeKind}:
            raise InvalidInputError(f"kind must be one of ['outage', 'planned'], got {kind!r}")
        from hotline.core.normalise import normalise_text

        # calls' regions are normalised the same way (full/half width, traditional → simplified)
        regions = [normalise_text(r) for r in _str_list(notice.get("regions"), "regions")]
        if not regions:
            raise InvalidInputError("regions must list at least one area, e.g. ['杭州市'] or ['杭州市西湖区']")
        for i, r in enumerate(regions):
            if len(r) > _MAX_REGION:
                raise InvalidInputError(f"regions[{i}] must be at most {_MAX_REGION} characters, got {len(r)}")
        services = _str_list(notice.get("services"), "services")
        for i, s in enumerate(services):
            if s not in tax.services:
                raise InvalidInputError(f"services[{i}] = {s!r} is not a service code; valid: {tax.services}")
        categories = _str_list(notice.get("categories"), "categories")
        for i, c in enumerate(categories):
            if c not in tax:
                raise InvalidInputError(
                    f"categories[{i}] = {c!r} is not a taxonomy code; use leaf codes like 'broadband.cannot_connect'"
                )
        if not services and not categories:
            raise InvalidInputError(
                "a notice needs 'services' (e.g. ['broadband']) and/or 'categories' (e.g. ['data.slow']); both are empty"
            )
        if notice.get("starts_at") is None:
            raise InvalidInputError("starts_at is required: an ISO 8601 time with offset like '2024-05-01T08:00:00+08:00'")
        if notice.get("ends_at") is None:
            raise InvalidInputError("ends_at is required: an ISO 8601 time with offset like '2024-05-01T20:00:00+08:00'")
        starts = parse_time(notice["starts_at"], field="starts_at")
        ends = parse_time(notice["ends_at"], field="ends_at")
        if ends <= starts:
            raise InvalidInputError(
                f"ends_at ({ends.isoformat()}) must be after starts_at ({starts.isoformat()})"
            )
        nid = notice.get("id") or f"n-{uuid.uuid4().hex[:12]}"
        if not isinstance(nid, str) or len(nid) > 64:
            raise InvalidInputError(f"id must be a string of at most 64 characters, got {nid!r}")
        return {
            "id": nid,
            "title": title,
            "kind": kind,
            "regions": regions,
            "services": services,
            "categories": categories,
            "starts_at": starts.isoformat(),
            "ends_at": ends.isoformat(),
            "script": script,
            "created_at": datetime.now(timezone.utc).isoformat(),
            "_starts": starts,
            "_ends": ends,
        }


def _active(n: dict[str, Any], when: datetime) -> bool:
    return n["_starts"] <= when < n["_ends"]


def _order(n: dict[str, Any]) -> tuple[int, datetime]:
    return (0 if n["kind"] == NoticeKind.OUTAGE.value else 1, n["_starts"])


def _public(n: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, list) else v) for k, v in n.items() if not k.startswith("_")}


def _model(n: dict[str, Any]) -> Notice:
    return Notice.model_validate(_public(n))


def _text(v: Any, field: str, max_chars: int) -> str:
    if not isinstance(v, str) or not v.strip():
        got = "missing" if v is None else repr(v)
        raise InvalidInputError(f"{field} must be a non-empty string, got {got}")
    v = v.strip()
    if len(v) > max_chars:
        raise InvalidInputError(f"{field} must be at most {max_chars} characters, got {len(v)}")
    return v


def _str_list(v: Any, field: str) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str) or not isinstance(v, (list, tuple)):
        raise InvalidInputError(f"{field} must be a list of strings, got {v!r}")
    out = []
    for i, s in enumerate(v):
        if not isinstance(s, str) or not s.strip():
            raise InvalidInputError(f"{field}[{i}] must be a non-empty string, got {s!r}")
        if s.strip() not in out:
            out.append(s.strip())
    return out
