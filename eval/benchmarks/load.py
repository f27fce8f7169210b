"""Load benchmark for live calls: many concurrent simulated calls against a real uvicorn server.

Each simulated call opens with ``POST /v1/calls``, optionally watches its WebSocket stream (as the agent's
widget would), posts customer and agent utterances from realistic call scripts
(:data:`hotline.eval.benchmarks.calls.CALL_SCRIPTS`) with a little think time between them, reads the final state
and ends the call. Measured: per-utterance latency (client side, the whole HTTP round trip) p50/p95/p99, errors,
and whether anything was dropped: every utterance that was accepted must appear, in order, in the call's final
``turns`` (and in the last state pushed on the stream). The server is
:func:`hotline.eval.benchmarks.server.server_process` (or :func:`~hotline.eval.benchmarks.server.running_server`
in this process).

Usage (CLI)::

    python -m hotline.eval.benchmarks.load --home ~/.hotline --calls 50 --utterances 8

Example:
    >>> result = run_load(Settings(home="/tmp/hl"), calls=5, utterances_per_call=3)  # doctest: +SKIP
    >>> result["dropped"], result["errors"]  # doctest: +SKIP
    (0, 0)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from itertools import zip_longest
from pathlib import Path
from typing import Any

import numpy as np

from hotline.core.errors import InvalidInputError
from hotline.core.settings import Settings
from hotline.eval.benchmarks.calls import CALL_SCRIPTS, expected_text, script_turns
from hotline.eval.benchmarks.render import render_load
from hotline.eval.benchmarks.server import running_server, server_process
from hotline.eval.benchmarks.targets import TARGET_P99_MS

__all__ = ["run_load", "main", "TARGET_P99_MS"]

logger = logging.getLogger(__name__)


# -- the simulated calls ------------------------------------------------------------------------
async def _watch(ws_url: str, sink: dict[str, Any]) -> None:
    """Read a call's stream until the server closes it; keep the last state pushed."""
    from websockets.asyncio.client import connect

    try:
        async with connect(ws_url, open_timeout=30, close_timeout=5, max_size=None) as ws:
            sink["opened"].set()
            async for raw in ws:
                msg = json.loads(raw)
                sink["events"] += 1
                if msg.get("type") == "state":
                    sink["last_state"] = msg["data"]
    except Exception as e:  # a broken stream is a finding, not a crash of the benchmark
        sink["error"] = f"{type(e).__name__}: {e}"
    finally:
        sink["opened"].set()


async def _one_call(client: Any, base: str, i: int, run_id: str, n_utt: int, think: tuple[float, float],
                    rng: random.Random, stream: bool, out: dict[str, Any]) -> None:
    script = CALL_SCRIPTS[i % len(CALL_SCRIPTS)]
    call_id = f"load-{run_id}-{i:04d}"
    errors = out["errors"]

    async def request(kind: str, method: str, path: str, **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            r = await client.request(method, f"{base}{path}", **kw)
        except Exception as e:
            errors.append(f"{kind} {call_id}: {type(e).__name__}: {e}")
            return None
        finally:
            out[f"{kind}_ms"].append((time.perf_counter() - t0) * 1000.0)
        if r.status_code >= 400:
            errors.append(f"{kind} {call_id}: HTTP {r.status_code} {r.text[:200]}")
            return None
        return r.json()

    await asyncio.sleep(rng.uniform(0, think[1]))  # calls do not all ring in the same millisecond
    if await request("create", "POST", "/v1/calls", json={"call_id": call_id, "region": script["region"]}) is None:
        out["failed_calls"] += 1
        return
    sink: dict[str, Any] = {"events": 0, "last_state": None, "error": None, "opened": asyncio.Event()}
    watcher = None
    if stream:
        ws_url = base.replace("http://", "ws://", 1) + f"/v1/calls/{call_id}/stream"
        watcher = asyncio.create_task(_watch(ws_url, sink))
        await sink["opened"].wait()
    expected: list[tuple[str, str]] = []
    for speaker, text in script_turns(script, n_utt):
        await asyncio.sleep(rng.uniform(*think))
        out["posted"] += 1
        state = await request("utterance", "POST", f"/v1/calls/{call_id}/utterances",
                              json={"speaker": speaker, "text": text})
        if state is not None:
            expected.append((speaker, expected_text(text)))
    final = await request("get", "GET", f"/v1/calls/{call_id}")
    ended = await request("end", "POST", f"/v1/calls/{call_id}/end")
    if watcher is not None:
        try:
            await asyncio.wait_for(watcher, timeout=30)
        except asyncio.TimeoutError:
            watcher.cancel()
            sink["error"] = sink["error"] or "stream not closed 30 s after the call ended"
    out["accepted"] += len(expected)
    for name, st in (("final", final), ("ended", ended and ended.get("state"))):
        if st is None:
            continue
        got = [(t["speaker"], t["text"]) for t in st.get("turns", [])]
        missing = sum(1 for e, g in zip_longest(expected, got) if e != g)
        if missing:
            out["dropped"] += missing if name == "final" else 0
            out["mismatches"].append({"call_id": call_id, "where": name, "expected": len(expected),
                                      "got": len(got), "differ": missing})
    if stream:
        out["ws_events"] += sink["events"]
        if sink["error"]:
            out["ws_errors"].append(f"{call_id}: {sink['error']}")
        last = sink["last_state"]
        got = [(t["speaker"], t["text"]) for t in (last or {}).get("turns", [])]
        if got != expected:
            out["ws_dropped"] += sum(1 for e, g in zip_longest(expected, got) if e != g)


async def _drive(base: str, *, calls: int, utterances_per_call: int, think: tuple[float, float], seed: int,
                 stream: bool) -> dict[str, Any]:
    import httpx

    out: dict[str, Any] = {
        "errors": [], "failed_calls": 0, "posted": 0, "accepted": 0, "dropped": 0, "mismatches": [],
        "ws_events": 0, "ws_errors": [], "ws_dropped": 0,
        "create_ms": [], "utterance_ms": [], "get_ms": [], "end_ms": [],
    }
    run_id = f"{int(time.time()) % 100000:05d}{random.Random(seed).randrange(1000):03d}"
    limits = httpx.Limits(max_connections=calls + 8, max_keepalive_connections=calls + 8)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60.0)) as client:
        # warm-up (lazy imports, first-call caches) outside the measurement
        warm: dict[str, Any] = {k: ([] if isinstance(v, list) else 0) for k, v in out.items()}
        await _one_call(client, base, 0, run_id + "w", 3, (0.0, 0.0), random.Random(seed), False, warm)
        if warm["errors"]:
            raise RuntimeError(f"warm-up call failed: {warm['errors'][:3]}")
        t0 = time.perf_counter()
        await asyncio.gather(*[
            _one_call(client, base, i, run_id, utterances_per_call, think, random.Random(seed * 1000 + i), stream, out)
            for i in range(calls)
        ])
        out["wall_s"] = time.perf_counter() - t0
    return out


def _pcts(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {"n": 0}
    a = np.asarray(xs)
    return {"n": int(a.size), "p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2),
            "p99": round(float(np.percentile(a, 99)), 2), "max": round(float(a.max()), 2),
            "mean": round(float(a.mean()), 2)}


def run_load(settings: Settings, *, calls: int = 50, utterances_per_call: int = 8,
             think_s: tuple[float, float] = (1.0, 3.0), seed: int = 0, stream: bool = True,
             server: str = "process", profile: str | Path | None = None,
             startup_timeout_s: float = 300.0) -> dict[str, Any]:
    """Run ``calls`` concurrent simulated calls against a fresh server on 127.0.0.1; returns the metrics.

    Args:
        settings: Where the built models live (``settings.home``) and the live-call limits.
        calls: Concurrent calls (all live at once).
        utterances_per_call: Turns posted per call (customer and agent, from :data:`CALL_SCRIPTS`).
        think_s: Uniform pause before each utterance, in seconds.
        seed: Seeds the think times.
        stream: Each call also watches its WebSocket stream, as an open widget would.
        server: ``"process"`` (child uvicorn process; the realistic setting) or ``"thread"`` (in this
            process; quicker to start, but the load generator then shares the server's GIL).
        profile: With ``server="process"``, record the server with py-spy into this file: a flame graph SVG, or
            collapsed stacks when the name ends in ``.txt``. Idle (waiting) threads are included.

    Returns:
        ``{"utterance_ms": {"p50", "p95", "p99", "max", "mean", "n"}, "errors", "dropped", "ws_dropped", …}``.
    """
    if calls < 1 or utterances_per_call < 1:
        raise InvalidInputError(f"calls and utterances_per_call must be >= 1, got {calls} and {utterances_per_call}")
    if server not in ("process", "thread"):
        raise InvalidInputError(f"server must be 'process' or 'thread', got {server!r}")
    if profile is not None and server != "process":
        raise InvalidInputError("profile needs server='process' (py-spy attaches to the server process)")
    lo, hi = think_s
    if not 0 <= lo <= hi:
        raise InvalidInputError(f"think_s must be (min, max) with 0 <= min <= max, got {think_s!r}")

    kw = dict(calls=calls, utterances_per_call=utterances_per_call, think=(lo, hi), seed=seed, stream=stream)
    cpu: dict[str, float] = {}
    if server == "thread":
        from hotline.serve.app import create_app

        with running_server(create_app(settings), startup_timeout_s=startup_timeout_s) as base:
            raw = asyncio.run(_drive(base, **kw))
    else:
        import psutil

        with server_process(settings, startup_timeout_s=startup_timeout_s) as srv:
            base, pid = srv.url, srv.pid
            ps = psutil.Process(pid)
            spy = None
            if profile is not None:
                fmt = "raw" if str(profile).endswith(".txt") else "flamegraph"
                spy = subprocess.Popen([_py_spy(), "record", "-p", str(pid), "-o", str(profile), "-r", "250",
                                        "--nonblocking", "--threads", "--idle", "-f", fmt])
                time.sleep(1.0)
            t, c = ps.cpu_times(), time.process_time()
            raw = asyncio.run(_drive(base, **kw))
            t2, c2 = ps.cpu_times(), time.process_time()
            cpu["server_cpu_s"] = round((t2.user + t2.system) - (t.user + t.system), 3)
            # the load generator itself: near 1.0 means the client, not the server, limits the numbers
            cpu["client_cpu_utilisation"] = round((c2 - c) / raw["wall_s"], 2) if raw["wall_s"] else None
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                try:
                    spy.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    spy.kill()

    lat = _pcts(raw["utterance_ms"])
    result: dict[str, Any] = {
        "calls": calls,
        "utterances_per_call": utterances_per_call,
        "think_s": [lo, hi],
        "server": server,
        "stream": stream,
        "cpu_count": os.cpu_count(),
        "utterances_posted": raw["posted"],
        "utterances_accepted": raw["accepted"],
        "errors": len(raw["errors"]),
        "error_samples": raw["errors"][:5],
        "failed_calls": raw["failed_calls"],
        "dropped": raw["dropped"],
        "mismatches": raw["mismatches"][:5],
        "ws_events": raw["ws_events"],
        "ws_errors": len(raw["ws_errors"]),
        "ws_error_samples": raw["ws_errors"][:5],
        "ws_dropped": raw["ws_dropped"],
        "utterance_ms": lat,
        "create_ms": _pcts(raw["create_ms"]),
        "get_ms": _pcts(raw["get_ms"]),
        "end_ms": _pcts(raw["end_ms"]),
        "wall_s": round(raw["wall_s"], 3),
        "utterances_per_s": round(raw["posted"] / raw["wall_s"], 1) if raw["wall_s"] else None,
        "target_p99_ms": TARGET_P99_MS,
        "meets_target": bool(lat.get("p99") is not None and lat["p99"] <= TARGET_P99_MS),
        **cpu,
    }
    if "server_cpu_s" in cpu and raw["posted"]:
        result["server_cpu_ms_per_utterance"] = round(1000.0 * cpu["server_cpu_s"] / raw["posted"], 2)
        result["server_cpu_utilisation"] = round(cpu["server_cpu_s"] / raw["wall_s"], 2)
    return result


def _py_spy() -> str:
    """The py-spy executable: on PATH or beside this interpreter (a virtualenv's bin/)."""
    import shutil

    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found is None:
        raise FileNotFoundError("py-spy is not installed; pip install py-spy (profiling needs ptrace rights)")
    return found


def main(argv: list[str] | None = None) -> int:
    """CLI: print a table, then the result as one JSON line. Exit 1 on errors or dropped utterances."""
    ap = argparse.ArgumentParser(prog="python -m hotline.eval.benchmarks.load", description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, default=None, help="HOTLINE_HOME with built models (default: settings)")
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--utterances", type=int, default=8, help="utterances per call")
    ap.add_argument("--think-min", type=float, default=1.0,
                    help="pause before each utterance; callers speak a turn every few seconds")
    ap.add_argument("--think-max", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-stream", action="store_true", help="do not open a WebSocket per call")
    ap.add_argument("--server", choices=["process", "thread"], default="process")
    ap.add_argument("--profile", type=Path, default=None, help="py-spy profile of the server: flame graph .svg, or collapsed stacks .txt")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = Settings(home=args.home) if args.home else Settings()
    r = run_load(settings, calls=args.calls, utterances_per_call=args.utterances,
                 think_s=(args.think_min, args.think_max), seed=args.seed, stream=not args.no_stream,
                 server=args.server, profile=args.profile)
    sys.stdout.write(render_load(r) + "\n")
    sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
    return 1 if (r["errors"] or r["dropped"] or r["ws_dropped"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
