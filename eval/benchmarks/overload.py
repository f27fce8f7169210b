"""Overload benchmark: a 50 MB body and three times the sustainable request rate against a real uvicorn server.

``hotline bench overload [--json]`` starts the API (:func:`hotline.eval.benchmarks.server.server_process`, on a
free loopback port, its own temporary home linked to the built models) and measures what admission control
(:mod:`hotline.serve.limits`) promises:

1. **Big body**: a 50 MB ``POST /v1/classify``, once with ``Content-Length`` and once chunked: the time from the
   first byte sent to the status line (413 expected, in under a second), while ``/healthz`` is probed every
   50 ms on another connection (under 100 ms expected).
2. **Sustainable rate**: closed loop, ``--concurrency`` clients posting live utterances (or ``/v1/classify``) as
   fast as answers come, for ``--measure-s``: the 2xx throughput.
3. **Overload**: open loop at ``--factor`` (3) times that rate for ``--duration-s``: requests leave on schedule
   whatever the server does, latency counted from the scheduled time. Reported: the share refused with 429/503,
   p50/p99 of the accepted requests (target: p99 under 1 s), errors, and ``/healthz`` meanwhile.

The client is a small asyncio HTTP/1.1 client over keep-alive connections (cheaper per request than a full HTTP
library, so the load generator does not starve the server of the shared CPUs).

Example:
    >>> result = run_overload(Settings(), duration_s=5)  # doctest: +SKIP
    >>> result["overload"]["rejected_share"] > 0, result["overload"]["accepted_p99_ms"] < 1000  # doctest: +SKIP
    (True, True)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.settings import Settings
from hotline.eval.benchmarks.calls import CALL_SCRIPTS, script_turns

__all__ = ["run_overload", "main", "big_body", "TARGETS"]

logger = logging.getLogger(__name__)

TARGETS = {"big_body_response_s": 1.0, "healthz_ms": 100.0, "accepted_p99_ms": 1000.0}
_MB = 1 << 20
_PROBE_EVERY_S = 0.05


# -- a small keep-alive HTTP/1.1 client ---------------------------------------------------------------------
class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.open = reader, writer, True
        self.server_ms: float | None = None  # the last reply's Server-Timing app;dur (the benchmark server sends it)

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nAccept: application/json\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length, chunked = 0, False
        self.server_ms = None
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                self.open = False
            elif name == "server-timing" and "dur=" in value:
                self.server_ms = float(value.split("dur=", 1)[1].split(";")[0].split(",")[0])
        if chunked:
            data = b""
            while True:
                size = int((await self.reader.readline()).strip() or b"0", 16)
                data += await self.reader.readexactly(size + 2)
                if size == 0:
                    break
            return status, data
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.open = False
        self.writer.close()


class _Pool:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[_Conn] = []
        self.opened = 0

    async def request(self, method: str, path: str, body: bytes | None = None,
                      timings: list[float] | None = None) -> int:
        reused = bool(self.idle)
        conn = self.idle.pop() if reused else await self._connect()
        try:
            status, _ = await conn.request(method, path, body)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            conn.close()
            if not reused:
                raise
            # the server closed this idle keep-alive connection (HOTLINE_KEEP_ALIVE_S): once more on a new one
            conn = await self._connect()
            status, _ = await conn.request(method, path, body)
        if timings is not None and conn.server_ms is not None and 200 <= status < 300:
            timings.append(conn.server_ms)
        if conn.open:
            self.idle.append(conn)
        else:
            conn.close()
        return status

    async def _connect(self) -> _Conn:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.opened += 1
        return _Conn(reader, writer)

    def close(self) -> None:
        for c in self.idle:
            c.close()
        self.idle.clear()


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 2)


async def _probe_healthz(pool: _Pool, stop: asyncio.Event, out: list[float]) -> None:
    """GET /healthz every 50 ms on its own connection; latencies in ms."""
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            status = await asyncio.wait_for(pool.request("GET", "/healthz"), timeout=10)
            if status == 200:
                out.append((time.perf_counter() - t0) * 1000)
        except (OSError, asyncio.TimeoutError, ConnectionError):
            out.append(10_000.0)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=_PROBE_EVERY_S)


# -- 1. a 50 MB body ----------------------------------------------------------------------------------------
def big_body(host: str, port: int, *, size: int = 50 * _MB, chunked: bool = False) -> dict[str, Any]:
    """Send a ``size``-byte JSON body to ``POST /v1/classify`` from a thread; read the reply meanwhile.

    Returns the status, the seconds from the first byte sent to the status line, and how much of the body
    went out before the server answered.
    """
    sock = socket.create_connection((host, port), timeout=30)
    head = "POST /v1/classify HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {size}\r\n"
    sent = {"bytes": 0}
    block = b'{"texts": ["' + "宽".encode() * 21_000 + b'"]}'  # ~64 KB of plausible JSON, repeated

    def pump() -> None:
        try:
            sock.sendall(head.encode() + b"\r\n")
            while sent["bytes"] < size:
                piece = block[: size - sent["bytes"]]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent["bytes"] += len(piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:  # the server answered and closed: the rest is not wanted
            pass

    t0 = time.perf_counter()
    writer = threading.Thread(target=pump, daemon=True)
    writer.start()
    status_line = b""
    try:
        buf = b""
        while b"\r\n" not in buf:
            data = sock.recv(4096)
            if not data:
                break
            buf += data
        status_line = buf.split(b"\r\n", 1)[0]
    except OSError as e:
        status_line = f"error {e!r}".encode()
    took = time.perf_counter() - t0
    sock.close()
    writer.join(timeout=30)
    parts = status_line.split()
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return {"status": status, "response_s": round(took, 4), "body_bytes": size,
            "sent_before_answer_bytes": sent["bytes"], "chunked": chunked}


async def _big_body_with_probe(host: str, port: int, size: int) -> dict[str, Any]:
    pool, stop, lat = _Pool(host, port), asyncio.Event(), []
    probe = asyncio.create_task(_probe_healthz(pool, stop, lat))
    await asyncio.sleep(0.3)  # a few probes before, for the baseline
    out = {}
    for chunked in (False, True):
        out["chunked" if chunked else "content_length"] = await asyncio.to_thread(big_body, host, port, size=size,
                                                                                    chunked=chunked)
    await asyncio.sleep(0.3)
    stop.set()
    await probe
    pool.close()
    out["healthz_ms"] = {"n": len(lat), "p50": _pct(lat, 0.5), "max": round(max(lat), 2) if lat else None}
    return out


# -- 2 and 3. sustainable rate, then three times it ---------------------------------------------------------
class _Work:
    """The request mix: live utterances round-robin over ``calls`` open calls, or single-text classify."""

    def __init__(self, target: str, calls: int) -> None:
        self.target, self.n_calls, self.i = target, calls, 0
        lines = [t for s in CALL_SCRIPTS for _, t in script_turns(s, 12)]
        self.bodies = [json.dumps({"speaker": "customer", "text": t}, ensure_ascii=False).encode() for t in lines]
        self.classify = [json.dumps({"texts": [t]}, ensure_ascii=False).encode() for t in lines]
        self.run_id = f"ov{int(time.time())}"

    async def setup(self, pool: _Pool) -> None:
        if self.target != "utterance":
            return
        for k in range(self.n_calls):
            body = json.dumps({"call_id": f"{self.run_id}-{k}", "region": "杭州市西湖区"}).encode()
            status = await pool.request("POST", "/v1/calls", body)
            if status != 201:
                raise ArtifactError(f"could not open benchmark call {k}: HTTP {status}")

    def next(self) -> tuple[str, bytes]:
        self.i += 1
        if self.target == "classify":
            return "/v1/classify", self.classify[self.i % len(self.classify)]
        call = f"{self.run_id}-{self.i % self.n_calls}"
        return f"/v1/calls/{call}/utterances", self.bodies[self.i % len(self.bodies)]


async def _closed_loop(pool: _Pool, work: _Work, *, concurrency: int, seconds: float) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            path, body = work.next()
            status = await pool.request("POST", path, body)
            if 200 <= status < 300:
                done += 1
            elif status in (429, 503):  # refused: a client backs off a little, it does not spin
                await asyncio.sleep(0.02)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return done / (time.perf_counter() - t0)


async def _open_loop(pool: _Pool, work: _Work, *, rate: float, seconds: float,
                     max_outstanding: int = 2000) -> dict[str, Any]:
    results: list[tuple[int | None, float]] = []
    server_ms: list[float] = []
    tasks: set[asyncio.Task] = set()
    skipped = 0

    async def one(path: str, body: bytes, scheduled: float) -> None:
        try:
            status: int | None = await asyncio.wait_for(pool.request("POST", path, body, server_ms), timeout=30)
        except (OSError, asyncio.TimeoutError, ConnectionError):
            status = None
        results.append((status, time.perf_counter() - scheduled))

    t0 = time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(tasks) >= max_outstanding:  # the client itself would become the bottleneck
            skipped += 1
            continue
        path, body = work.next()
        task = asyncio.create_task(one(path, body, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks)
    accepted = [lat * 1000 for s, lat in results if s is not None and 200 <= s < 300]
    by_status: dict[str, int] = {}
    for s, _ in results:
        by_status[str(s)] = by_status.get(str(s), 0) + 1
    refused = by_status.get("429", 0) + by_status.get("503", 0)
    return {"offered_rps": round(rate, 1), "duration_s": seconds, "sent": len(results), "skipped_by_client": skipped,
            "accepted": len(accepted), "by_status": by_status, "rejected_share": round(refused / max(1, len(results)), 3),
            "errors": by_status.get("None", 0), "accepted_p50_ms": _pct(accepted, 0.5),
            "accepted_p99_ms": _pct(accepted, 0.99), "accepted_server_p50_ms": _pct(server_ms, 0.5),
            "accepted_server_p99_ms": _pct(server_ms, 0.99), "connections": pool.opened}


async def _rates(host: str, port: int, *, target: str, calls: int, concurrency: int, measure_s: float,
                 factor: float, duration_s: float) -> dict[str, Any]:
    pool = _Pool(host, port)
    work = _Work(target, calls)
    await work.setup(pool)
    await _closed_loop(pool, work, concurrency=concurrency, seconds=min(2.0, measure_s))  # warm-up
    sustainable = await _closed_loop(pool, work, concurrency=concurrency, seconds=measure_s)
    if sustainable <= 0:
        raise ArtifactError("no request succeeded while measuring the sustainable rate; see the server log")
    probe_pool, stop, lat = _Pool(host, port), asyncio.Event(), []
    probe = asyncio.create_task(_probe_healthz(probe_pool, stop, lat))
    over = await _open_loop(pool, work, rate=factor * sustainable, seconds=duration_s)
    stop.set()
    await probe
    pool.close()
    probe_pool.close()
    over.update({"healthz_p50_ms": _pct(lat, 0.5), "healthz_max_ms": round(max(lat), 2) if lat else None})
    return {"sustainable_rps": round(sustainable, 1), "factor": factor, "target": target, "overload": over}


# -- the run ------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _linked_home(settings: Settings) -> Iterator[Settings]:
    """A temporary home whose ``classifier`` and ``index`` link to ``settings``' builds (so the server's store,
    feedback and logs stay out of the real home)."""
    for d in (settings.classifier_dir, settings.index_dir):
        if not d.is_dir():
            raise ArtifactError(f"no built model at {d}; run `hotline build` first (or pass --home)")
    with tempfile.TemporaryDirectory(prefix="hotline-overload-") as tmp:
        home = Path(tmp)
        (home / "classifier").symlink_to(settings.classifier_dir.resolve(), target_is_directory=True)
        (home / "index").symlink_to(settings.index_dir.resolve(), target_is_directory=True)
        yield settings.model_copy(update={"home": home, "feedback_db": None, "database_url": None})


def run_overload(settings: Settings, *, target: str = "utterance", calls: int = 50, concurrency: int = 8,
                 measure_s: float = 5.0, factor: float = 3.0, duration_s: float = 10.0,
                 body_mb: int = 50) -> dict[str, Any]:
    """Start a server and run the three measurements; returns the figures and the verdicts against :data:`TARGETS`.

    Raises:
        InvalidInputError: a bad option (named, with its value).
        ArtifactError: no built model under ``settings.home``, or the server did not start.
    """
    from hotline.eval.benchmarks.server import server_process

    if target not in ("utterance", "classify"):
        raise InvalidInputError(f"target must be 'utterance' or 'classify', got {target!r}")
    for name, value in (("calls", calls), ("concurrency", concurrency), ("measure_s", measure_s),
                        ("factor", factor), ("duration_s", duration_s), ("body_mb", body_mb)):
        if value <= 0:
            raise InvalidInputError(f"{name} must be > 0, got {value}")
    # closed loop within the server's in-flight bound: the sustainable rate is what it serves, not what it refuses
    concurrency = min(concurrency, settings.max_in_flight)
    with _linked_home(settings) as s, server_process(s, log_level="warning") as server:
        host, port = server.url.removeprefix("http://").split(":")
        big = asyncio.run(_big_body_with_probe(host, int(port), body_mb * _MB))
        rates = asyncio.run(_rates(host, int(port), target=target, calls=calls, concurrency=concurrency,
                                   measure_s=measure_s, factor=factor, duration_s=duration_s))
    over = rates["overload"]
    verdicts = {
        "big_body_413_fast": all(big[k]["status"] == 413 and big[k]["response_s"] < TARGETS["big_body_response_s"]
                                 for k in ("content_length", "chunked")),
        "healthz_fast_during_big_body": (big["healthz_ms"]["max"] or 1e9) < TARGETS["healthz_ms"],
        "some_refused_at_overload": over["rejected_share"] > 0,
        "accepted_p99_under_1s": (over["accepted_p99_ms"] or 1e9) < TARGETS["accepted_p99_ms"],
        "no_errors": over["errors"] == 0,
    }
    return {"big_body": big, **rates, "verdicts": verdicts, "ok": all(verdicts.values()),
            "settings": {"max_in_flight": settings.max_in_flight, "max_body_bytes": settings.max_body_bytes}}


def _table(r: dict[str, Any]) -> str:
    big, over = r["big_body"], r["overload"]
    rows = [
        f"50 MB body, Content-Length: HTTP {big['content_length']['status']} after "
        f"{big['content_length']['response_s'] * 1000:.0f} ms",
        f"50 MB body, chunked:        HTTP {big['chunked']['status']} after {big['chunked']['response_s'] * 1000:.0f} ms",
        f"/healthz meanwhile:         p50 {big['healthz_ms']['p50']} ms, max {big['healthz_ms']['max']} ms "
        f"({big['healthz_ms']['n']} probes)",
        f"sustainable rate ({r['target']}): {r['sustainable_rps']} req/s",
        f"offered {over['offered_rps']} req/s for {over['duration_s']} s: {over['sent']} sent, "
        f"{over['accepted']} accepted, refused share {over['rejected_share']:.1%}, statuses {over['by_status']}",
        f"accepted latency:           p50 {over['accepted_p50_ms']} ms, p99 {over['accepted_p99_ms']} ms "
        f"(inside the server: p50 {over['accepted_server_p50_ms']} ms, p99 {over['accepted_server_p99_ms']} ms)",
        f"/healthz under overload:    p50 {over['healthz_p50_ms']} ms, max {over['healthz_max_ms']} ms",
        "verdicts: " + ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in r["verdicts"].items()),
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """CLI: a table on stderr, the result as one JSON line on stdout; exit 1 when a target is missed."""
    ap = argparse.ArgumentParser(prog="hotline bench overload", description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, default=None, help="HOTLINE_HOME with built models (default: settings)")
    ap.add_argument("--target", choices=["utterance", "classify"], default="utterance")
    ap.add_argument("--calls", type=int, default=50, help="live calls the utterances go to")
    ap.add_argument("--concurrency", type=int, default=8, help="closed-loop clients for the sustainable rate")
    ap.add_argument("--measure-s", type=float, default=5.0)
    ap.add_argument("--factor", type=float, default=3.0, help="overload = factor × sustainable rate")
    ap.add_argument("--duration-s", type=float, default=10.0)
    ap.add_argument("--body-mb", type=int, default=50)
    args = ap.parse_args(argv)
    settings = Settings(home=args.home) if args.home else Settings()
    result = run_overload(settings, target=args.target, calls=args.calls, concurrency=args.concurrency,
                          measure_s=args.measure_s, factor=args.factor, duration_s=args.duration_s,
                          body_mb=args.body_mb)
    sys.stderr.write(_table(result) + "\n")
    sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
