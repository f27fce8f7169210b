"""API keys and roles at the door: one ASGI middleware checks every HTTP request and WebSocket before any
body is read, against one permission table (:data:`POLICY`).

- ``Authorization: Bearer KEY`` on HTTP; on a WebSocket the same header, or (browsers cannot set headers
  there) the subprotocol pair ``["hotline", "bearer.KEY"]``.
- No or unknown key → 401; a key whose role is too low → 403; both JSON ``{"detail", "error"}``.
- A WebSocket must also come from the server's own origin or one in ``HOTLINE_ALLOWED_ORIGINS``.
- Every ``/v1`` route needs an entry in :data:`POLICY`; ``create_app`` refuses to start otherwise, so a new
  route cannot ship unprotected by accident.
- Supervisor and admin actions (any request that needs those roles, and any write by such a key) are
  written to the audit log after the response: who, what, status, when.

With ``HOTLINE_AUTH_ENABLED=false`` (refused unless the server binds to loopback) every request acts as
the built-in ``auth-off`` admin principal.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from datetime import datetime, timezone
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, HTTPException, Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from hotline.core.errors import InvalidInputError
from hotline.core.settings import Settings
from hotline.store.audit import AuditLog
from hotline.store.keys import MISS as _MISS
from hotline.store.keys import ApiKey, KeyStore, Role

__all__ = ["POLICY", "AuthMiddleware", "PrincipalDep", "check_auth_settings", "install_auth", "AUTH_OFF",
           "WS_PROTOCOL"]

logger = logging.getLogger(__name__)

WS_PROTOCOL = "hotline"  # the subprotocol the server accepts; the client offers it beside "bearer.<key>"

AUTH_OFF = ApiKey(id="auth-off", role=Role.ADMIN, name="auth-off", prefix="", created_at=datetime.now(timezone.utc))

# (method, path template) → the least role allowed. Method "WS" is a WebSocket. Anything not under /v1 is
# public (health, metrics, widget assets, docs); under /v1 every route must be listed.
POLICY: dict[tuple[str, str], Role] = {
    ("GET", "/v1/taxonomy"): Role.AGENT,
    ("POST", "/v1/classify"): Role.AGENT,
    ("POST", "/v1/search"): Role.AGENT,
    ("POST", "/v1/assist"): Role.AGENT,
    # calls: agents see and write their own calls only (checked in the router), supervisors all
    ("POST", "/v1/calls"): Role.AGENT,
    ("GET", "/v1/calls"): Role.AGENT,
    ("GET", "/v1/calls/{call_id}"): Role.AGENT,
    ("GET", "/v1/calls/{call_id}/transcript"): Role.AGENT,
    ("POST", "/v1/calls/{call_id}/utterances"): Role.AGENT,
    ("POST", "/v1/calls/{call_id}/end"): Role.AGENT,
    ("WS", "/v1/calls/{call_id}/stream"): Role.AGENT,
    ("GET", "/v1/ended-calls"): Role.SUPERVISOR,
    ("GET", "/v1/ended-calls/{call_id}"): Role.SUPERVISOR,
    # agents read the notices they quote; only supervisors publish or withdraw them
    ("GET", "/v1/notices"): Role.AGENT,
    ("POST", "/v1/notices"): Role.SUPERVISOR,
    ("DELETE", "/v1/notices/{notice_id}"): Role.SUPERVISOR,
    ("GET", "/v1/incidents"): Role.SUPERVISOR,
    ("GET", "/v1/incidents/{incident_id}"): Role.SUPERVISOR,
    ("POST", "/v1/feedback"): Role.AGENT,
    ("GET", "/v1/feedback"): Role.SUPERVISOR,
    ("POST", "/v1/admin/reload"): Role.ADMIN,
    ("GET", "/v1/keys"): Role.ADMIN,
    ("POST", "/v1/keys"): Role.ADMIN,
    ("DELETE", "/v1/keys/{key_id}"): Role.ADMIN,
    ("GET", "/v1/audit"): Role.ADMIN,
    ("GET", "/v1/whoami"): Role.AGENT,
    # the knowledge base's lifecycle (serve/routers/kb.py): supervisors review, publish and roll back
    ("GET", "/v1/kb/entries"): Role.SUPERVISOR,
    ("POST", "/v1/kb/entries"): Role.SUPERVISOR,
    ("GET", "/v1/kb/entries/{kind}/{entry_id}"): Role.SUPERVISOR,
    ("PUT", "/v1/kb/entries/{kind}/{entry_id}"): Role.SUPERVISOR,
    ("POST", "/v1/kb/entries/{kind}/{entry_id}/submit"): Role.SUPERVISOR,
    ("POST", "/v1/kb/entries/{kind}/{entry_id}/approve"): Role.SUPERVISOR,
    ("POST", "/v1/kb/entries/{kind}/{entry_id}/reject"): Role.SUPERVISOR,
    ("POST", "/v1/kb/entries/{kind}/{entry_id}/retire"): Role.SUPERVISOR,
    ("POST", "/v1/kb/publish"): Role.SUPERVISOR,
    ("POST", "/v1/kb/rollback"): Role.SUPERVISOR,
    ("GET", "/v1/kb/releases"): Role.SUPERVISOR,
}


def check_auth_settings(settings: Settings) -> None:
    """Refuse ``auth_enabled=False`` unless the server binds to a loopback address."""
    if settings.auth_enabled:
        return
    if not _is_loopback(settings.host):
        raise InvalidInputError(
            f"HOTLINE_AUTH_ENABLED=false is only allowed on a loopback address, but HOTLINE_HOST={settings.host!r}. "
            f"Keep authentication on (create keys with `hotline keys create --role agent`) or bind to 127.0.0.1.")


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def get_principal(request: Request) -> ApiKey:
    principal = request.scope.get("state", {}).get("principal")
    if principal is None:  # a route outside POLICY asked for it: a programming error, fail closed
        raise HTTPException(status_code=401, detail="authentication required")
    return principal


PrincipalDep = Annotated[ApiKey, Depends(get_principal)]


class AuthMiddleware:
    """Pure ASGI: decides before the app runs, so a rejected request's body is never read."""

    def __init__(self, app: ASGIApp, *, fastapi_app: FastAPI, settings: Settings) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.settings = settings
        self._templates: dict[int, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not scope["path"].startswith("/v1"):
            await self.app(scope, receive, send)
            return
        is_ws = scope["type"] == "websocket"
        method = "WS" if is_ws else scope["method"]
        template = self._template(scope)
        # an unknown /v1 path, or a known one with another method, still needs a key (the router then
        # answers 404/405): nothing about the API is revealed to a caller without one
        needed = POLICY.get((method, template)) or _least_role(template) or Role.AGENT
        if is_ws and not self._origin_ok(scope):
            await _ws_reject(scope, receive, send, 403, "this WebSocket's Origin is not allowed; add it to "
                             "HOTLINE_ALLOWED_ORIGINS")
            return
        principal, offered_protocol = await self._authenticate(scope)
        if principal is None:
            msg = ("missing or unknown API key: send `Authorization: Bearer KEY` (WebSocket: subprotocols "
                   "['hotline', 'bearer.KEY']); create one with `hotline keys create --role agent`")
            if is_ws:
                await _ws_reject(scope, receive, send, 401, msg)
            else:
                await _json(send, 401, msg, "Unauthorized", {"www-authenticate": "Bearer"})
            return
        if not principal.role.allows(needed):
            msg = f"this key's role is {principal.role.value!r}; {method} {template} needs {needed.value!r} or above"
            if is_ws:
                await _ws_reject(scope, receive, send, 403, msg)
            else:
                await _json(send, 403, msg, "Forbidden")
            return
        scope.setdefault("state", {})["principal"] = principal
        if offered_protocol:
            scope["state"]["ws_subprotocol"] = WS_PROTOCOL
        audited = needed.rank >= Role.SUPERVISOR.rank or (
            principal.role.rank >= Role.SUPERVISOR.rank and method not in ("GET", "WS"))
        if not audited:
            await self.app(scope, receive, send)
            return
        status = {"code": None}

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            await self._audit(principal, method, template, scope, status["code"])

    def _template(self, scope: Scope) -> str | None:
        return _match(scope["path"], "WS" if scope["type"] == "websocket" else scope["method"])

    async def _authenticate(self, scope: Scope) -> tuple[ApiKey | None, bool]:
        if not self.settings.auth_enabled:
            return AUTH_OFF, _offers_protocol(scope)
        secret, via_protocol = _secret(scope)
        if not secret:
            return None, False
        keys: KeyStore | None = getattr(self.fastapi_app.state, "keys", None)
        if keys is None:
            return None, False
        key = keys.cached(secret)  # most requests: a dictionary lookup, no thread hop
        if key is _MISS:
            key = await anyio.to_thread.run_sync(keys.authenticate, secret)
        return key, via_protocol or _offers_protocol(scope)

    def _origin_ok(self, scope: Scope) -> bool:
        origin = _header(scope, b"origin")
        if origin is None:
            return True  # not a browser; the key still decides
        host = _header(scope, b"host") or ""
        allowed = {f"http://{host}", f"https://{host}", *self.settings.allowed_origins}
        return origin in allowed

    async def _audit(self, principal: ApiKey, method: str, template: str | None, scope: Scope,
                     status: int | None) -> None:
        log: AuditLog | None = getattr(self.fastapi_app.state, "audit", None)
        if log is None:
            return
        try:
            await anyio.to_thread.run_sync(lambda: log.record(
                f"{method} {template}", key=principal, target=scope["path"], status=status))
        except Exception:  # the audit must not turn a served request into an error
            logger.exception("audit write failed for %s %s", method, template)


_COMPILED = [(method, template, compile_path(template)[0]) for method, template in POLICY]


def _match(path: str, method: str) -> str | None:
    """The POLICY template ``path`` matches for ``method``; else any template it matches; else None."""
    fallback = None
    for m, template, regex in _COMPILED:
        if regex.match(path):
            if m == method:
                return template
            fallback = fallback or template
    return fallback


def _least_role(template: str | None) -> Role | None:
    roles = [role for (_, t), role in POLICY.items() if t == template]
    return min(roles, key=lambda r: r.rank) if roles else None


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return v.decode("latin-1")
    return None


def _secret(scope: Scope) -> tuple[str | None, bool]:
    auth = _header(scope, b"authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip(), False
        return None, False
    if scope["type"] == "websocket":
        for proto in _protocols(scope):
            if proto.startswith("bearer."):
                return proto[len("bearer."):], True
    return None, False


def _protocols(scope: Scope) -> list[str]:
    if scope["type"] != "websocket":
        return []
    return [p.strip() for p in scope.get("subprotocols", [])]


def _offers_protocol(scope: Scope) -> bool:
    return WS_PROTOCOL in _protocols(scope)


async def _json(send: Send, status: int, detail: str, error: str, extra: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail, "error": error}, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _ws_reject(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    """Refuse the handshake with an HTTP response (the ASGI denial-response extension) or a close."""
    if "websocket.http.response" in scope.get("extensions", {}):
        body = json.dumps({"detail": detail, "error": "Unauthorized" if status == 401 else "Forbidden"},
                          ensure_ascii=False).encode()
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.close", "code": 4000 + status, "reason": detail[:120]})


def install_auth(app: FastAPI, settings: Settings) -> None:
    """Check the settings, require a POLICY entry for every /v1 operation, and add the middleware."""
    check_auth_settings(settings)
    missing = [f"{m.upper()} {path}" for path, ops in app.openapi().get("paths", {}).items()
               if path.startswith("/v1") for m in ops if (m.upper(), path) not in POLICY]
    app.openapi_schema = None  # built again on first request, after _document_security
    if missing:
        raise RuntimeError(f"routes without an entry in hotline.serve.auth.POLICY: {sorted(missing)}; "
                           f"add each with the least role allowed")
    if not any(m.cls is AuthMiddleware for m in app.user_middleware):
        app.add_middleware(AuthMiddleware, fastapi_app=app, settings=settings)
    _document_security(app)


def _document_security(app: FastAPI) -> None:
    """Declare the bearer scheme in /openapi.json, on every /v1 operation (so docs and fuzzers send keys)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
            "type": "http", "scheme": "bearer", "description": "an API key from `hotline keys create`"}
        for path, ops in schema.get("paths", {}).items():
            if path.startswith("/v1"):
                for op in ops.values():
                    if isinstance(op, dict):
                        op["security"] = [{"bearer": []}]
                        op.setdefault("responses", {}).setdefault("401", {"description": "missing or unknown key"})
                        op["responses"].setdefault("403", {"description": "the key's role is too low"})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
