"""Domain errors → HTTP errors (the only place that mapping lives), and the guards that keep every answer a 4xx
or a JSON 500 that does not close the connection.

- Domain errors (:mod:`hotline.core.errors`) become 404 / 409 / 422 / 503 with ``{"detail", "error"}``.
- Request bodies are read as strict JSON before FastAPI parses them (:class:`StrictJsonMiddleware`): ``NaN``,
  ``Infinity``, numbers too large for a float, lone UTF-16 surrogates (``"\\ud800"``), bytes that are not UTF-8,
  integers of thousands of digits and nesting past Python's recursion limit get a 422 that says what and
  where, instead of reaching the models or failing while the answer is written.
- 422 validation errors echo at most a short excerpt of the input (:data:`INPUT_EXCERPT` characters), with
  surrogates replaced, so rendering the error can never fail and a long text is not sent back whole.
- Anything else that escapes a route is logged with a reference and answered with a JSON 500 that echoes no
  input (:class:`CatchAllMiddleware`); the exception does not reach the server, so the keep-alive connection
  survives. The goal is that this never runs: the fuzz tests (``make fuzz``) allow no 5xx at all.
"""

from __future__ import annotations

import json
import logging
import math
import re
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hotline.core.errors import ArtifactError, ConflictError, InvalidInputError, NotFittedError, NotFoundError

__all__ = ["install_error_handlers", "StrictJsonMiddleware", "CatchAllMiddleware", "check_json_body", "safe_json",
           "INPUT_EXCERPT"]

logger = logging.getLogger(__name__)

_STATUS = {InvalidInputError: 422, NotFoundError: 404, ConflictError: 409, ArtifactError: 503, NotFittedError: 503}

INPUT_EXCERPT = 100
"""Most characters of the offending input a 422 echoes back."""
_MAX_MSG = 500
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# a \u escape of a surrogate half in JSON text: only then can a parsed string hold a lone surrogate
_SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def install_error_handlers(app: FastAPI) -> None:
    """Domain-error handlers, the 422 renderer and the two guard middlewares (strict JSON, catch-all)."""
    for exc_type, status in _STATUS.items():
        def handler(request: Request, exc: Exception, status: int = status) -> JSONResponse:
            return JSONResponse(status_code=status, content=safe_json({"detail": str(exc), "error": type(exc).__name__}))

        app.add_exception_handler(exc_type, handler)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # add_middleware puts each new one outside the last: the catch-all wraps the JSON guard
    app.add_middleware(StrictJsonMiddleware)
    app.add_middleware(CatchAllMiddleware)


# -- rendering ---------------------------------------------------------------------------------
def _clean_str(s: str, limit: int | None = None) -> str:
    s = _SURROGATE_RE.sub("\ufffd", s)
    return s if limit is None or len(s) <= limit else s[:limit] + "…"


def safe_json(value: Any, *, limit: int | None = None) -> Any:
    """``value`` made safe to write as strict JSON: lone surrogates → U+FFFD, NaN/±inf → their name as a string.

    Args:
        value: JSON-like data (dicts, lists, str, numbers, None).
        limit: Cut every string longer than this many characters (with "…").

    Example:
        >>> safe_json({"input": "宽带\\ud800", "x": float("nan")})
        {'input': '宽带\ufffd', 'x': 'nan'}
    """
    if isinstance(value, str):
        return _clean_str(value, limit)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {safe_json(str(k), limit=limit): safe_json(v, limit=limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [safe_json(v, limit=limit) for v in value]
    return value


def _excerpt(value: Any) -> Any:
    """The input of one validation error as echoed: short scalars as they are, anything longer cut to a string."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 10**INPUT_EXCERPT else _clean_str(str(value), INPUT_EXCERPT)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _clean_str(value, INPUT_EXCERPT)
    try:
        text = json.dumps(safe_json(jsonable_encoder(value)), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    if len(text) <= INPUT_EXCERPT:
        return safe_json(jsonable_encoder(value))
    return _clean_str(text, INPUT_EXCERPT)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 shape (``{"detail": [{"type", "loc", "msg", "input"}, …]}``), safe to render, inputs cut short."""
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        out: dict[str, Any] = {
            "type": _clean_str(str(err.get("type", "value_error")), 80),
            "loc": [p if isinstance(p, int) else _clean_str(str(p), 80) for p in err.get("loc", ())],
            "msg": _clean_str(str(err.get("msg", "")), _MAX_MSG),
        }
        if "input" in err:
            out["input"] = _excerpt(err["input"])
        if err.get("ctx"):
            out["ctx"] = safe_json(jsonable_encoder(err["ctx"], custom_encoder={Exception: str}), limit=_MAX_MSG)
        errors.append(out)
    return JSONResponse(status_code=422, content={"detail": errors})


def _json_422(msg: str, kind: str, loc: list[Any] | None = None) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": [{"type": kind, "loc": ["body", *(loc or [])], "msg": msg}]})


# -- strict JSON bodies ------------------------------------------------------------------------
class _BadJson(ValueError):
    """A JSON body Hotline refuses, with a message for the client."""

    def __init__(self, msg: str, kind: str = "json_invalid", loc: list[Any] | None = None) -> None:
        super().__init__(msg)
        self.kind = kind
        self.loc = loc or []


def _no_constant(name: str) -> Any:
    raise _BadJson(f"{name} is not valid JSON (RFC 8259 has no NaN or Infinity); send a finite number or null",
                   "json_invalid")


def _finite_float(s: str) -> float:
    f = float(s)
    if not math.isfinite(f):
        raise _BadJson(f"number {s[:40]} is too large for a float (it would be Infinity); send a finite number",
                       "json_invalid")
    return f


def _find_surrogate(doc: Any) -> tuple[list[Any], str, int] | None:
    """(location, the string, index) of the first lone surrogate in parsed JSON, else None. Iterative: no
    recursion limit to hit on deep documents."""
    stack: list[tuple[list[Any], Any]] = [([], doc)]
    while stack:
        loc, v = stack.pop()
        if isinstance(v, str):
            m = _SURROGATE_RE.search(v)
            if m:
                return loc, v, m.start()
        elif isinstance(v, dict):
            for k, item in v.items():
                m = _SURROGATE_RE.search(k)
                if m:
                    return loc, k, m.start()
                stack.append(([*loc, k], item))
        elif isinstance(v, list):
            stack.extend(([*loc, i], item) for i, item in enumerate(v))
    return None


def check_json_body(body: bytes) -> None:
    """Raise :class:`_BadJson` for a body FastAPI would parse but Hotline refuses; plain syntax errors are left
    to FastAPI (its own 422 ``json_invalid``)."""
    if not body:
        return
    encoding = json.detect_encoding(body)
    try:
        text = body.decode(encoding)  # strict: json.loads would let encoded surrogates through (surrogatepass)
    except UnicodeDecodeError as exc:
        raise _BadJson(f"the body is not valid {encoding.upper()} (byte {exc.start}: {exc.reason}); "
                       "send JSON encoded as UTF-8", "json_invalid", [exc.start]) from None
    try:
        doc = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except _BadJson:
        raise
    except json.JSONDecodeError:
        return  # FastAPI answers these itself, with the position
    except RecursionError:
        raise _BadJson("the JSON body is nested too deeply; send a flat request object", "json_invalid") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise _BadJson(f"the JSON body has a number Python refuses ({str(exc)[:120]}); send a number of normal size",
                       "json_invalid") from None
    if _SURROGATE_ESCAPE_RE.search(text):
        found = _find_surrogate(doc)
        if found is not None:
            loc, s, i = found
            raise _BadJson(
                f"string contains a lone UTF-16 surrogate U+{ord(s[i]):04X} at position {i} "
                f"({_clean_str(s[max(0, i - 10): i + 10])!r}): half of a surrogate pair, e.g. an emoji cut in two; "
                "send whole characters (valid Unicode)", "string_unicode", loc)


def _is_json(scope: Scope) -> bool:
    """Whether FastAPI would parse this request's body as JSON (no content type, or application/*json)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            ctype = value.split(b";", 1)[0].strip().lower()
            return ctype.startswith(b"application/") and (ctype == b"application/json" or ctype.endswith(b"+json"))
    return True


class StrictJsonMiddleware:
    """Refuse, with a 422, JSON bodies that Python's ``json`` accepts but that are not JSON or not Unicode.

    The body is read once here and handed on unchanged; requests without a body, other content types and
    WebSockets pass straight through.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _BODY_METHODS or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending the body: nobody to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            check_json_body(body)
        except _BadJson as exc:
            await _json_422(str(exc), exc.kind, exc.loc)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# -- the last resort ---------------------------------------------------------------------------
class CatchAllMiddleware:
    """Answer an unhandled exception with a JSON 500 (no input echoed) and keep the connection open.

    Starlette's own 500 handler re-raises to the server, and uvicorn then closes the connection, so the
    client's next request on it fails too. Here the exception is logged with a reference and not re-raised.
    When the response had already started nothing can be sent, so it is re-raised as before.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            ref = uuid.uuid4().hex[:12]
            route = getattr(scope.get("route"), "path", None) or "this route"
            logger.exception("unhandled error ref=%s on %s %s", ref, scope.get("method"), route)
            if started:
                raise
            response = JSONResponse(status_code=500, content={
                "detail": f"internal error while handling {scope.get('method')} {route} (ref {ref}); the server "
                          "logged it: retry, and report the ref if it happens again",
                "error": "InternalServerError", "ref": ref})
            await response(scope, receive, send)
