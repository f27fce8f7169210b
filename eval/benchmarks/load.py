"""Load benchmark for live calls: many concurrent simulated calls against a real uvicorn server.

Each simulated call opens with ``POST /v1/calls``, optionally watches its WebSocket stream (as the agent's
widget would), posts customer and agent utterances from realistic call scripts with a little think time
between them, reads the final state and ends the call. Measured: per-utterance latency (client side, the
whole HTTP round trip) p50/p95/p99, errors, and whether anything was dropped: every utterance that was
accepted must appear, in order, in the call's final ``turns`` (and in the last state pushed on the stream).

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
import contextlib
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from itertools import zip_longest
from pathlib import Path
from typing import Any

import numpy as np

from hotline.core.mask import masked_text
from hotline.core.settings import Settings

__all__ = ["run_load", "main", "running_server", "CALL_SCRIPTS", "TARGET_P99_MS"]

logger = logging.getLogger(__name__)

TARGET_P99_MS = 50.0
_REPO_ROOT = Path(__file__).resolve().parent.parent

# Realistic inbound calls (customer "c", agent "a"). Phone numbers and ID digits are fake.
# Each script has at least 10 turns; longer runs cycle through the script's closing turns.
CALL_SCRIPTS: list[dict[str, Any]] = [
    {"region": "杭州市西湖区", "turns": [
        ("a", "您好，很高兴为您服务，请问有什么可以帮您？"),
        ("c", "喂你好，我家宽带从昨天晚上开始就上不了网了"),
        ("a", "好的，请问光猫上的指示灯现在是什么状态？"),
        ("c", "光猫上那个LOS灯一直在闪红灯"),
        ("a", "明白，请问您重启过光猫吗？"),
        ("c", "重启了好几次了，还是不行，手机连WiFi也没网"),
        ("a", "请问您的联系电话是多少？"),
        ("c", "我电话是13812345678"),
        ("c", "地址是西湖区文三路90号东部软件园3幢1201"),
        ("a", "好的，我这边帮您登记报障，师傅会在24小时内联系您"),
        ("c", "嗯好的，尽快啊，我在家办公等着用网"),
        ("a", "理解您的心情，还有其他可以帮您的吗？"),
    ]},
    {"region": "广州市天河区", "turns": [
        ("a", "您好，请问有什么可以帮您？"),
        ("c", "我这个月话费怎么扣了两百多，平时才五十几块"),
        ("a", "请您稍等，我帮您查一下账单明细"),
        ("c", "我也没打什么长途，也没开什么业务啊"),
        ("a", "查到您本月有一笔视频会员包月费用二十元，还有流量超出费用"),
        ("c", "这个会员我从来没订过，是谁给我开的"),
        ("a", "系统显示是上个月十五号通过短信订购的"),
        ("c", "我根本没回过什么短信，你们这是乱扣费"),
        ("a", "非常抱歉，我先帮您退订，并提交退费申请"),
        ("c", "那多扣的钱什么时候能退回来"),
        ("a", "退费会在三到五个工作日内返还到您的话费账户"),
        ("c", "行吧，退不回来我还要再打电话的"),
    ]},
    {"region": "成都市武侯区", "turns": [
        ("a", "您好，很高兴为您服务"),
        ("c", "我手机这两天上网特别慢，刷个视频一直转圈"),
        ("a", "请问您是在什么位置使用，室内还是室外？"),
        ("c", "在家里和公司都慢，信号显示4G满格"),
        ("a", "请问您本月的流量还有剩余吗？"),
        ("c", "套餐里还有十几个G呢，应该没用完"),
        ("a", "好的，我查一下您是否触发了限速"),
        ("c", "之前都好好的，就是这周突然变慢的"),
        ("a", "您的号码没有限速，可能是附近基站在调整"),
        ("c", "那要多久能好，我工作要用手机热点"),
        ("a", "我帮您提交网络优化工单，两个工作日内回复您"),
        ("c", "好的，我的联系电话就是本机"),
    ]},
    {"region": "北京市朝阳区", "turns": [
        ("a", "您好，请问有什么可以帮您？"),
        ("c", "我打电话老是说着说着就断了，特别烦人"),
        ("a", "请问是在固定的地方掉线，还是哪里都会掉？"),
        ("c", "在我们小区里面最明显，出了小区好一点"),
        ("a", "请问您住在哪个小区？"),
        ("c", "朝阳区望京西园三区，412号楼"),
        ("a", "好的，请问最近一次掉线大概是什么时候？"),
        ("c", "今天上午十点多，跟客户打电话断了三次"),
        ("a", "我这边帮您登记，会安排网络优化人员测试"),
        ("c", "再不修好我就去工信部投诉你们"),
        ("a", "非常理解您的心情，我们一定尽快处理"),
        ("c", "行，我等你们电话"),
    ]},
    {"region": "上海市浦东新区", "turns": [
        ("a", "您好，请问有什么可以帮您？"),
        ("c", "我上周约了装宽带，说好周六上门，结果到现在都没人来"),
        ("a", "非常抱歉，请问您的装机地址是哪里？"),
        ("c", "浦东新区张江路500弄12号602"),
        ("a", "请问您的联系电话是多少？"),
        ("c", "一三九零零一二三四五六"),
        ("a", "我查到您的工单还在派单中，我帮您催一下"),
        ("c", "每次都说催一下，到底什么时候能装好"),
        ("a", "我会加急处理，装维师傅今天会联系您预约时间"),
        ("c", "那我明天下午在家，让他明天下午来"),
        ("a", "好的，已经备注明天下午上门"),
        ("c", "好，谢谢"),
    ]},
    {"region": "深圳市南山区", "turns": [
        ("a", "您好，请问有什么可以帮您？"),
        ("c", "我在日本出差，手机一直没信号，打不了电话也上不了网"),
        ("a", "请问您出发前开通国际漫游了吗？"),
        ("c", "开了啊，出发前在营业厅办的"),
        ("a", "请问您手机的数据漫游开关打开了吗？"),
        ("c", "打开了，网络也选了自动，还是显示无服务"),
        ("a", "请您尝试手动选择当地的运营商网络"),
        ("c", "试过了，选了也注册不上"),
        ("a", "我帮您查一下漫游状态，并重新下发一下漫游数据"),
        ("c", "我现在在东京，明天还要跟客户联系，很着急"),
        ("a", "已经帮您重新下发，请您重启手机试一下"),
        ("c", "好的我试试"),
    ]},
    {"region": "武汉市洪山区", "turns": [
        ("a", "您好，请问有什么可以帮您？"),
        ("c", "我家的电视盒子打开一直黑屏，显示网络连接失败"),
        ("a", "请问您家里的宽带上网正常吗？"),
        ("c", "宽带上网是好的，手机连WiFi没问题"),
        ("a", "请问机顶盒的网线是接在光猫的哪个口上？"),
        ("c", "接在光猫的ITV口上，一直没动过"),
        ("a", "请您把机顶盒断电重启一下试试"),
        ("c", "重启过好几次了，还是提示错误代码1302"),
        ("a", "我帮您报障，师傅会上门检查机顶盒"),
        ("c", "我的电话是15900001111，地址洪山区珞喻路1037号"),
        ("a", "好的，已经为您登记"),
        ("c", "麻烦快点，老人在家要看电视"),
    ]},
    {"region": "南京市鼓楼区", "turns": [
        ("a", "您好，请问有什么可以帮您？"),
        ("c", "我想问一下我现在的套餐每个月有多少流量"),
        ("a", "请问是本机号码吗？我帮您查询"),
        ("c", "对，就是这个号码"),
        ("a", "您现在的套餐每月包含三十G国内流量和三百分钟通话"),
        ("c", "那有没有流量更多一点的套餐"),
        ("a", "有一个一百二十九元的套餐，包含六十G流量"),
        ("c", "换套餐是下个月生效吗"),
        ("a", "是的，套餐变更次月生效"),
        ("c", "好的我考虑一下再说吧"),
        ("a", "好的，还有其他可以帮您的吗？"),
        ("c", "没有了，谢谢"),
    ]},
]


# -- the server ---------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(app: Any, *, host: str = "127.0.0.1", port: int | None = None,
                   startup_timeout_s: float = 300.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields the base URL, stops it on exit.

    The lifespan runs (models load) before this yields. Example::

        with running_server(create_app(settings)) as url:
            httpx.get(f"{url}/readyz")
    """
    import uvicorn

    port = port or _free_port()
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", ws="websockets-sansio", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"uvicorn on {host}:{port} exited during startup; see the log above")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"uvicorn on {host}:{port} did not start within {startup_timeout_s:.0f}s")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextlib.contextmanager
def _server_process(settings: Settings, *, startup_timeout_s: float = 300.0) -> Iterator[tuple[str, int]]:
    """Serve ``create_app(Settings())`` in a child process configured through ``HOTLINE_*`` variables.

    A separate process keeps the load generator off the server's GIL, as in production.
    """
    import httpx

    port = _free_port()
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"HOTLINE_{name.upper()}"] = str(value)
    env["PYTHONPATH"] = os.pathsep.join([str(_REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmd = [sys.executable, "-m", "uvicorn", "hotline.serve.app:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--ws", "websockets-sansio"]
    proc = subprocess.Popen(cmd, cwd=str(_REPO_ROOT), env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with code {proc.returncode} during startup: {' '.join(cmd)}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server was not ready within {startup_timeout_s:.0f}s: {' '.join(cmd)}")
            time.sleep(0.25)
        yield base, proc.pid
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- the simulated calls ------------------------------------------------------------------------
def _script_turns(script: dict[str, Any], n: int) -> list[tuple[str, str]]:
    """``n`` (speaker, text) turns; longer runs repeat the script's second half."""
    turns = [("customer" if s == "c" else "agent", t) for s, t in script["turns"]]
    out = turns[:n]
    tail = turns[len(turns) // 2:]
    while len(out) < n:
        out.extend(tail[: n - len(out)])
    return out


def _expected_text(text: str) -> str:
    """What the server stores for a turn: normalised, PII masked."""
    return masked_text(text.strip())


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
    for speaker, text in _script_turns(script, n_utt):
        await asyncio.sleep(rng.uniform(*think))
        out["posted"] += 1
        state = await request("utterance", "POST", f"/v1/calls/{call_id}/utterances",
                              json={"speaker": speaker, "text": text})
        if state is not None:
            expected.append((speaker, _expected_text(text)))
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
        raise ValueError(f"calls and utterances_per_call must be >= 1, got {calls} and {utterances_per_call}")
    if server not in ("process", "thread"):
        raise ValueError(f"server must be 'process' or 'thread', got {server!r}")
    if profile is not None and server != "process":
        raise ValueError("profile needs server='process' (py-spy attaches to the server process)")
    lo, hi = think_s
    if not 0 <= lo <= hi:
        raise ValueError(f"think_s must be (min, max) with 0 <= min <= max, got {think_s!r}")

    kw = dict(calls=calls, utterances_per_call=utterances_per_call, think=(lo, hi), seed=seed, stream=stream)
    cpu: dict[str, float] = {}
    if server == "thread":
        from hotline.serve.app import create_app

        with running_server(create_app(settings), startup_timeout_s=startup_timeout_s) as base:
            raw = asyncio.run(_drive(base, **kw))
    else:
        import psutil

        with _server_process(settings, startup_timeout_s=startup_timeout_s) as (base, pid):
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


def _table(r: dict[str, Any]) -> str:
    rows = [("requests", "n", "p50 ms", "p95 ms", "p99 ms", "max ms")]
    for key in ("utterance_ms", "create_ms", "get_ms", "end_ms"):
        p = r[key]
        if p.get("n"):
            rows.append((key[:-3], str(p["n"]), f"{p['p50']:.1f}", f"{p['p95']:.1f}", f"{p['p99']:.1f}", f"{p['max']:.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths, strict=True))) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    verdict = "meets" if r["meets_target"] else "MISSES"
    lines += [
        "",
        f"{r['calls']} concurrent calls x {r['utterances_per_call']} utterances, think {r['think_s'][0]}-{r['think_s'][1]} s, "
        f"server={r['server']}, stream={r['stream']}, {r['cpu_count']} CPUs",
        f"posted {r['utterances_posted']}, accepted {r['utterances_accepted']}, errors {r['errors']}, "
        f"dropped {r['dropped']}, stream dropped {r['ws_dropped']} (stream errors {r['ws_errors']})",
        f"throughput {r['utterances_per_s']} utterances/s over {r['wall_s']} s"
        + (f"; server CPU {r['server_cpu_ms_per_utterance']} ms/utterance, utilisation {r['server_cpu_utilisation']} cores, "
           f"load generator {r['client_cpu_utilisation']} cores"
           if "server_cpu_ms_per_utterance" in r else ""),
        f"utterance p99 {r['utterance_ms'].get('p99')} ms: {verdict} the {r['target_p99_ms']:.0f} ms target",
    ]
    return "\n".join(lines)


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
    print(_table(r))
    print(json.dumps(r, ensure_ascii=False))
    return 1 if (r["errors"] or r["dropped"] or r["ws_dropped"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
