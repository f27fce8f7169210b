"""Fixtures of the live-call engine tests: a settable clock and CallManagers on the fast fake pipeline."""

from __future__ import annotations

import queue
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from hotline.core.settings import Settings
from hotline.pipeline.live.incidents import IncidentDetector
from hotline.pipeline.live.notices import NoticeBoard
from hotline.pipeline.live.registry import CallManager

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))


class Clock:
    def __init__(self, t: datetime = T0) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_manager(clock) -> Callable[..., CallManager]:
    """``make_manager(pipe, **settings)``: a manager with small limits, incident threshold 3, the test clock."""

    def make(pipe, **settings) -> CallManager:
        s = Settings(**{"call_ttl_s": 600, "max_calls": 50, "max_turns_per_call": 100, **settings})
        return CallManager(pipe, settings=s, notices=NoticeBoard(),
                           incidents=IncidentDetector(threshold=3, window_min=30), clock=clock)

    return make


@pytest.fixture
def mgr(fake_pipeline, make_manager) -> CallManager:
    return make_manager(fake_pipeline)


@pytest.fixture
def drain() -> Callable[[queue.Queue], list]:
    """Everything on a ``queue.Queue`` now, without waiting."""

    def take(q: queue.Queue) -> list:
        out = []
        while True:
            try:
                out.append(q.get_nowait())
            except queue.Empty:
                return out

    return take
