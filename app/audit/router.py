"""HTTP routes for the audit log (admin scope)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.schemas import AuditRead
from app.core.api import ErrorResponse
from app.core.deps import AdminKey, SessionDep

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
_ERRORS = {
    401: {"model": ErrorResponse, "description": "missing or unknown API key"},
    403: {"model": ErrorResponse, "description": "the key is not an admin key"},
    422: {"model": ErrorResponse, "description": "a parameter is invalid"},
}


@router.get("", response_model=list[AuditRead], responses=_ERRORS)  # type: ignore[arg-type]
def list_audit(
    session: SessionDep,
    _: AdminKey,
    entity: Annotated[
        str | None, Query(max_length=40, pattern=r"^[a-z_]+$", description="topic, source, channel, key…")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditRead]:
    """Who changed which topic, rule, source, channel or key, newest first."""
    return [
        AuditRead.model_validate(e) for e in service.list_entries(session=session, entity=entity, limit=limit)
    ]
