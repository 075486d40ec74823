"""HTTP routes for the case library (复盘)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import Response

from app.audit import service as audit
from app.cases import service
from app.cases.export import to_markdown
from app.cases.schemas import CaseCreate, CaseRead, CaseSummary, CaseUpdate
from app.core.deps import ReadKey, SessionDep, WriteKey

router = APIRouter(prefix="/api/v1", tags=["cases"])
MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.post(
    "/incidents/{incident_id}/case",
    response_model=CaseRead,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "the incident is not resolved, or already has a case"}},
)
def create_case(incident_id: RowId, body: CaseCreate, session: SessionDep, key: WriteKey) -> CaseSummary:
    """Record a resolved incident in the case library with its outcome and lessons."""
    case = service.create_from_incident(session=session, incident_id=incident_id, data=body, actor=key.name)
    audit.record(
        session=session,
        actor=key.name,
        action="create",
        entity="case",
        entity_id=case.id,
        details={"incident_id": incident_id},
    )
    return service.to_summary(case, CaseRead)


@router.get("/cases", response_model=list[CaseSummary])
def list_cases(
    session: SessionDep,
    _: ReadKey,
    q: Annotated[str | None, Query(max_length=200, description="words to find in any text or tag")] = None,
    topic_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CaseSummary]:
    """Cases newest first; `q` searches title, summary, outcome, lessons and tags (case-insensitive)."""
    return [
        service.to_summary(c) for c in service.search(session=session, q=q, topic_id=topic_id, limit=limit)
    ]


@router.get("/cases/{case_id}", response_model=CaseRead)
def get_case(case_id: RowId, session: SessionDep, _: ReadKey) -> CaseSummary:
    """One case with its timeline snapshot."""
    return service.to_summary(service.get(session=session, case_id=case_id), CaseRead)


@router.patch("/cases/{case_id}", response_model=CaseRead)
def update_case(case_id: RowId, body: CaseUpdate, session: SessionDep, key: WriteKey) -> CaseSummary:
    """Edit a case's title, summary, outcome, lessons or tags."""
    case = service.update(session=session, case_id=case_id, data=body)
    audit.record(
        session=session,
        actor=key.name,
        action="update",
        entity="case",
        entity_id=case.id,
        details={"fields": sorted(body.model_dump(exclude_unset=True))},
    )
    return service.to_summary(case, CaseRead)


@router.get(
    "/cases/{case_id}/export",
    response_class=Response,
    responses={200: {"content": {"text/markdown": {}}, "description": "the 复盘 document"}},
)
def export_case(case_id: RowId, session: SessionDep, _: ReadKey) -> Response:
    """The case as a 复盘 document in Markdown."""
    return Response(
        to_markdown(service.get(session=session, case_id=case_id)), media_type="text/markdown; charset=utf-8"
    )
