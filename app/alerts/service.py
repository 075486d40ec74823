"""Read models for incidents, and backtests over stored rollups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.detectors import detect_series
from analysis.grading import GRADE_LABELS
from app.alerts.models import Incident, IncidentEvent, Silence
from app.alerts.schemas import BacktestPoint, BacktestRequest, BacktestResult, EventRead, IncidentRead
from app.alerts.silences import covering_silence, current_silences
from app.core.db import utcnow
from app.core.vocab import IncidentStatus
from app.stats import queries
from app.stats.rollups import BUCKET, bucket_start


def silences_now(session: Session, now: datetime | None = None) -> list[Silence]:
    """The silences in force now (to say which incidents they cover)."""
    return current_silences(session, now or utcnow())


def incident_read(
    incident: Incident,
    *,
    session: Session | None = None,
    silences: Sequence[Silence] | None = None,
    now: datetime | None = None,
) -> IncidentRead:
    """An incident for the API; with a session, its timeline too.

    `silenced` says whether a silence covers the incident right now (from `silences`, or read with
    the session); it is computed, never stored, so it cannot outlive the silence.
    """
    read = IncidentRead.model_validate(incident)
    read.grade_label = GRADE_LABELS.get(incident.grade, incident.grade)
    moment = now or utcnow()
    if silences is None and session is not None:
        silences = silences_now(session, moment)
    read.silenced = incident.status != IncidentStatus.RESOLVED and (
        covering_silence(silences or (), topic_id=incident.topic_id, grade=incident.grade, now=moment)
        is not None
    )
    opened = None
    if session is not None:
        stmt = (
            select(IncidentEvent).where(IncidentEvent.incident_id == incident.id).order_by(IncidentEvent.id)
        )
        events = list(session.scalars(stmt))
        read.timeline = [EventRead.model_validate(e) for e in events]
        opened = next((e for e in reversed(events) if e.kind in ("opened", "escalated")), None)
    read.reasons = list((opened.data or {}).get("reasons", [])) if opened else []
    return read


def backtest(session: Session, topic_id: int, body: BacktestRequest) -> BacktestResult:
    """Evenly spaced 5-minute counts from rollups, run through the volume detector."""
    end = body.end or utcnow()
    start = body.start or end - timedelta(days=14)
    start = bucket_start(start)
    stored = {
        r.bucket_start: float(r.total if body.series == "total" else r.negative)
        for r in queries.read(session, topic_id, start, end)
    }
    times: list[datetime] = []
    values: list[float] = []
    moment = start
    while moment < end and len(times) < 50_000:
        times.append(moment)
        values.append(stored.get(moment, 0.0))
        moment += BUCKET
    decisions = detect_series(times, values)
    points = [
        BacktestPoint(start=t, value=v, score=round(float(d.score), 4), alert=bool(d.alert))
        for t, v, d in zip(times, values, decisions, strict=True)
    ]
    return BacktestResult(
        topic_id=topic_id, series=body.series, alerts=sum(p.alert for p in points), points=points
    )
