"""The benchmark server: Hotline's API under uvicorn on a free loopback port, for the speed and load benchmarks.

:func:`server_process` starts ``uvicorn hotline.serve.app:create_app --factory`` in a child process, configured
only through ``HOTLINE_*`` environment variables (the way an operator runs it), waits until ``/readyz`` answers
200 and stops the server on exit. The child finds ``hotline`` the way any installed package is found, so it
works from any directory: no ``PYTHONPATH`` or working-directory tricks. A separate process keeps the load
generator off the server's GIL, as in production.

The launched app is wrapped in :class:`ServerTimingMiddleware` (``create_timed_app``), which tells the client how
long the server spent on each request in a ``Server-Timing: app;dur=<ms>`` header (unless the app already sends
one), so a benchmark can put server-side time beside its own round trip. The benchmark server runs with
authentication off unless asked, and the load benchmark also turns the per-key rate limit off
(:func:`bench_settings`); a client with a key sends its own ``Authorization`` header.

:func:`running_server` serves an app object in a thread of this process instead: quicker to start, for tests.

Example:
    >>> with server_process(Settings(home="/tmp/hl")) as server:  # doctest: +SKIP
    ...     httpx.post(f"{server.url}/v1/assist", json={"texts": ["宽带连不上"]})
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.settings import Settings

__all__ = ["BenchServer", "ServerTimingMiddleware", "bench_settings", "create_timed_app", "server_process",
           "running_server", "server_env"]

logger = logging.getLogger(__name__)

_HOST = "127.0.0.1"
_APP = "hotline.serve.app:create_app"
_TIMED_APP = "hotline.eval.benchmarks.server:create_timed_app"
_SERVER_TIMING = b"server-timing"


@dataclass
class BenchServer:
    """A started server process: its base URL, process id and seconds until ``/readyz`` answered 200."""

    url: str
    pid: int
    startup_s: float
    _log: IO[str] | None = None

    def log_tail(self, chars: int = 2000) -> str:
        """The last ``chars`` characters the server process wrote (stdout and stderr)."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read()[-chars:]


class ServerTimingMiddleware:
    """Pure ASGI middleware: ``Server-Timing: app;dur=<ms>`` on every HTTP response, time from request to headers.

    The time covers routing, validation, the endpoint (including its wait for a threadpool worker) and rendering
    the body; not the time the request waited in the socket or the event loop before the app saw it. A response
    that already has a ``Server-Timing`` header keeps it unchanged. WebSocket and lifespan pass through.

    Example:
        >>> app = ServerTimingMiddleware(create_app(settings))  # doctest: +SKIP
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()

        async def send_timed(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == _SERVER_TIMING for k, _ in headers):
                    dur = (time.perf_counter() - t0) * 1000.0
                    headers.append((_SERVER_TIMING, f"app;dur={dur:.3f}".encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_timed)


def create_timed_app() -> Any:
    """``create_app(Settings())`` under :class:`ServerTimingMiddleware`: the app :func:`server_process` launches."""
    from hotline.serve.app import create_app

    return ServerTimingMiddleware(create_app(Settings()))


def bench_settings(settings: Settings, *, auth: bool = False, rate_limit: bool = True,
                   host: str = _HOST) -> Settings:
    """``settings`` for a benchmark server on loopback ``host``.

    Authentication is off unless ``auth`` (the server refuses that off loopback). ``rate_limit=False`` turns the
    per-key rate limit off, for a load benchmark: its simulated desks all come from one loopback address under one
    key, so a per-key limit would measure the limiter, not the server. Settings this version lacks are left alone.
    """
    fields = type(settings).model_fields
    update: dict[str, Any] = {"host": host}
    if not auth and "auth_enabled" in fields:
        update["auth_enabled"] = False
    if not rate_limit and "rate_limit" in fields:
        update["rate_limit"] = ""  # empty: no limit
    return settings.model_copy(update=update)


def _free_port(host: str = _HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def server_env(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default ``os.environ``) with every setting as a ``HOTLINE_*`` variable.

    A setting that is ``None`` removes an inherited variable of that name, so the child sees ``settings``
    and nothing else.
    """
    env = dict(os.environ if base is None else base)
    for name, value in settings.model_dump().items():
        key = f"HOTLINE_{name.upper()}"
        if value is None:
            env.pop(key, None)
        elif isinstance(value, (list, dict)):
            env[key] = json.dumps(value, ensure_ascii=False)  # pydantic-settings reads complex values as JSON
        else:
            env[key] = str(value)
    return env


def _stop(proc: subprocess.Popen, timeout_s: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown: the lifespan's exit hooks run
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def server_process(settings: Settings, *, startup_timeout_s: float = 300.0, log_level: str = "warning",
                   auth: bool = False, rate_limit: bool = True,
                   server_timing: bool = True) -> Iterator[BenchServer]:
    """Serve ``create_app(Settings())`` in a child uvicorn process; yields a :class:`BenchServer` once ready.

    Args:
        settings: Passed to the child as ``HOTLINE_*`` variables (where the built models live, limits).
        startup_timeout_s: How long to wait for ``/readyz`` (the lifespan loads and warms the models).
        log_level: uvicorn's log level; the child's output goes to a temporary file, never to this process's
            stdout (the benchmarks' last stdout line is their JSON result), see :meth:`BenchServer.log_tail`.
        auth: Keep ``settings``' authentication; by default the loopback server runs with
            ``HOTLINE_AUTH_ENABLED=false`` (a client with a key sends its own ``Authorization`` header).
        rate_limit: Keep ``settings``' per-key rate limit; ``False`` turns it off (see :func:`bench_settings`).
        server_timing: Serve :func:`create_timed_app` (a ``Server-Timing`` header on every response) rather than
            the bare ``create_app``.

    Raises:
        ArtifactError: when the server exits during startup or is not ready within ``startup_timeout_s``;
            the message ends with the server's own output.
    """
    import httpx

    if startup_timeout_s <= 0:
        raise InvalidInputError(f"startup_timeout_s must be > 0, got {startup_timeout_s}")
    port = _free_port()
    cmd = [sys.executable, "-m", "uvicorn", _TIMED_APP if server_timing else _APP, "--factory", "--host", _HOST,
           "--port", str(port), "--log-level", log_level, "--no-access-log", "--ws", "websockets-sansio"]
    url = f"http://{_HOST}:{port}"
    env = server_env(bench_settings(settings, auth=auth, rate_limit=rate_limit).model_copy(update={"port": port}))
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        server = BenchServer(url=url, pid=proc.pid, startup_s=0.0, _log=log)
        try:
            t0 = time.perf_counter()
            while True:
                if proc.poll() is not None:
                    raise ArtifactError(f"the benchmark server exited with code {proc.returncode} during startup "
                                        f"({' '.join(cmd)}); its output:\n{server.log_tail()}")
                try:
                    if httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.perf_counter() - t0 > startup_timeout_s:
                    raise ArtifactError(f"the benchmark server was not ready within {startup_timeout_s:.0f} s "
                                        f"({' '.join(cmd)}); its output:\n{server.log_tail()}")
                time.sleep(0.25)
            server.startup_s = time.perf_counter() - t0
            logger.info("benchmark server ready at %s after %.1f s (pid %d)", url, server.startup_s, proc.pid)
            yield server
        finally:
            _stop(proc)
            tail = server.log_tail()
            if tail.strip():
                logger.debug("benchmark server output:\n%s", tail)


@contextlib.contextmanager
def running_server(app: Any, *, host: str = _HOST, port: int | None = None,
                   startup_timeout_s: float = 300.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields the base URL, stops it on exit.

    The lifespan runs (models load) before this yields. Example::

        with running_server(create_app(settings)) as url:
            httpx.get(f"{url}/readyz")
    """
    import uvicorn

    port = port or _free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", ws="websockets-sansio", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive():
            raise ArtifactError(f"uvicorn on {host}:{port} exited during startup; see the log above")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise ArtifactError(f"uvicorn on {host}:{port} did not start within {startup_timeout_s:.0f} s")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
