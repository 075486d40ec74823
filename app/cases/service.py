"""Case library services: create a case from a resolved incident, read, search and edit.
Keyword-only arguments; the caller owns the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from analysis.grading import GRADE_LABELS
from app.alerts import incidents
from app.alerts.models import Alert, Incident, IncidentEvent
from app.cases.models import Case
from app.cases.schemas import CaseCreate, CaseSummary, CaseUpdate
from app.core.errors import Conflict, NotFound
from app.core.vocab import IncidentStatus
from app.posts.models import Topic

SEARCHED = (Case.title, Case.summary, Case.outcome, Case.lessons, Case.tags_text)
MAX_EVENTS = 500


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def snapshot(*, session: Session, incident: Incident) -> dict[str, Any]:
    """The incident as it stands: facts, grading inputs, checklist, timeline and alert summary."""
    topic = session.get(Topic, incident.topic_id)
    stmt = select(IncidentEvent).where(IncidentEvent.incident_id == incident.id).order_by(IncidentEvent.id)
    events = list(session.scalars(stmt.limit(MAX_EVENTS)))
    graded = next((e for e in reversed(events) if e.kind in ("opened", "escalated")), None)
    alerts = list(
        session.execute(select(Alert.detector, Alert.grade).where(Alert.incident_id == incident.id))
    )
    return {
        "topic": topic.name if topic else None,
        "incident": {
            "id": incident.id,
            "title": incident.title,
            "headline": incident.headline,
            "grade": incident.grade,
            "opened_at": _iso(incident.opened_at),
            "acknowledged_at": _iso(incident.acknowledged_at),
            "acknowledged_by": incident.acknowledged_by,
            "resolved_at": _iso(incident.resolved_at),
            "resolved_by": incident.resolved_by,
            "inputs": dict(incident.inputs or {}),
            "rules": list(incident.rules or []),
            "reasons": list((graded.data or {}).get("reasons", [])) if graded else [],
        },
        "checklist": [dict(item) for item in incident.checklist or []],
        "events": [
            {
                "at": _iso(e.at),
                "kind": e.kind,
                "actor": e.actor,
                "message": e.message,
                "data": dict(e.data or {}),
            }
            for e in events
        ],
        "alerts": {"count": len(alerts), "detectors": sorted({detector for detector, _ in alerts})},
    }


def _summary_from(incident: Incident) -> str:
    return incident.headline or incident.title


def create_from_incident(*, session: Session, incident_id: int, data: CaseCreate, actor: str) -> Case:
    """Record a resolved incident as a case; Conflict when it is not resolved or already has one."""
    incident = incidents.get(session, incident_id)
    if incident.status != IncidentStatus.RESOLVED:
        raise Conflict(
            f"事件 {incident_id} 尚未解除，解除后才能写入案例库",
            details={"status": incident.status},
        )
    if session.scalar(select(Case.id).where(Case.incident_id == incident_id)) is not None:
        raise Conflict(f"事件 {incident_id} 已有复盘案例")
    case = Case(
        incident_id=incident.id,
        topic_id=incident.topic_id,
        title=data.title or incident.title,
        grade=incident.grade,
        summary=data.summary or _summary_from(incident),
        outcome=data.outcome,
        lessons=data.lessons,
        tags=list(data.tags),
        tags_text=" ".join(data.tags),
        timeline=snapshot(session=session, incident=incident),
        created_by=actor,
    )
    session.add(case)
    session.flush()
    return case


def get(*, session: Session, case_id: int) -> Case:
    """A case by id, or NotFound."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"案例 {case_id} 不存在")
    return case


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(
    *, session: Session, q: str | None = None, topic_id: int | None = None, limit: int = 100
) -> list[Case]:
    """Cases newest first; every word of `q` must appear (case-insensitively) in a text field or tag."""
    stmt = select(Case).order_by(Case.created_at.desc(), Case.id.desc()).limit(limit)
    if topic_id is not None:
        stmt = stmt.where(Case.topic_id == topic_id)
    terms = (q or "").split()
    if terms:
        stmt = stmt.where(
            and_(*(or_(*(column.ilike(_like(term), escape="\\") for column in SEARCHED)) for term in terms))
        )
    return list(session.scalars(stmt))


def update(*, session: Session, case_id: int, data: CaseUpdate) -> Case:
    """Apply a partial update to a case's editable text and tags."""
    case = get(session=session, case_id=case_id)
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is None:
            continue
        setattr(case, field, value)
        if field == "tags":
            case.tags_text = " ".join(value)
    return case


def to_summary(case: Case, model: type[CaseSummary] = CaseSummary) -> CaseSummary:
    """A case for the API, with its grade in Chinese."""
    read = model.model_validate(case)
    read.grade_label = GRADE_LABELS.get(case.grade, case.grade)
    return read
