"""Event fan-out of one live call: engine threads publish, asyncio (or plain) readers consume.

Each listener gets its own bounded queue. Inside a running event loop the queue is an ``asyncio.Queue`` fed
through ``loop.call_soon_threadsafe`` (the engine runs in worker threads); elsewhere it is a ``queue.Queue``.
A slow reader never blocks the engine: when its queue is full the oldest event is dropped, because a newer
state supersedes it. ``None`` on a queue means the stream is over.

Events are ``{"type": "state"|"incident"|"notice", "data": ...}``; :func:`to_event` makes one from a result
model, keeping only the fields the engine set (a ticket field without a resolved time has no ``resolved``
key), so the JSON on a stream is exactly what the engine built.

Example:
    >>> fanout = EventFanout(maxsize=2)
    >>> q = fanout.subscribe()
    >>> for n in range(3):
    ...     publish(fanout.targets(), {"type": "state", "data": n})
    >>> [q.get_nowait()["data"] for _ in range(2)]
    [1, 2]
"""

from __future__ import annotations

import asyncio
import queue
import threading
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

__all__ = ["EventFanout", "Subscriber", "publish", "to_event"]

_QUEUE_SIZE = 256


@dataclass(frozen=True)
class Subscriber:
    """One listener: its queue and, for an ``asyncio.Queue``, the loop that owns it."""

    queue: Any
    loop: asyncio.AbstractEventLoop | None


class EventFanout:
    """The listeners of one call.

    Thread-safe. Publishing goes through :func:`publish` on a copy taken with :meth:`targets` or
    :meth:`detach`, so the owner can take the copy under its own lock and publish after releasing it.

    Args:
        maxsize: Events a queue holds before the oldest is dropped.
    """

    def __init__(self, *, maxsize: int = _QUEUE_SIZE) -> None:
        self.maxsize = maxsize
        self._subs: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self) -> Any:
        """A new queue of this call's events (``asyncio.Queue`` inside a running loop, else ``queue.Queue``)."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            q: Any = asyncio.Queue(maxsize=self.maxsize)
        except RuntimeError:
            loop = None
            q = queue.Queue(maxsize=self.maxsize)
        with self._lock:
            self._subs.append(Subscriber(q, loop))
        return q

    def unsubscribe(self, q: Any) -> None:
        """Stop feeding ``q``; unknown queues are ignored."""
        with self._lock:
            self._subs = [s for s in self._subs if s.queue is not q]

    def targets(self) -> list[Subscriber]:
        """The current listeners (a copy)."""
        with self._lock:
            return list(self._subs)

    def detach(self) -> list[Subscriber]:
        """Remove and return every listener (the call is over; publish ``None`` to them)."""
        with self._lock:
            subs, self._subs = self._subs, []
        return subs

    def __len__(self) -> int:
        return len(self._subs)


def to_event(kind: str, data: BaseModel | dict[str, Any]) -> dict[str, Any]:
    """A stream event; a model becomes its JSON dict with the fields that were set (no added defaults)."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json", exclude_unset=True)
    return {"type": kind, "data": data}


def publish(targets: list[Subscriber], event: dict[str, Any] | None) -> None:
    """Put ``event`` on every target's queue without blocking; ``None`` ends the streams."""
    for s in targets:
        if s.loop is None:
            _put_dropping(s.queue, event)
        else:
            try:
                s.loop.call_soon_threadsafe(_put_dropping, s.queue, event)
            except RuntimeError:  # the loop has closed: the listener is gone
                pass


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
