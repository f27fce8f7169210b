"""Event fan-out: one bounded queue per listener, drop-oldest for slow readers, asyncio readers fed from threads."""

from __future__ import annotations

import asyncio
import queue
import threading

from hotline.core.results import Reply
from hotline.pipeline.live.events import EventFanout, publish, to_event


def _events(n: int) -> list[dict]:
    return [{"type": "state", "data": {"n": i}} for i in range(n)]


def test_every_listener_gets_every_event(drain):
    fanout = EventFanout()
    a, b = fanout.subscribe(), fanout.subscribe()
    assert isinstance(a, queue.Queue) and len(fanout) == 2  # no running loop: a plain queue
    for e in _events(3):
        publish(fanout.targets(), e)
    assert drain(a) == drain(b) == _events(3)


def test_a_slow_listener_loses_the_oldest_events_and_never_blocks(drain):
    fanout = EventFanout(maxsize=3)
    slow, fast = fanout.subscribe(), fanout.subscribe()
    for i, e in enumerate(_events(10)):
        publish(fanout.targets(), e)
        if i < 5:
            assert drain(fast) == [e]
    assert drain(slow) == _events(10)[-3:]  # the newest three: a later state supersedes an older one
    assert [e["data"]["n"] for e in drain(fast)] == [7, 8, 9]


def test_unsubscribe_and_detach(drain):
    fanout = EventFanout()
    gone, kept = fanout.subscribe(), fanout.subscribe()
    fanout.unsubscribe(gone)
    fanout.unsubscribe(queue.Queue())  # unknown: ignored
    publish(fanout.targets(), {"type": "state", "data": {}})
    assert drain(gone) == [] and len(drain(kept)) == 1
    subs = fanout.detach()
    assert [s.queue for s in subs] == [kept] and len(fanout) == 0 and fanout.targets() == []
    publish(subs, None)
    assert drain(kept) == [None]


def test_asyncio_listener_is_fed_from_engine_threads():
    fanout = EventFanout(maxsize=4)

    async def listen() -> list:
        q = fanout.subscribe()
        assert isinstance(q, asyncio.Queue)
        workers = [threading.Thread(target=publish, args=(fanout.targets(), e)) for e in _events(6)]
        for w in workers:
            w.start()
            w.join()  # in order, so the oldest two are the ones dropped
        publish(fanout.targets(), None)
        got = []
        while (event := await asyncio.wait_for(q.get(), timeout=5)) is not None:
            got.append(event)
        return got

    got = asyncio.run(listen())
    assert [e["data"]["n"] for e in got] == [3, 4, 5]  # the queue held 4: three events and the end marker


def test_a_listener_whose_loop_closed_is_skipped(drain):
    fanout = EventFanout()

    async def subscribe():
        return fanout.subscribe()

    asyncio.run(subscribe())  # that loop is closed now
    alive = fanout.subscribe()
    publish(fanout.targets(), {"type": "state", "data": {}})  # must not raise
    assert len(drain(alive)) == 1


def test_to_event_keeps_only_the_fields_that_were_set():
    reply = Reply.model_validate({"source": "notice", "id": "n-1", "title": "光缆中断", "text": "抢修中"})
    assert to_event("state", reply) == {"type": "state", "data": {"source": "notice", "id": "n-1", "title": "光缆中断",
                                                                  "text": "抢修中"}}
    assert reply.model_dump()["score"] is None  # the HTTP response still shows every field
    assert to_event("notice", {"id": "n-1", "event": "added"}) == {"type": "notice",
                                                                   "data": {"id": "n-1", "event": "added"}}
