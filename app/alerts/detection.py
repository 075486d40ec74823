"""How the service runs analysis/ detectors over rollups: which detectors, what they are fed,
and their state persisted per topic (replayed from rollups when late posts change the past)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from analysis.detectors import NegativeShareShiftDetector, NegativeVolumeSpikeDetector, VolumeSpikeDetector
from app.alerts.models import DetectorState, Rollup
from app.alerts.rollups import BUCKET, bucket_start
from app.core.bulk import dialect_insert

LOOKBACK = timedelta(days=7)


@dataclass(frozen=True)
class Counts:
    """A bucket's counts as detectors see them."""

    total: float = 0.0
    negative: float = 0.0

    @classmethod
    def of(cls, rollup: Rollup | None) -> Counts:
        """Counts of a stored rollup (zeros for an empty bucket)."""
        return cls(float(rollup.total), float(rollup.negative)) if rollup else cls()

    def blend(self, previous: Counts, weight: float) -> Counts:
        """A sliding 5-minute window: this partial bucket plus the tail of the previous one."""
        return Counts(self.total + previous.total * weight, self.negative + previous.negative * weight)


@dataclass(frozen=True)
class DetectorSpec:
    """A detector the service runs: how to build, restore and feed it."""

    name: str
    build: Callable[[], Any]
    restore: Callable[[dict[str, Any]], Any]
    feed: Callable[[Any, datetime, Counts], Any]


SPECS: tuple[DetectorSpec, ...] = (
    DetectorSpec(
        "volume", VolumeSpikeDetector, VolumeSpikeDetector.from_state, lambda d, t, c: d.update(t, c.total)
    ),
    DetectorSpec(
        "negative_volume",
        NegativeVolumeSpikeDetector,
        NegativeVolumeSpikeDetector.from_state,
        lambda d, t, c: d.update(t, c.negative),
    ),
    DetectorSpec(
        "negative_share",
        NegativeShareShiftDetector,
        NegativeShareShiftDetector.from_state,
        lambda d, t, c: d.update(t, round(c.negative), round(c.total)),
    ),
)


def load_counts(session: Session, topic_id: int, start: datetime, end: datetime) -> dict[datetime, Counts]:
    """Counts per bucket of a topic in [start, end)."""
    stmt = select(Rollup).where(
        Rollup.topic_id == topic_id, Rollup.bucket_start >= start, Rollup.bucket_start < end
    )
    return {row.bucket_start: Counts.of(row) for row in session.scalars(stmt)}


def earliest_bucket(session: Session, topic_id: int) -> datetime | None:
    """The topic's first stored bucket."""
    stmt = (
        select(Rollup.bucket_start).where(Rollup.topic_id == topic_id).order_by(Rollup.bucket_start).limit(1)
    )
    return session.scalar(stmt)


def mark_stale(session: Session, topic_id: int, oldest_bucket: datetime) -> None:
    """Posts landed in buckets a detector already processed: replay it from rollups next time."""
    session.execute(
        update(DetectorState)
        .where(DetectorState.topic_id == topic_id, DetectorState.last_bucket >= oldest_bucket)
        .values(stale=True)
    )


def _state_rows(session: Session, topic_id: int) -> dict[str, DetectorState]:
    """The topic's detector state rows, created empty when missing.

    A push and the scheduler's tick (or two pushes in other buckets) may judge a new topic at the
    same moment: the rows are inserted if absent, so the later transaction waits for the earlier
    one's commit and then reads its rows instead of failing on the primary key.
    """
    stmt = select(DetectorState).where(DetectorState.topic_id == topic_id)
    rows = {row.detector: row for row in session.scalars(stmt)}
    missing = [spec.name for spec in SPECS if spec.name not in rows]
    if missing:
        session.execute(
            dialect_insert(session, DetectorState.__table__).on_conflict_do_nothing(),
            [
                {"topic_id": topic_id, "detector": name, "state": {}, "last_bucket": None, "stale": False}
                for name in missing
            ],
        )
        found = session.scalars(stmt.where(DetectorState.detector.in_(missing)))
        rows.update({row.detector: row for row in found})
    return rows


def advance(session: Session, topic_id: int, current: datetime) -> dict[str, Any]:
    """Bring every detector of a topic up to the last closed bucket; returns the live detectors.

    Closed buckets are history: their decisions are not alerts (the current bucket is judged by `peek`).
    """
    rows = _state_rows(session, topic_id)
    starts: list[datetime | None] = []
    for spec in SPECS:
        row = rows[spec.name]
        if row.stale or not row.state or row.last_bucket is None:
            starts.append(None)
        else:
            starts.append(row.last_bucket + BUCKET)
    first = earliest_bucket(session, topic_id)
    floor = max(first, current - LOOKBACK) if first else current
    begin = min((s for s in starts if s is not None), default=floor)
    if any(s is None for s in starts):
        begin = min(begin, floor)
    counts = load_counts(session, topic_id, begin, current) if begin < current else {}
    live: dict[str, Any] = {}
    for spec, start in zip(SPECS, starts, strict=True):
        row = rows[spec.name]
        detector = spec.build() if start is None else spec.restore(row.state)
        moment = floor if start is None else start
        fed = start is None
        while moment < current:
            spec.feed(detector, moment, counts.get(moment, Counts()))
            moment += BUCKET
            fed = True
        if fed:
            row.state, row.last_bucket, row.stale = detector.state_dict(), current - BUCKET, False
        live[spec.name] = detector
    return live


def peek(live: Mapping[str, Any], topic_id: int, session: Session, now: datetime) -> dict[str, Any]:
    """Judge the present: a sliding 5-minute window ending now, without changing saved state."""
    current = bucket_start(now)
    counts = load_counts(session, topic_id, current - BUCKET, current + BUCKET)
    elapsed = (now - current) / BUCKET
    window = counts.get(current, Counts()).blend(
        counts.get(current - BUCKET, Counts()), max(0.0, 1.0 - elapsed)
    )
    decisions = {}
    for spec in SPECS:
        probe = spec.restore(live[spec.name].state_dict())
        decisions[spec.name] = spec.feed(probe, current, window)
    decisions["_window"] = window
    return decisions
