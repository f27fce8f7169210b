"""Key management, the audit log and ``whoami``. Admin only (see :data:`hotline.serve.auth.POLICY`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from hotline.serve.auth import PrincipalDep
from hotline.store.keys import Role

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["admin"])


class KeyCreate(BaseModel):
    role: Role
    name: str | None = Field(default=None, min_length=1, max_length=200)


@router.get("/whoami")
def whoami(principal: PrincipalDep) -> dict[str, Any]:
    """The calling key's id, name and role (never the secret)."""
    return {"id": principal.id, "name": principal.name, "role": principal.role.value}


@router.get("/keys")
def list_keys(request: Request, include_revoked: bool = False) -> dict[str, Any]:
    return {"keys": [k.to_dict() for k in request.app.state.keys.list(include_revoked=include_revoked)]}


@router.post("/keys", status_code=201)
def create_key(body: KeyCreate, request: Request) -> dict[str, Any]:
    """A new key; the response is the only time the secret is shown."""
    secret, record = request.app.state.keys.create(body.role, name=body.name)
    return {"key": secret, **record.to_dict()}


@router.delete("/keys/{key_id}")
def revoke_key(key_id: str, request: Request) -> dict[str, Any]:
    return request.app.state.keys.revoke(key_id).to_dict()


@router.get("/audit")
def audit(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
          key_id: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    """Most recent audit entries first: who (key id, name, role), what (action, target, status), when."""
    return {"entries": request.app.state.audit.list(limit=limit, key_id=key_id)}
