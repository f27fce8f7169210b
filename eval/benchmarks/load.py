"""Load benchmark for live calls: many concurrent simulated calls against a real uvicorn server, open loop.

The load generator is several client processes (``workers``; by default one per 100 calls, at most one per CPU),
each an asyncio loop driving its share of the calls with aiohttp (``pip install 'hotline[bench]'``; about a third
of httpx's CPU per request) or, without it, httpx, so no one process caps the offered rate.
Each call follows a fixed schedule (open loop): it rings, then a turn is due every ``think_s`` seconds (uniform;
default 0.5–1.5 s, about one a second) from :data:`hotline.eval.benchmarks.calls.CALL_SCRIPTS`. A turn is posted
at its due time, or, when the server is late, as soon as the call's previous turn is answered (a call's turns stay
in order), so a slow server does not lower the rate the other calls offer. With ``duration_s`` every call slot
runs call after call (``utterances_per_call`` turns each) until the time is up: a steady number of live calls of
a realistic length. Without it every slot runs one call.

Measured per utterance: the client's latency (HTTP round trip from the actual send, and from the due time, which
counts a late server instead of hiding it), the server's own time (the ``Server-Timing: app;dur=`` header of
:class:`~hotline.eval.benchmarks.server.ServerTimingMiddleware`: from the app receiving the request to its answer's
headers; the gap to the client's figure is the wait in the server's event loop and socket, and the client), errors,
and drops: every accepted utterance must be in the call's final transcript, in order, and in the last state
pushed on its stream; turns never posted (the call was refused, or the run was over) count as ``unsent``. Beside
them: the generator's CPU (per worker as a share of one core, and its event-loop lag; ``generator_bottleneck`` is
true when a worker nears a full core), the server's CPU per utterance (net of its idle CPU; each run waits for the
server to go quiet first: it may still be warming up after ``/readyz``), and how busy the whole machine was.

``ramp`` (``--ramp``) steps the number of calls, hence the offered rate, on one server until per-utterance p99
crosses ``p99_ms`` (100 ms), errors or drops appear, or ``ramp_max`` calls, and reports the rate where p99 crossed.

Usage (CLI)::

    python -m hotline.eval.benchmarks.load --home ~/.hotline --calls 400 --utterances 12 --duration 60
    python -m hotline.eval.benchmarks.load --home ~/.hotline --ramp --ramp-start 100 --ramp-step 100 --duration 20

Example:
    >>> result = run_load(Settings(home="/tmp/hl"), calls=5, utterances_per_call=3)  # doctest: +SKIP
    >>> result["dropped"], result["errors"]  # doctest: +SKIP
    (0, 0)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import json
import logging
import math
import multiprocessing as mp
import os
import queue
import random
import re
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from itertools import zip_longest
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from hotline.core.errors import InvalidInputError
from hotline.core.settings import Settings
from hotline.eval.benchmarks.calls import CALL_SCRIPTS, expected_text, script_turns
from hotline.eval.benchmarks.render import render_load
from hotline.eval.benchmarks.server import (
    ServerTimingMiddleware,
    bench_settings,
    running_server,
    server_process,
)
from hotline.eval.benchmarks.targets import TARGET_P99_MS

__all__ = ["run_load", "run_ramp", "main", "CAPACITY_P99_MS", "TARGET_P99_MS"]

logger = logging.getLogger(__name__)

CAPACITY_P99_MS = 100.0  # the ramp's line: the offered rate at which per-utterance p99 crosses this is the capacity
_CALLS_PER_WORKER = 100  # auto worker count: one client process per this many calls, at most one per CPU
_BUSY_WORKER = 0.9  # a worker using this share of one core (or more) may be what limits the numbers
_START_LEAD_S = 1.0  # workers get their share this long before the common start, so all begin together
_TICK_S = 0.05  # event-loop lag probe period in each worker
_SETTLE_MAX_S = 60.0  # before each run, wait up to this long for the server to go quiet ...
_QUIET_CORES = 0.05  # ... i.e. below this CPU (cores) over one second
_DUR = re.compile(r"dur=([0-9.]+)")
_SAMPLES = 5  # error and mismatch samples kept per worker


# -- one worker: its share of the call slots, in one asyncio loop ---------------------------------------------
class _Reply(NamedTuple):
    """One HTTP answer, read whole, from either client library."""

    status: int
    body: bytes
    timing: str  # the Server-Timing header; "" when absent
    content_type: str

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class _AiohttpSlot:
    """A call slot's requests over the worker's one aiohttp session (its pool finds a free connection in O(1))."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def __aenter__(self) -> _AiohttpSlot:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def request(self, method: str, path: str, json: Any = None) -> _Reply:
        async with self.session.request(method, path, json=json) as r:
            body = await r.read()
            return _Reply(r.status, body, r.headers.get("server-timing", ""), r.headers.get("content-type", ""))


class _HttpxSlot:
    """A call slot's own httpx client: httpcore checks every pooled connection on each request, so one pool per
    slot (one connection; a slot's requests are sequential) keeps a request O(1) however many calls run."""

    def __init__(self, spec: dict[str, Any], ssl_context: Any) -> None:
        self.spec, self.ssl_context, self.client = spec, ssl_context, None

    async def __aenter__(self) -> _HttpxSlot:
        import httpx

        self.client = httpx.AsyncClient(base_url=self.spec["base"], headers=self.spec["headers"],
                                        limits=httpx.Limits(max_connections=2, max_keepalive_connections=1),
                                        timeout=httpx.Timeout(self.spec["timeout_s"]), verify=self.ssl_context)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def request(self, method: str, path: str, json: Any = None) -> _Reply:
        r = await self.client.request(method, path, json=json)
        return _Reply(r.status_code, r.content, r.headers.get("server-timing", ""), r.headers.get("content-type", ""))


class _Clients:
    """A worker's HTTP clients: aiohttp (about a third of httpx's CPU per request) or httpx, per ``spec["client"]``."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec, self.session, self.ssl_context = spec, None, None

    async def __aenter__(self) -> _Clients:
        if self.spec["client"] == "aiohttp":
            import aiohttp

            # keep-alive shorter than the server's (uvicorn's default 5 s): never reuse a connection it is closing
            self.session = aiohttp.ClientSession(
                base_url=self.spec["base"], headers=self.spec["headers"],
                timeout=aiohttp.ClientTimeout(total=self.spec["timeout_s"]),
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=3.0))
        else:
            import ssl

            self.ssl_context = ssl.create_default_context()  # once: httpx would build one per client
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()

    def slot(self) -> _AiohttpSlot | _HttpxSlot:
        return _AiohttpSlot(self.session) if self.session is not None else _HttpxSlot(self.spec, self.ssl_context)


class _Share:
    """One worker's run: its call slots, the schedule, and everything measured (``out``)."""

    def __init__(self, spec: dict[str, Any], clients: _Clients) -> None:
        self.spec = spec
        self.clients = clients
        self.think: tuple[float, float] = tuple(spec["think_s"])  # type: ignore[assignment]
        self.n_utt: int = spec["utterances_per_call"]
        self.stream: bool = spec["stream"]
        self.ws_base = spec["base"].replace("http://", "ws://", 1)
        # perf_counter at the common start time (wall clock, shared by all workers)
        self.t0 = time.perf_counter() + (spec["start_at"] - time.time())
        self.end = None if spec["duration_s"] is None else self.t0 + spec["duration_s"]
        # past this, a call posts no more turns (the caller has hung up): an overloaded server cannot stretch the run
        self.stop_at = self.t0 + spec["stop_after_s"]
        self.transcript_route = True  # until the server answers 404 for it: then the call state's turns
        self.pending: list[asyncio.Task] = []
        self.out: dict[str, Any] = {
            "utt_ms": [], "utt_due_ms": [], "lag_ms": [], "server_ms": [], "create_ms": [], "get_ms": [],
            "end_ms": [], "loop_lag_ms": [], "first_send": math.inf, "last_done": -math.inf,
            "due_min": math.inf, "due_max": -math.inf, "n_due": 0, "calls_run": 0, "failed_calls": 0,
            "posted": 0, "accepted": 0, "unsent": 0, "unchecked_calls": 0, "dropped": 0, "mismatches": [],
            "errors": 0, "error_samples": [],
            "ws_events": 0, "ws_errors": 0, "ws_error_samples": [], "ws_dropped": 0,
        }

    def _error(self, msg: str, key: str = "errors") -> None:
        self.out[key] += 1
        samples = self.out[f"{'ws_' if key == 'ws_errors' else ''}error_samples"]
        if len(samples) < _SAMPLES:
            samples.append(msg)

    async def _request(self, client: Any, kind: str, call_id: str, method: str, path: str,
                       body: Any = None) -> _Reply | None:
        t = time.perf_counter()
        try:
            r = await client.request(method, path, json=body)
        except Exception as e:  # a timeout or a refused connection is a finding, not a crash of the benchmark
            self._error(f"{kind} {call_id}: {type(e).__name__}: {e}")
            return None
        finally:
            self.out[f"{kind}_ms"].append((time.perf_counter() - t) * 1000.0)
        if r.status >= 400 and not (path.endswith("/transcript") and _no_route(r)):
            self._error(f"{kind} {call_id}: HTTP {r.status} {r.text[:200]}")
            return None
        return r

    async def _utterance(self, client: Any, call_id: str, speaker: str, text: str, due: float) -> bool:
        await _until(due)
        t = time.perf_counter()
        out = self.out
        out["posted"] += 1
        out["first_send"] = min(out["first_send"], t - self.t0)
        try:
            r = await client.request("POST", f"/v1/calls/{call_id}/utterances", {"speaker": speaker, "text": text})
        except Exception as e:
            self._error(f"utterance {call_id}: {type(e).__name__}: {e}")
            return False
        done = time.perf_counter()
        if r.status >= 400:
            self._error(f"utterance {call_id}: HTTP {r.status} {r.text[:200]}")
            return False
        # the body (the call state) is not parsed: the generator's CPU goes to sending, not to reading states
        out["utt_ms"].append((done - t) * 1000.0)
        out["utt_due_ms"].append((done - due) * 1000.0)
        out["lag_ms"].append((t - due) * 1000.0)
        out["last_done"] = max(out["last_done"], done - self.t0)
        m = _DUR.search(r.timing)
        if m:
            out["server_ms"].append(float(m.group(1)))
        return True

    async def call(self, client: Any, slot: int, seq: int, ring: float, rng: random.Random) -> float:
        """One call rung at ``ring`` (perf_counter): open, stream, post its turns on schedule, end; the last due."""
        script = CALL_SCRIPTS[(slot + seq) % len(CALL_SCRIPTS)]
        call_id = f"load-{self.spec['run_id']}-{slot:05d}-{seq:03d}"
        dues, t = [], ring
        for _ in range(self.n_utt):
            t += rng.uniform(*self.think)
            if dues and self.end is not None and t >= self.end:
                break  # the run is over: this call ends early rather than run past the duration
            dues.append(t)
        out = self.out
        out["due_min"] = min(out["due_min"], dues[0] - self.t0)
        out["due_max"] = max(out["due_max"], dues[-1] - self.t0)
        out["n_due"] += len(dues)
        out["calls_run"] += 1
        await _until(ring)
        if await self._request(client, "create", call_id, "POST", "/v1/calls",
                               {"call_id": call_id, "region": script["region"]}) is None:
            out["failed_calls"] += 1
            out["unsent"] += len(dues)  # the caller got no call: its turns are never posted
            return dues[-1]
        sink: dict[str, Any] = {"events": 0, "last_raw": None, "error": None, "opened": asyncio.Event()}
        watcher = None
        if self.stream:
            watcher = asyncio.create_task(_watch(f"{self.ws_base}/v1/calls/{call_id}/stream", sink,
                                                 self.spec["headers"]))
            await sink["opened"].wait()
        expected: list[tuple[str, str]] = []
        for k, ((speaker, text), due) in enumerate(zip(script_turns(script, len(dues)), dues, strict=True)):
            if time.perf_counter() > self.stop_at:
                out["unsent"] += len(dues) - k
                break
            if await self._utterance(client, call_id, speaker, text, due):
                expected.append((speaker, expected_text(text)))
        out["accepted"] += len(expected)
        final = None
        if time.perf_counter() <= self.stop_at:
            final = await self._final_turns(client, call_id)
        else:
            out["unchecked_calls"] += 1  # no time left to read its transcript; it is still ended
        await self._request(client, "end", call_id, "POST", f"/v1/calls/{call_id}/end")
        if final is not None:
            differ = sum(1 for e, g in zip_longest(expected, final) if e != g)
            if differ:
                out["dropped"] += differ
                if len(out["mismatches"]) < _SAMPLES:
                    out["mismatches"].append({"call_id": call_id, "expected": len(expected), "got": len(final),
                                              "differ": differ})
        if watcher is not None:  # checked in the background: the slot's next call rings on schedule
            self.pending.append(asyncio.create_task(self._check_stream(call_id, watcher, sink, expected)))
        return dues[-1]

    async def _final_turns(self, client: Any, call_id: str) -> list[tuple[str, str]] | None:
        """The call's whole transcript (``/transcript``, else the state's turns), as (speaker, text)."""
        if self.transcript_route:
            r = await self._request(client, "get", call_id, "GET", f"/v1/calls/{call_id}/transcript")
            if r is None:
                return None
            if not _no_route(r):
                body = r.json()
                return _turns(body if isinstance(body, list) else body.get("turns", []))
            self.transcript_route = False  # this server has no transcript route
        r = await self._request(client, "get", call_id, "GET", f"/v1/calls/{call_id}")
        return None if r is None else _turns(r.json().get("turns", []))

    async def _check_stream(self, call_id: str, watcher: asyncio.Task, sink: dict[str, Any],
                            expected: list[tuple[str, str]]) -> None:
        try:
            await asyncio.wait_for(watcher, timeout=30)
        except asyncio.TimeoutError:
            sink["error"] = sink["error"] or "stream not closed 30 s after the call ended"
        self.out["ws_events"] += sink["events"]
        if sink["error"]:
            self._error(f"{call_id}: {sink['error']}", key="ws_errors")
        got = _turns(json.loads(sink["last_raw"])["data"].get("turns", [])) if sink["last_raw"] else []
        # a pushed state may carry only the recent turns (HOTLINE_STATE_RECENT_TURNS): compare the tail it has
        want = expected[-len(got):] if 0 < len(got) < len(expected) else expected
        self.out["ws_dropped"] += sum(1 for e, g in zip_longest(want, got) if e != g)

    async def slot(self, slot: int) -> None:
        """One call slot: call after call until the duration is up (or one call without a duration)."""
        rng = random.Random(self.spec["seed"] * 1_000_003 + slot)
        ring = self.t0 + rng.uniform(0, self.think[1])  # calls do not all ring in the same millisecond
        seq = 0
        async with self.clients.slot() as client:
            while True:
                last_due = await self.call(client, slot, seq, ring, rng)
                seq += 1
                ring = last_due + rng.uniform(*self.think)
                if self.end is None or ring >= self.end:
                    return


def _no_route(r: _Reply) -> bool:
    """A 404 from routing (this server has no such route), not from the app (no such call)."""
    return bool(r.status == 404 and r.content_type.startswith("application/json")
                and r.json().get("detail") == "Not Found")


def _turns(turns: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(t["speaker"], t["text"]) for t in turns]


async def _until(t: float) -> None:
    delay = t - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


async def _watch(ws_url: str, sink: dict[str, Any], headers: dict[str, str]) -> None:
    """Read a call's stream until the server closes it; keep the last state message, unparsed."""
    from websockets.asyncio.client import connect

    try:
        async with connect(ws_url, open_timeout=30, close_timeout=5, max_size=None,
                           additional_headers=headers or None) as ws:
            sink["opened"].set()
            async for raw in ws:
                sink["events"] += 1
                # Starlette's send_json writes compact JSON with "type" first: no parse needed to find a state
                if raw.startswith('{"type":"state"') or (
                        not raw.startswith('{"type":') and json.loads(raw).get("type") == "state"):
                    sink["last_raw"] = raw
    except Exception as e:  # a broken stream is a finding, not a crash of the benchmark
        sink["error"] = f"{type(e).__name__}: {e}"
    finally:
        sink["opened"].set()


async def _loop_lag(stop: asyncio.Event, out: list[float]) -> None:
    """How late this loop wakes up from a short sleep: a busy generator shows here first."""
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(_TICK_S)
        out.append((time.perf_counter() - t - _TICK_S) * 1000.0)


async def _drive_share(spec: dict[str, Any]) -> dict[str, Any]:
    async with _Clients(spec) as clients:
        share = _Share(spec, clients)
        await _until(share.t0)
        c0, w0 = time.process_time(), time.perf_counter()
        stop = asyncio.Event()
        ticker = asyncio.create_task(_loop_lag(stop, share.out["loop_lag_ms"]))
        await asyncio.gather(*(share.slot(s) for s in spec["slots"]))
        share.out["cpu_s"], share.out["wall_s"] = time.process_time() - c0, time.perf_counter() - w0
        stop.set()
        await ticker
        if share.pending:
            await asyncio.gather(*share.pending)
    return share.out


def _worker_main(index: int, inbox: Any, outbox: Any) -> None:
    """A client process: one run spec in, its measurements out, until ``None``."""
    for lib in ("httpx", "aiohttp", "websockets.asyncio.client"):  # before "ready": the first run does not pay
        with contextlib.suppress(ImportError):
            importlib.import_module(lib)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which stops the workers
    outbox.put((index, "ready", None))
    while (spec := inbox.get()) is not None:
        try:
            outbox.put((index, "done", asyncio.run(_drive_share(spec))))
        except BaseException:
            outbox.put((index, "failed", traceback.format_exc()))


class _Generator:
    """``n`` client processes (spawned, so nothing of this process leaks in), reused across the ramp's steps."""

    def __init__(self, n: int) -> None:
        ctx = mp.get_context("spawn")
        self.outbox = ctx.Queue()
        self.inboxes = [ctx.Queue() for _ in range(n)]
        self.procs = [ctx.Process(target=_worker_main, args=(i, q, self.outbox), name=f"load-worker-{i}",
                                  daemon=True) for i, q in enumerate(self.inboxes)]
        for p in self.procs:
            p.start()
        try:
            self._collect("ready", timeout_s=120.0)
        except BaseException:
            self.close()
            raise

    def _collect(self, expect: str, *, timeout_s: float, n: int | None = None) -> list[Any]:
        got: dict[int, Any] = {}
        n = len(self.procs) if n is None else n
        deadline = time.monotonic() + timeout_s
        while len(got) < n:
            try:
                index, kind, payload = self.outbox.get(timeout=1.0)
            except queue.Empty:
                dead = [p.name for p in self.procs if not p.is_alive()]
                if dead:
                    raise RuntimeError(f"load generator processes died: {dead}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"load generator: {n - len(got)} workers did not answer within "
                                       f"{timeout_s:.0f} s") from None
                continue
            if kind == "failed":
                raise RuntimeError(f"load generator worker {index} failed:\n{payload}")
            if kind == expect:
                got[index] = payload
        return [got[i] for i in sorted(got)]

    def run(self, specs: list[dict[str, Any]], *, timeout_s: float) -> list[dict[str, Any]]:
        for inbox, spec in zip(self.inboxes, specs):  # fewer specs than workers: the rest sit out this run
            inbox.put(spec)
        return self._collect("done", timeout_s=timeout_s, n=len(specs))

    def close(self) -> None:
        for inbox in self.inboxes:
            inbox.put(None)
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)


# -- the run: server, generator, aggregation ---------------------------------------------------------------------
def _pcts(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {"n": 0}
    a = np.asarray(xs)
    return {"n": int(a.size), "p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2),
            "p99": round(float(np.percentile(a, 99)), 2), "max": round(float(a.max()), 2),
            "mean": round(float(a.mean()), 2)}


def _auto_workers(calls: int) -> int:
    return max(1, min(os.cpu_count() or 1, math.ceil(calls / _CALLS_PER_WORKER)))


class _Session:
    """A started server (process or thread) and load generator; :meth:`measure` runs one load on them."""

    def __init__(self, base: str, server_cpu: Callable[[], float], generator: _Generator, *, server: str,
                 headers: dict[str, str], timeout_s: float, seed: int, client: str) -> None:
        self.base, self.server_cpu, self.generator, self.server = base, server_cpu, generator, server
        self.headers, self.timeout_s, self.seed, self.client = headers, timeout_s, seed, client
        self.runs = 0

    def warm_up(self) -> None:
        """One short call outside the measurement: lazy imports and first-call caches in the server."""
        import httpx

        call_id = f"load-warm-{os.getpid()}-{int(time.time() * 1000) % 10**8}"
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=self.timeout_s) as c:
            steps = [("POST", "/v1/calls", {"call_id": call_id, "region": CALL_SCRIPTS[0]["region"]})]
            steps += [("POST", f"/v1/calls/{call_id}/utterances", {"speaker": s, "text": t})
                      for s, t in script_turns(CALL_SCRIPTS[0], 3)]
            steps += [("POST", f"/v1/calls/{call_id}/end", None)]
            for method, path, body in steps:
                r = c.request(method, path, json=body)
                if r.status_code >= 400:
                    raise RuntimeError(f"warm-up {method} {path} failed: HTTP {r.status_code} {r.text[:300]}")

    def _settle(self) -> tuple[float, bool]:
        """Wait until the server is quiet (it may still warm up after ``/readyz``, or drain a previous step).

        Returns its CPU (cores) over the last second, which is then counted as idle (expiry loops, replica sync),
        and whether it went quiet within :data:`_SETTLE_MAX_S`.
        """
        deadline = time.monotonic() + _SETTLE_MAX_S
        while True:
            c0 = self.server_cpu()
            time.sleep(1.0)
            cores = max(0.0, self.server_cpu() - c0)
            if cores <= _QUIET_CORES:
                return cores, True
            if time.monotonic() > deadline:
                logger.warning("the server still uses %.2f cores with no load after %.0f s; measuring anyway",
                               cores, _SETTLE_MAX_S)
                return cores, False

    def measure(self, *, calls: int, utterances_per_call: int, think_s: tuple[float, float],
                duration_s: float | None, stream: bool) -> dict[str, Any]:
        import psutil

        n_workers = min(len(self.generator.procs), calls)
        idle_cores, settled = self._settle()
        run_id = f"{int(time.time()) % 100000:05d}{self.runs:02d}"
        self.runs += 1
        start_at = time.time() + _START_LEAD_S
        specs = [{"base": self.base, "headers": self.headers, "slots": list(range(w, calls, n_workers)),
                  "utterances_per_call": utterances_per_call, "think_s": list(think_s), "duration_s": duration_s,
                  "stream": stream, "seed": self.seed, "run_id": run_id, "start_at": start_at,
                  "timeout_s": self.timeout_s, "client": self.client} for w in range(n_workers)]
        # the schedule's length: the duration, or one call (a ring within think_max, then its turns)
        span = duration_s if duration_s is not None else think_s[1] * (utterances_per_call + 1)
        for spec in specs:
            spec["stop_after_s"] = span + self.timeout_s
        machine0, srv0, w0 = psutil.cpu_times(), self.server_cpu(), time.perf_counter()
        # bounded: the last turns and ends in flight (a timeout each), the streams' close (30 s), start-up
        parts = self.generator.run(specs, timeout_s=span + 4 * self.timeout_s + 120)
        machine1, srv1, w1 = psutil.cpu_times(), self.server_cpu(), time.perf_counter()
        busy = _busy_share(machine0, machine1)
        r = _aggregate(parts, calls=calls, utterances_per_call=utterances_per_call, think_s=think_s,
                       duration_s=duration_s, stream=stream, server=self.server, workers=n_workers,
                       server_cpu_s=max(0.0, srv1 - srv0 - idle_cores * (w1 - w0)), machine_busy=busy)
        r["server_idle_cpu"], r["server_settled"] = round(idle_cores, 3), settled
        r["client"] = self.client
        return r


def _busy_share(a: Any, b: Any) -> float:
    """Share of all CPUs busy between two ``psutil.cpu_times()`` readings."""
    total = sum(b) - sum(a)
    idle = (b.idle - a.idle) + (getattr(b, "iowait", 0.0) - getattr(a, "iowait", 0.0))
    return round(1.0 - idle / total, 3) if total > 0 else 0.0


def _aggregate(parts: list[dict[str, Any]], *, calls: int, utterances_per_call: int, think_s: tuple[float, float],
               duration_s: float | None, stream: bool, server: str, workers: int, server_cpu_s: float,
               machine_busy: float) -> dict[str, Any]:
    def cat(key: str) -> list[Any]:
        return [x for p in parts for x in p[key]]

    def total(key: str) -> int:
        return sum(p[key] for p in parts)

    lat, server_ms = _pcts(cat("utt_ms")), _pcts(cat("server_ms"))
    from_due, lag, loop_lag = _pcts(cat("utt_due_ms")), _pcts(cat("lag_ms")), _pcts(cat("loop_lag_ms"))
    posted, answered = total("posted"), len(cat("utt_ms"))
    due_span = max(p["due_max"] for p in parts) - min(p["due_min"] for p in parts)
    done_span = max(p["last_done"] for p in parts) - min(p["first_send"] for p in parts)
    wall = max(p["wall_s"] for p in parts)
    worker_cpu = [p["cpu_s"] / p["wall_s"] if p["wall_s"] else 0.0 for p in parts]
    errors = total("errors")
    result: dict[str, Any] = {
        "calls": calls,
        "utterances": posted,
        "utterances_per_call": utterances_per_call,
        "duration_s": duration_s,
        "think_s": list(think_s),
        "nominal_rate": round(calls * 2.0 / (think_s[0] + think_s[1]), 1) if sum(think_s) else None,
        "offered_rate": round(total("n_due") / due_span, 1) if due_span > 0 else None,
        "achieved_rate": round(answered / done_span, 1) if done_span > 0 else None,
        "client_p50_ms": lat.get("p50"), "client_p95_ms": lat.get("p95"), "client_p99_ms": lat.get("p99"),
        "client_p99_from_due_ms": from_due.get("p99"),
        "server_p50_ms": server_ms.get("p50"), "server_p95_ms": server_ms.get("p95"),
        "server_p99_ms": server_ms.get("p99"),
        "errors": errors,
        "dropped": total("dropped"),
        "unsent": total("unsent"),
        "ws_dropped": total("ws_dropped"),
        "generator_cpu": round(sum(p["cpu_s"] for p in parts) / wall, 2) if wall else None,
        "generator_worker_cpu_max": round(max(worker_cpu), 2),
        "generator_loop_lag_p99_ms": loop_lag.get("p99"),
        "generator_bottleneck": max(worker_cpu) >= _BUSY_WORKER,
        # all the server's CPU (net of idle: calls' create/end, streams, refusals) per utterance it answered
        "server_cpu_ms_per_utt": round(1000.0 * server_cpu_s / answered, 2) if answered else None,
        "server_cpu_utilisation": round(server_cpu_s / wall, 2) if wall else None,
        "machine_cpu_busy": machine_busy,
        "workers": workers,
        "server": server,
        "stream": stream,
        "cpu_count": os.cpu_count(),
        "calls_run": total("calls_run"),
        "unchecked_calls": total("unchecked_calls"),
        "failed_calls": total("failed_calls"),
        "utterances_posted": posted,
        "utterances_accepted": total("accepted"),
        "error_samples": cat("error_samples")[:_SAMPLES],
        "mismatches": cat("mismatches")[:_SAMPLES],
        "ws_events": total("ws_events"),
        "ws_errors": total("ws_errors"),
        "ws_error_samples": cat("ws_error_samples")[:_SAMPLES],
        "utterance_ms": lat,
        "utterance_from_due_ms": from_due,
        "send_lag_ms": lag,
        "server_utterance_ms": server_ms,
        "generator_loop_lag_ms": loop_lag,
        "create_ms": _pcts(cat("create_ms")),
        "get_ms": _pcts(cat("get_ms")),
        "end_ms": _pcts(cat("end_ms")),
        "wall_s": round(wall, 3),
        "utterances_per_s": round(posted / wall, 1) if wall else None,
        "target_p99_ms": TARGET_P99_MS,
        "meets_target": bool(lat.get("p99") is not None and lat["p99"] <= TARGET_P99_MS and not errors
                             and not total("dropped") and not total("unsent")),
    }
    return result


@contextlib.contextmanager
def _session(settings: Settings, *, workers: int, server: str, headers: dict[str, str], seed: int,
             timeout_s: float, profile: str | Path | None, startup_timeout_s: float,
             client: str) -> Iterator[_Session]:
    kw = dict(server=server, headers=headers, timeout_s=timeout_s, seed=seed, client=_client_lib(client))
    generator = _Generator(workers)
    try:
        if server == "thread":
            from hotline.serve.app import create_app

            # the server shares this process with nothing busy: the generator is in its own processes
            app = ServerTimingMiddleware(create_app(bench_settings(settings, rate_limit=False)))
            with running_server(app, startup_timeout_s=startup_timeout_s) as base:
                sess = _Session(base, time.process_time, generator, **kw)
                sess.warm_up()
                yield sess
            return
        import psutil

        # one loopback address and key for every simulated desk: the per-key rate limit would be all we measure
        with server_process(settings, startup_timeout_s=startup_timeout_s, rate_limit=False) as srv:
            ps = psutil.Process(srv.pid)

            def server_cpu() -> float:
                t = ps.cpu_times()
                return t.user + t.system

            sess = _Session(srv.url, server_cpu, generator, **kw)
            sess.warm_up()
            with _py_spy_recording(srv.pid, profile):
                yield sess
    finally:
        generator.close()


@contextlib.contextmanager
def _py_spy_recording(pid: int, profile: str | Path | None) -> Iterator[None]:
    if profile is None:
        yield
        return
    fmt = "raw" if str(profile).endswith(".txt") else "flamegraph"
    spy = subprocess.Popen([_py_spy(), "record", "-p", str(pid), "-o", str(profile), "-r", "250", "--nonblocking",
                            "--threads", "--idle", "-f", fmt])
    time.sleep(1.0)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()


def _client_lib(client: str) -> str:
    """The client library the workers use: ``"auto"`` is aiohttp when installed, else httpx."""
    if client not in ("auto", "aiohttp", "httpx"):
        raise InvalidInputError(f"client must be 'auto', 'aiohttp' or 'httpx', got {client!r}")
    found = importlib.util.find_spec("aiohttp") is not None
    if client == "aiohttp" and not found:
        raise InvalidInputError("client='aiohttp' needs aiohttp: pip install 'hotline[bench]' (or use client='httpx')")
    return "httpx" if client == "httpx" or not found else "aiohttp"


def _check(*, calls: int, utterances_per_call: int, think_s: tuple[float, float], duration_s: float | None,
           server: str, profile: Any, workers: int | None, timeout_s: float) -> tuple[float, float]:
    if calls < 1 or utterances_per_call < 1:
        raise InvalidInputError(f"calls and utterances_per_call must be >= 1, got {calls} and {utterances_per_call}")
    if server not in ("process", "thread"):
        raise InvalidInputError(f"server must be 'process' or 'thread', got {server!r}")
    if profile is not None and server != "process":
        raise InvalidInputError("profile needs server='process' (py-spy attaches to the server process)")
    lo, hi = think_s
    if not 0 <= lo <= hi:
        raise InvalidInputError(f"think_s must be (min, max) with 0 <= min <= max, got {think_s!r}")
    if duration_s is not None and duration_s <= 0:
        raise InvalidInputError(f"duration_s must be > 0 (or None: one call per slot), got {duration_s}")
    if workers is not None and workers < 1:
        raise InvalidInputError(f"workers must be >= 1 (or None: one per {_CALLS_PER_WORKER} calls), got {workers}")
    if timeout_s <= 0:
        raise InvalidInputError(f"timeout_s must be > 0, got {timeout_s}")
    return lo, hi


def run_load(settings: Settings, *, calls: int = 50, utterances_per_call: int = 8,
             think_s: tuple[float, float] = (0.5, 1.5), duration_s: float | None = None, seed: int = 0,
             stream: bool = True, server: str = "process", workers: int | None = None,
             headers: dict[str, str] | None = None, timeout_s: float = 30.0, profile: str | Path | None = None,
             client: str = "auto", startup_timeout_s: float = 300.0) -> dict[str, Any]:
    """Run ``calls`` concurrent simulated calls against a fresh server on 127.0.0.1; returns the metrics.

    Args:
        settings: Where the built models live (``settings.home``) and the live-call limits.
        calls: Concurrent calls (call slots, all live at once).
        utterances_per_call: Turns per call (customer and agent, from :data:`CALL_SCRIPTS`).
        think_s: Uniform interval between a call's turns, in seconds (the schedule; the server does not stretch it).
        duration_s: Run call after call in every slot for this long; ``None``: one call per slot.
        seed: Seeds the schedules.
        stream: Each call also watches its WebSocket stream, as an open widget would.
        server: ``"process"`` (child uvicorn process; the realistic setting) or ``"thread"`` (in this process,
            which then only waits: the generator is in its own processes).
        workers: Client processes; ``None``: one per 100 calls, at most one per CPU.
        headers: Sent on every request and stream, e.g. ``{"Authorization": "Bearer KEY"}``.
        timeout_s: Per request.
        client: The workers' HTTP client: ``"aiohttp"`` (``pip install 'hotline[bench]'``; about a third of
            httpx's CPU per request), ``"httpx"``, or ``"auto"`` (aiohttp when installed).
        profile: With ``server="process"``, record the server with py-spy into this file: a flame graph SVG, or
            collapsed stacks when the name ends in ``.txt``. Idle (waiting) threads are included.

    Returns:
        ``{"calls", "utterances", "offered_rate", "achieved_rate", "client_p50_ms", "client_p95_ms",
        "client_p99_ms", "server_p50_ms", "server_p99_ms", "errors", "dropped", "generator_cpu",
        "server_cpu_ms_per_utt", …}`` (rates in utterances/s; ``generator_cpu`` in cores).
    """
    lo, hi = _check(calls=calls, utterances_per_call=utterances_per_call, think_s=think_s, duration_s=duration_s,
                    server=server, profile=profile, workers=workers, timeout_s=timeout_s)
    with _session(settings, workers=workers or _auto_workers(calls), server=server, headers=dict(headers or {}),
                  seed=seed, timeout_s=timeout_s, profile=profile, startup_timeout_s=startup_timeout_s,
                  client=client) as sess:
        return sess.measure(calls=calls, utterances_per_call=utterances_per_call, think_s=(lo, hi),
                            duration_s=duration_s, stream=stream)


_STEP_KEYS = ("calls", "utterances", "offered_rate", "achieved_rate", "client_p50_ms", "client_p95_ms",
              "client_p99_ms", "client_p99_from_due_ms", "server_p50_ms", "server_p99_ms", "errors", "dropped",
              "unsent", "ws_dropped", "generator_cpu", "generator_worker_cpu_max", "generator_loop_lag_p99_ms",
              "generator_bottleneck", "server_cpu_ms_per_utt", "server_cpu_utilisation", "server_idle_cpu", "server_settled",
              "machine_cpu_busy")


def run_ramp(settings: Settings, *, start_calls: int = 100, step_calls: int = 100, max_calls: int = 2000,
             p99_ms: float = CAPACITY_P99_MS, utterances_per_call: int = 12, duration_s: float = 20.0,
             think_s: tuple[float, float] = (0.5, 1.5), seed: int = 0, stream: bool = True, server: str = "process",
             workers: int | None = None, headers: dict[str, str] | None = None, timeout_s: float = 30.0,
             client: str = "auto", startup_timeout_s: float = 300.0) -> dict[str, Any]:
    """Step the concurrent calls (hence the offered rate) on one server until per-utterance p99 crosses ``p99_ms``.

    Steps ``start_calls``, ``start_calls + step_calls``, … up to ``max_calls``, each for ``duration_s``; stops at
    the first step whose client p99 exceeds ``p99_ms`` or that has errors or drops.

    Returns:
        ``{"steps": [per-step figures], "crossed", "crossing_rate", "crossing_calls", "last_within",
        "first_over", "stopped_by", "p99_ms", …}``. ``crossing_rate`` (utterances/s) interpolates the offered
        rate linearly in p99 between the last step within ``p99_ms`` and the first over it; ``None`` when p99
        never crossed, or crossed at the first step already (then ``first_over`` is the bound).
    """
    if start_calls < 1 or step_calls < 1 or max_calls < start_calls:
        raise InvalidInputError(f"ramp needs start_calls >= 1, step_calls >= 1 and max_calls >= start_calls, got "
                                f"{start_calls}, {step_calls} and {max_calls}")
    if p99_ms <= 0:
        raise InvalidInputError(f"p99_ms must be > 0, got {p99_ms}")
    lo, hi = _check(calls=start_calls, utterances_per_call=utterances_per_call, think_s=think_s,
                    duration_s=duration_s, server=server, profile=None, workers=workers, timeout_s=timeout_s)
    steps: list[dict[str, Any]] = []
    stopped_by = "max_calls"
    with _session(settings, workers=workers or _auto_workers(max_calls), server=server, headers=dict(headers or {}),
                  seed=seed, timeout_s=timeout_s, profile=None, startup_timeout_s=startup_timeout_s,
                  client=client) as sess:
        for calls in range(start_calls, max_calls + 1, step_calls):
            r = sess.measure(calls=calls, utterances_per_call=utterances_per_call, think_s=(lo, hi),
                             duration_s=duration_s, stream=stream)
            steps.append({k: r[k] for k in _STEP_KEYS} | {"error_samples": r["error_samples"][:2]})
            logger.info("ramp: %d calls, offered %s/s, p99 %s ms (server p99 %s ms), errors %d, dropped %d",
                        calls, r["offered_rate"], r["client_p99_ms"], r["server_p99_ms"], r["errors"], r["dropped"])
            if r["client_p99_ms"] is None or r["client_p99_ms"] > p99_ms:
                stopped_by = "p99"
                break
            if r["errors"] or r["dropped"] or r["ws_dropped"] or r["unsent"]:
                stopped_by = "errors" if r["errors"] else "unsent" if r["unsent"] else "dropped"
                break
    return {"mode": "ramp", "p99_ms": p99_ms, **_crossing(steps, p99_ms), "stopped_by": stopped_by,
            "steps": steps, "utterances_per_call": utterances_per_call, "duration_s": duration_s,
            "think_s": [lo, hi], "server": server, "stream": stream, "workers": len(sess.generator.procs),
            "client": sess.client,
            "cpu_count": os.cpu_count()}


def _crossing(steps: list[dict[str, Any]], p99_ms: float) -> dict[str, Any]:
    within = [s for s in steps if s["client_p99_ms"] is not None and s["client_p99_ms"] <= p99_ms]
    over = next((s for s in steps if s["client_p99_ms"] is None or s["client_p99_ms"] > p99_ms), None)
    last = within[-1] if within else None
    out: dict[str, Any] = {"crossed": over is not None, "crossing_rate": None, "crossing_calls": None,
                           "last_within": None if last is None else {k: last[k] for k in ("calls", "offered_rate",
                                                                                          "client_p99_ms")},
                           "first_over": None if over is None else {k: over[k] for k in ("calls", "offered_rate",
                                                                                         "client_p99_ms")}}
    if last is not None and over is not None and over["client_p99_ms"] is not None \
            and None not in (last["offered_rate"], over["offered_rate"]):
        f = (p99_ms - last["client_p99_ms"]) / (over["client_p99_ms"] - last["client_p99_ms"])
        out["crossing_rate"] = round(last["offered_rate"] + f * (over["offered_rate"] - last["offered_rate"]), 1)
        out["crossing_calls"] = round(last["calls"] + f * (over["calls"] - last["calls"]))
    return out


# -- text output -----------------------------------------------------------------------------------------------
def _render_extra(r: dict[str, Any]) -> str:
    """The open-loop, server-side and generator lines under :func:`render_load`'s table."""
    return "\n".join([
        f"offered {r['offered_rate']} utterances/s (nominal {r['nominal_rate']}), achieved {r['achieved_rate']}; "
        f"{r['workers']} client processes ({r['client']}), {r['calls_run']} calls run; {r['unsent']} turns unsent (their call did not "
        f"open, or the run's end + one timeout had passed), {r['unchecked_calls']} calls not checked for drops",
        f"utterance client p50/p95/p99 {r['client_p50_ms']} / {r['client_p95_ms']} / {r['client_p99_ms']} ms "
        f"(p99 from the due time {r['client_p99_from_due_ms']} ms); server-side p50/p99 {r['server_p50_ms']} / "
        f"{r['server_p99_ms']} ms",
        f"server CPU {r['server_cpu_ms_per_utt']} ms/utterance ({r['server_cpu_utilisation']} cores; net of "
        f"{r['server_idle_cpu']} cores idle); generator "
        f"{r['generator_cpu']} cores (busiest worker {r['generator_worker_cpu_max']} of a core, loop lag p99 "
        f"{r['generator_loop_lag_p99_ms']} ms){' — the GENERATOR may be the bottleneck' if r['generator_bottleneck'] else ''}; "
        f"machine {100 * r['machine_cpu_busy']:.0f}% busy",
    ])


def _render_ramp(r: dict[str, Any]) -> str:
    head = ("calls", "offered/s", "achieved/s", "p50 ms", "p99 ms", "srv p99", "err", "drop", "gen cores",
            "srv ms/utt", "busy")
    rows = [head] + [(str(s["calls"]), str(s["offered_rate"]), str(s["achieved_rate"]), str(s["client_p50_ms"]),
                      str(s["client_p99_ms"]), str(s["server_p99_ms"]), str(s["errors"]), str(s["dropped"]),
                      str(s["generator_cpu"]), str(s["server_cpu_ms_per_utt"]), f"{s['machine_cpu_busy']:.2f}")
                     for s in r["steps"]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    if r["crossing_rate"] is not None:
        verdict = (f"p99 crosses {r['p99_ms']:g} ms at about {r['crossing_rate']} utterances/s "
                   f"(~{r['crossing_calls']} calls)")
    elif r["crossed"]:
        verdict = f"p99 over {r['p99_ms']:g} ms already at the first step ({r['first_over']})"
    else:
        verdict = f"p99 stayed within {r['p99_ms']:g} ms up to {r['last_within']} (stopped by {r['stopped_by']})"
    return "\n".join([*lines, "", verdict])


def _py_spy() -> str:
    """The py-spy executable: on PATH or beside this interpreter (a virtualenv's bin/)."""
    import shutil

    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found is None:
        raise FileNotFoundError("py-spy is not installed; pip install py-spy (profiling needs ptrace rights)")
    return found


def _header(value: str) -> tuple[str, str]:
    name, sep, val = value.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"--header must be 'Name: value', got {value!r}")
    return name.strip(), val.strip()


def main(argv: list[str] | None = None) -> int:
    """CLI: print a table, then the result as one JSON line. Exit 1 on errors or drops (not in a ramp)."""
    ap = argparse.ArgumentParser(prog="python -m hotline.eval.benchmarks.load", description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, default=None, help="HOTLINE_HOME with built models (default: settings)")
    ap.add_argument("--calls", type=int, default=50, help="concurrent calls (call slots)")
    ap.add_argument("--utterances", type=int, default=8, help="utterances per call")
    ap.add_argument("--duration", type=float, default=None,
                    help="seconds: every slot runs call after call for this long (default: one call per slot)")
    ap.add_argument("--think-min", type=float, default=0.5, help="interval between a call's turns, s (uniform)")
    ap.add_argument("--think-max", type=float, default=1.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-stream", action="store_true", help="do not open a WebSocket per call")
    ap.add_argument("--server", choices=["process", "thread"], default="process")
    ap.add_argument("--workers", type=int, default=None,
                    help=f"client processes (default: one per {_CALLS_PER_WORKER} calls, at most one per CPU)")
    ap.add_argument("--header", type=_header, action="append", default=[],
                    help="'Name: value' sent on every request, e.g. 'Authorization: Bearer KEY' (repeatable)")
    ap.add_argument("--timeout", type=float, default=30.0, help="per request, s")
    ap.add_argument("--client", choices=["auto", "aiohttp", "httpx"], default="auto",
                    help="the workers' HTTP client (auto: aiohttp when installed, pip install 'hotline[bench]')")
    ap.add_argument("--profile", type=Path, default=None,
                    help="py-spy profile of the server: flame graph .svg, or collapsed stacks .txt")
    ap.add_argument("--ramp", action="store_true",
                    help="step the calls until per-utterance p99 crosses --p99-ms; report that rate")
    ap.add_argument("--ramp-start", type=int, default=100, help="calls in the ramp's first step")
    ap.add_argument("--ramp-step", type=int, default=100, help="calls added per step")
    ap.add_argument("--ramp-max", type=int, default=2000, help="most calls the ramp tries")
    ap.add_argument("--p99-ms", type=float, default=CAPACITY_P99_MS, help="the ramp's p99 line")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = Settings(home=args.home) if args.home else Settings()
    common = dict(think_s=(args.think_min, args.think_max), seed=args.seed, stream=not args.no_stream,
                  server=args.server, workers=args.workers, headers=dict(args.header), timeout_s=args.timeout,
                  client=args.client)
    if args.ramp:
        if args.profile is not None:
            ap.error("--profile is for a single load, not --ramp")
        logging.getLogger(__name__).setLevel(logging.INFO)
        r = run_ramp(settings, start_calls=args.ramp_start, step_calls=args.ramp_step, max_calls=args.ramp_max,
                     p99_ms=args.p99_ms, utterances_per_call=args.utterances, duration_s=args.duration or 20.0,
                     **common)
        sys.stdout.write(_render_ramp(r) + "\n")
        sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
        return 0
    r = run_load(settings, calls=args.calls, utterances_per_call=args.utterances, duration_s=args.duration,
                 profile=args.profile, **common)
    sys.stdout.write(render_load(r) + "\n" + _render_extra(r) + "\n")
    sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
    return 1 if (r["errors"] or r["dropped"] or r["ws_dropped"] or r["unsent"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
