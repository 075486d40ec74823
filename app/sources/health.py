"""Each source's health in terms a user can act on (collectors/health.py names the causes), decided
when it is read: from its last run, its last error, and how long it has produced nothing compared
with its usual rhythm."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.sources.models import Source, SourceRun
from collectors.health import Health, advice, classify, label

RHYTHM_RUNS = 20  # productive runs whose spacing gives a source's usual rhythm
SILENT_FACTOR = 6  # silent: nothing new for this many times the usual gap…
SILENT_FLOOR = timedelta(hours=6)  # …and at least this long
PUSH_KIND = "push"


@dataclass(frozen=True)
class SourceHealth:
    """A source's state, its Chinese label and advice, and when it last brought something new."""

    health: Health
    label: str
    advice: str
    last_new_at: datetime | None
    usual_gap_minutes: float | None


def _rhythm(session: Session, source_id: int) -> tuple[datetime | None, timedelta | None]:
    """When the source last brought new posts, and the median gap between its productive runs."""
    stmt = (
        select(SourceRun.finished_at)
        .where(SourceRun.source_id == source_id, SourceRun.new > 0)
        .order_by(SourceRun.finished_at.desc())
        .limit(RHYTHM_RUNS)
    )
    moments = list(session.scalars(stmt))
    if not moments:
        return None, None
    gaps = [(later - earlier).total_seconds() for later, earlier in zip(moments, moments[1:], strict=False)]
    return moments[0], timedelta(seconds=statistics.median(gaps)) if gaps else None


def health_of(session: Session, source: Source, now: datetime) -> SourceHealth:
    """The source's health now."""
    last_new, usual = _rhythm(session, source.id) if source.kind != PUSH_KIND else (None, None)
    state = _state(source, now, last_new, usual)
    return SourceHealth(
        health=state,
        label=label(state),
        advice=advice(state),
        last_new_at=last_new,
        usual_gap_minutes=round(usual.total_seconds() / 60, 1) if usual else None,
    )


def _state(source: Source, now: datetime, last_new: datetime | None, usual: timedelta | None) -> Health:
    if not source.enabled:
        return Health.DISABLED
    if source.kind == PUSH_KIND:
        return Health.OK
    if source.last_run_at is None:
        return Health.NEVER_RUN
    if source.last_status == "error":
        return classify(source.last_error)
    if last_new is not None and usual is not None:
        allowed = max(
            usual * SILENT_FACTOR, SILENT_FLOOR, timedelta(seconds=source.interval_seconds * SILENT_FACTOR)
        )
        if now - last_new > allowed:
            return Health.SILENT
    return Health.OK


def health_map(session: Session, sources: Iterable[Source], now: datetime) -> dict[int, SourceHealth]:
    """Health of several sources, by id."""
    return {source.id: health_of(session, source, now) for source in sources}
