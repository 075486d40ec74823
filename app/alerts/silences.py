"""Silences (a planned launch, a known issue): which are in force, and which covers a topic and grade.

The notification policy (`app/channels/policy.py`) and the incident read model (`service.py`) both ask here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.grading import grade_rank
from app.alerts.models import Silence


def current_silences(session: Session, now: datetime) -> list[Silence]:
    """Silences in force at `now` (any topic)."""
    stmt = select(Silence).where(Silence.starts_at <= now, Silence.ends_at > now).order_by(Silence.id)
    return list(session.scalars(stmt))


def covering_silence(
    silences: Sequence[Silence], *, topic_id: int | None, grade: str, now: datetime
) -> Silence | None:
    """The first silence that covers this topic and grade at `now`, if any."""
    for silence in silences:
        if not silence.starts_at <= now < silence.ends_at:
            continue
        if silence.topic_id is not None and silence.topic_id != topic_id:
            continue
        if silence.max_grade is None or grade_rank(grade) <= grade_rank(silence.max_grade):
            return silence
    return None
