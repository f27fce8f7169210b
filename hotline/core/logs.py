"""Logs: JSON lines with a request id, and never raw caller input — not in messages, arguments or tracebacks.

* :data:`request_id_var` holds the id of the request being served; :class:`RequestIdMiddleware` (pure ASGI,
  no web framework needed) sets it from a well-formed ``X-Request-ID`` or a fresh one, returns it as
  ``X-Request-ID`` and writes one access line per request. Worker threads see it too (anyio copies the context).
* :class:`RedactFilter` cuts long values, then masks PII (:func:`hotline.core.mask.masked_text`) in the
  message, its arguments, extra fields, the exception text and stack info; it runs on the handler, so records
  from every logger (uvicorn's included) pass through it.
* :func:`configure_logging` installs one handler on the root logger with both filters and, by default, the JSON
  formatter of ``python-json-logger``; :func:`logging_config` is the same as a ``dictConfig`` dict, for
  uvicorn's ``log_config`` (each worker process applies it).

Example:
    >>> import io, json, logging
    >>> buf = io.StringIO()
    >>> configure_logging("INFO", stream=buf)
    >>> logging.getLogger("demo").info("caller said %s", "我的电话是13812345678")
    >>> json.loads(buf.getvalue())["message"]
    'caller said 我的电话是138****5678'
"""

from __future__ import annotations

import logging
import re
import sys
import time
import traceback
import uuid
from contextvars import ContextVar
from typing import IO, Any

__all__ = ["request_id_var", "RequestIdFilter", "RedactFilter", "RequestIdMiddleware", "configure_logging",
           "logging_config", "redact"]

request_id_var: ContextVar[str] = ContextVar("hotline_request_id", default="-")

_ID_OK = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_MAX_MESSAGE = 2000
_MAX_VALUE = 300
_MAX_LINE = 400
_MAX_TRACE = 8000
# the attributes every LogRecord has; anything else on a record came in through ``extra=``
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}
_HANDLER_MARK = "_hotline_handler"
_access = logging.getLogger("hotline.access")


_SLACK = 64  # characters kept past a cut until masking is done: a number cut in two would not be recognised


def _mask_lines(text: str) -> str:
    from hotline.core.mask import masked_text

    out = []
    for line in text.split("\n"):
        body = line.lstrip(" ")
        out.append(line[: len(line) - len(body)] + masked_text(body) if body.strip() else line)
    return "\n".join(out)


def redact(text: str, *, limit: int = _MAX_MESSAGE) -> str:
    """``text`` PII-masked line by line (indentation kept) and cut to ``limit`` characters.

    Only the first ``limit`` characters (plus a little, so no number is cut before it is masked) are masked,
    so a huge value costs no more than a short one.
    """
    if len(text) <= limit:
        return _mask_lines(text)
    masked = _mask_lines(text[: limit + _SLACK])
    return f"{masked[:limit]}…(+{len(text) - limit} chars)"


def _redact_block(text: str) -> str:
    """A traceback: each line cut to :data:`_MAX_LINE`, the whole kept to its last :data:`_MAX_TRACE` characters
    (the exception and the innermost frames are at the end), masked."""
    lines = [redact(line, limit=_MAX_LINE) for line in text.split("\n")]
    block = "\n".join(lines)
    if len(block) > _MAX_TRACE:
        block = f"…({len(block) - _MAX_TRACE} chars cut)\n" + block[-_MAX_TRACE:]
    return block


def _short_arg(value: Any) -> Any:
    if isinstance(value, (str, bytes, bytearray)):
        s = value if isinstance(value, str) else bytes(value).decode("utf-8", "replace")
        return s[: _MAX_VALUE + _SLACK] + "…" if len(s) > _MAX_VALUE + _SLACK else s  # masked and cut after
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    try:
        text = str(value)  # containers and objects are formatted once, and cut (masked after)
        return text[: _MAX_VALUE + _SLACK] + "…" if len(text) > _MAX_VALUE + _SLACK else text
    except Exception:
        return f"<{type(value).__name__}>"


class RequestIdFilter(logging.Filter):
    """Puts the current request id (``-`` outside a request) on every record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class RedactFilter(logging.Filter):
    """Cuts long values and masks PII in everything a record carries; the record leaves with no raw input.

    After it, ``record.msg`` is the final message, ``record.args`` is empty and an exception is kept only as its
    masked text (``record.exc_text``), which every formatter prints.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if record.args:
                args = record.args
                if isinstance(args, dict):
                    record.args = {k: _short_arg(v) for k, v in args.items()}
                else:
                    record.args = tuple(_short_arg(a) for a in args)
            msg = record.getMessage()
        except Exception:  # a bad format string: keep what we can, still masked
            msg = f"{_short_arg(record.msg)} {_short_arg(record.args)}"
        record.msg = redact(msg if isinstance(msg, str) else str(msg))
        record.args = ()
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = _redact_block("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = _redact_block(record.exc_text)
        if record.stack_info:
            record.stack_info = _redact_block(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value, limit=_MAX_VALUE))
        return True


def _json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                         rename_fields={"asctime": "time", "levelname": "level", "name": "logger",
                                        "exc_info": "exception"},
                         json_ensure_ascii=False)


def configure_logging(level: str | int = "INFO", *, json: bool = True, stream: IO[str] | None = None) -> None:
    """One root handler (replacing the one an earlier call installed) with the request-id and redaction filters.

    Args:
        level: Root log level, e.g. ``"INFO"``.
        json: JSON lines (``time``, ``level``, ``logger``, ``message``, ``request_id``, extra fields); else text.
        stream: Where lines go (default ``sys.stderr``).
    """
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactFilter())
    handler.setFormatter(_json_formatter() if json else text_formatter())
    root.addHandler(handler)
    root.setLevel(level)


def text_formatter() -> logging.Formatter:
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")


def logging_config(level: str = "INFO", *, json: bool = True) -> dict[str, Any]:
    """:func:`configure_logging` as a :func:`logging.config.dictConfig` dict (uvicorn's ``log_config``).

    uvicorn's own loggers lose their handlers and propagate to the root one, so their lines are JSON and
    redacted too. Run uvicorn with ``access_log=False``: :class:`RequestIdMiddleware` writes the access lines.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}, "redact": {"()": f"{__name__}.RedactFilter"}},
        "formatters": {"main": {"()": f"{__name__}.{'_json_formatter' if json else 'text_formatter'}"}},
        "handlers": {"main": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "main",
                              "filters": ["request_id", "redact"]}},
        "root": {"handlers": ["main"], "level": level},
        "loggers": {name: {"handlers": [], "propagate": True}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }


class RequestIdMiddleware:
    """Pure ASGI: a request id per HTTP request or WebSocket, in :data:`request_id_var` and ``X-Request-ID``.

    A client's ``X-Request-ID`` is kept when it is 1–64 of ``[A-Za-z0-9._:-]`` (so it can be traced through);
    otherwise a new one is made. Each HTTP request ends with one ``hotline.access`` line: method, path, status
    and duration, as extra fields too.

    Args:
        app: The ASGI app to wrap.
        access_log: Write the access line (turn uvicorn's own off: it knows no request id).
    """

    def __init__(self, app: Any, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", []) if k == b"x-request-id"), b"").decode("latin-1")
        rid = given if _ID_OK.fullmatch(given) else uuid.uuid4().hex
        token = request_id_var.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        status = 500

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)
        finally:
            if self.access_log and scope["type"] == "http":
                ms = (time.perf_counter() - t0) * 1000
                _access.info("%s %s %d %.1fms", scope.get("method"), scope.get("path"), status, ms,
                             extra={"method": scope.get("method"), "path": scope.get("path"), "status": status,
                                    "duration_ms": round(ms, 2)})
            request_id_var.reset(token)
