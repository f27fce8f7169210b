"""Ended calls kept in the store (masked transcript, final state, summary, ticket): the input of batch
analysis and retraining. Supervisors only (see :data:`hotline.serve.auth.POLICY`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

__all__ = ["router"]

router = APIRouter(prefix="/v1/ended-calls", tags=["calls"])


@router.get("")
def list_ended(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               since: Annotated[datetime | None, Query(description="only calls that ended at or after this "
                                                       "ISO 8601 time")] = None) -> dict[str, Any]:
    """Ended (and expired) calls, oldest first; page with ``since`` = the last ``ended_at`` seen."""
    calls = request.app.state.calls
    if calls.repo is None:
        raise HTTPException(status_code=503, detail="this server keeps no store of ended calls")
    return {"calls": calls.repo.ended(limit=limit, since=since)}


@router.get("/{call_id}")
def get_ended(call_id: str, request: Request) -> dict[str, Any]:
    calls = request.app.state.calls
    found = calls.repo.ended_one(call_id) if calls.repo is not None else None
    if found is None:
        raise HTTPException(status_code=404, detail=f"no ended call with id {call_id!r}; GET /v1/ended-calls lists them")
    return found
