"""HTTP routes: alerts, incidents (ack/resolve/notes/checklist) and silences (a topic's trend and
backtest: `app/topics/views.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request, status
from sqlalchemy import select

from analysis.grading import Grade
from app.alerts import incidents, service, story
from app.alerts.models import Alert, Incident, Silence
from app.alerts.schemas import (
    ActionBody,
    AlertRead,
    ChecklistUpdate,
    EventRead,
    IncidentRead,
    IncidentStory,
    NoteCreate,
    SilenceCreate,
    SilenceRead,
)
from app.core.db import utcnow
from app.core.deps import Id, IdFilter, OptionalUTCTime, ReadKey, SessionDep, WriteKey
from app.core.errors import NotFound
from app.core.vocab import AlertStatus, IncidentStatus
from app.posts.models import Topic

router = APIRouter(prefix="/api/v1", tags=["alerts"])
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/alerts", response_model=list[AlertRead])
def list_alerts(
    session: SessionDep,
    _: ReadKey,
    topic_id: IdFilter = None,
    grade: Grade | None = None,
    status: AlertStatus | None = None,
    since: OptionalUTCTime = None,
    until: OptionalUTCTime = None,
    limit: Limit = 100,
) -> list[AlertRead]:
    """Alerts, newest first, filtered by topic, grade, status and time."""
    stmt = select(Alert).order_by(Alert.id.desc()).limit(limit)
    for column, value in ((Alert.topic_id, topic_id), (Alert.grade, grade), (Alert.status, status)):
        if value is not None:
            stmt = stmt.where(column == value)
    if since:
        stmt = stmt.where(Alert.fired_at >= since)
    if until:
        stmt = stmt.where(Alert.fired_at < until)
    return [AlertRead.model_validate(a) for a in session.scalars(stmt)]


@router.get("/incidents", response_model=list[IncidentRead])
def list_incidents(
    session: SessionDep,
    _: ReadKey,
    topic_id: IdFilter = None,
    status: IncidentStatus | None = None,
    grade: Grade | None = None,
    limit: Limit = 100,
) -> list[IncidentRead]:
    """Incidents, newest first."""
    stmt = select(Incident).order_by(Incident.id.desc()).limit(limit)
    for column, value in ((Incident.topic_id, topic_id), (Incident.status, status), (Incident.grade, grade)):
        if value is not None:
            stmt = stmt.where(column == value)
    silences = service.silences_now(session)
    return [service.incident_read(i, silences=silences) for i in session.scalars(stmt)]


@router.get("/incidents/{incident_id}", response_model=IncidentRead)
def get_incident(incident_id: Id, session: SessionDep, _: ReadKey) -> IncidentRead:
    """One incident with its timeline."""
    return service.incident_read(incidents.get(session, incident_id), session=session)


@router.get("/incidents/{incident_id}/story", response_model=IncidentStory)
def get_incident_story(
    incident_id: Id,
    session: SessionDep,
    _: ReadKey,
    limit: Annotated[int, Query(ge=1, le=100, description="posts per page")] = 10,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> IncidentStory:
    """What happened, where and who: trend with alert moments, first posts, the posts that carried
    it, top accounts and sources, and the spread across platforms over time."""
    return story.story(session, incidents.get(session, incident_id), limit=limit, offset=offset)


@router.post("/incidents/{incident_id}/ack", response_model=IncidentRead)
def acknowledge(
    incident_id: Id, session: SessionDep, key: WriteKey, body: ActionBody | None = None
) -> IncidentRead:
    """Acknowledge an incident (stops reminders)."""
    incident = incidents.acknowledge(
        session, incident_id, actor=key.name, now=utcnow(), note=body.note if body else None
    )
    return service.incident_read(incident, session=session)


@router.post("/incidents/{incident_id}/resolve", response_model=IncidentRead)
def resolve(
    incident_id: Id,
    session: SessionDep,
    key: WriteKey,
    request: Request,
    tasks: BackgroundTasks,
    body: ActionBody | None = None,
) -> IncidentRead:
    """Resolve an incident; subscribed channels get a resolution notice."""
    services = request.app.state.services
    writer = services.write_notice
    tasks.add_task(services.dispatcher.wake)
    incident = incidents.resolve(
        session,
        incident_id,
        actor=key.name,
        now=utcnow(),
        note=body.note if body else None,
        write_notice=writer,
    )
    return service.incident_read(incident, session=session)


@router.post("/incidents/{incident_id}/notes", response_model=EventRead, status_code=status.HTTP_201_CREATED)
def add_note(incident_id: Id, body: NoteCreate, session: SessionDep, key: WriteKey) -> EventRead:
    """Add a note to the timeline."""
    event = incidents.add_note(session, incident_id, actor=key.name, text=body.text, now=utcnow())
    session.flush()
    return EventRead.model_validate(event)


@router.post("/incidents/{incident_id}/checklist", response_model=IncidentRead)
def tick(incident_id: Id, body: ChecklistUpdate, session: SessionDep, key: WriteKey) -> IncidentRead:
    """Tick or untick a playbook step."""
    incident = incidents.set_checklist_item(
        session, incident_id, code=body.code, done=body.done, actor=key.name, now=utcnow()
    )
    return service.incident_read(incident, session=session)


@router.post("/silences", response_model=SilenceRead, status_code=status.HTTP_201_CREATED)
def create_silence(body: SilenceCreate, session: SessionDep, key: WriteKey) -> SilenceRead:
    """Silence notices for a topic (or all topics) up to a grade, e.g. during a planned launch."""
    if body.topic_id is not None:
        if session.get(Topic, body.topic_id) is None:
            raise NotFound(f"topic {body.topic_id} not found")
    silence = Silence(**body.model_dump(), created_by=key.name)
    session.add(silence)
    session.flush()
    return SilenceRead.model_validate(silence)


@router.get("/silences", response_model=list[SilenceRead])
def list_silences(session: SessionDep, _: ReadKey, active: bool = False) -> list[SilenceRead]:
    """Silences, newest first (only those in force with active=true)."""
    stmt = select(Silence).order_by(Silence.id.desc())
    if active:
        now = utcnow()
        stmt = stmt.where(Silence.starts_at <= now, Silence.ends_at > now)
    return [SilenceRead.model_validate(s) for s in session.scalars(stmt)]


@router.delete("/silences/{silence_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_silence(silence_id: Id, session: SessionDep, _: WriteKey) -> None:
    """End a silence."""
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise NotFound(f"silence {silence_id} not found")
    session.delete(silence)
