"""Reminders: open (unacknowledged) 严重 incidents are re-announced every N minutes until someone acts.

A reminder is written through the `NoticeWriter` (the outbox), which decides at that moment whether a
silence, quiet hours, minimum interval or grade filter holds. A reminder held by a silence does not
count as sent, so it goes out at the first tick after the silence ends.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.grading import Grade
from app.alerts import incidents
from app.alerts.incidents import NoticeWriter
from app.alerts.models import Incident
from app.core.vocab import IncidentStatus, NoticeKind

log = logging.getLogger(__name__)
DEFAULT_INTERVAL = timedelta(minutes=30)


def due_for_reminder(incident: Incident, now: datetime, interval: timedelta) -> bool:
    """Whether an open severe incident has gone `interval` without an announcement or reminder."""
    if incident.status != IncidentStatus.OPEN or incident.grade != Grade.SEVERE:
        return False
    last = incident.last_reminded_at or incident.opened_at
    return now - last >= interval


def write_reminders(
    session: Session, now: datetime, writer: NoticeWriter, *, interval: timedelta | None = None
) -> list[int]:
    """Write a `reminder` notice for each due incident the policy lets through; returns their ids.

    The interval defaults to the writer's `reminder_interval` (the Outbox takes it from settings).
    """
    every = interval or getattr(writer, "reminder_interval", None) or DEFAULT_INTERVAL
    stmt = (
        select(Incident)
        .where(Incident.status == IncidentStatus.OPEN, Incident.grade == Grade.SEVERE)
        .order_by(Incident.id)
    )
    reminded = []
    for incident in session.scalars(stmt):
        if not due_for_reminder(incident, now, every):
            continue
        outcome = writer(session, incident, NoticeKind.REMINDER, now)
        if outcome is not None and outcome.silenced_by is not None:
            continue  # held by a silence right now: due again at the next tick
        incident.last_reminded_at = now
        minutes = int((now - incident.opened_at).total_seconds() // 60)
        incidents.add_event(
            session, incident, "reminder", f"事件已持续 {minutes} 分钟仍未确认，已再次通知", at=now
        )
        reminded.append(incident.id)
    if reminded:
        log.info("reminders written for incidents %s", reminded)
    return reminded
