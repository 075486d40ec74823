"""Trend queries over rollups, with gaps where a source of the topic was failing.

A trend reads the rollup rows of the requested grain only (at most a few hundred rows: 288 for a day at
5m, 30 for 30 days at 1d) and finds the gaps of all the topic's sources in one query.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, cast, select
from sqlalchemy.orm import Session, aliased

from app.alerts.models import DailyRollupMember
from app.alerts.rollups import GRAIN, bucket_start
from app.sources.models import Source, SourceRun

INTERVALS = {name: grain.size for name, grain in GRAIN.items()}
_COUNTERS = ("total", "positive", "neutral", "negative", "engagement")
GAP_LOOKBACK = timedelta(days=1)  # a stretch of failures open at `start` shows from `start`


def trend(session: Session, topic_id: int, start: datetime, end: datetime, interval: str) -> dict[str, Any]:
    """Whole buckets of the interval (zeros filled) from `start` (rounded down to a bucket) up to `end`,
    and the source gaps in that range."""
    grain = GRAIN[interval]
    size = grain.size
    start = bucket_start(start, size)
    table = grain.rollup.__table__
    stmt = select(
        table.c.bucket_start, *(table.c[name] for name in (*_COUNTERS, "authors", "sources"))
    ).where(table.c.topic_id == topic_id, table.c.bucket_start >= start, table.c.bucket_start < end)
    stored = {row.bucket_start: row for row in session.execute(stmt)}
    buckets = []
    moment = start
    while moment < end:
        row = stored.get(moment)
        counts = {name: getattr(row, name) if row else 0 for name in _COUNTERS}
        total = counts["total"]
        buckets.append(
            {
                "start": moment,
                **counts,
                "negative_share": round(counts["negative"] / total, 4) if total else 0.0,
                "authors": row.authors if row else 0,
                "sources": row.sources if row else 0,
            }
        )
        moment += size
    return {"interval": interval, "buckets": buckets, "gaps": gaps(session, topic_id, start, end)}


def _topic_sources(topic_id: int) -> Any:
    """Subquery: ids of the sources that ever fed the topic (its daily source members)."""
    return (
        select(cast(DailyRollupMember.member, Integer))
        .where(DailyRollupMember.topic_id == topic_id, DailyRollupMember.kind == "s")
        .distinct()
        .scalar_subquery()
    )


def topic_source_ids(session: Session, topic_id: int) -> list[int]:
    """Sources that have fed this topic (from its daily rollup membership, kept with the rollups)."""
    stmt = (
        select(DailyRollupMember.member)
        .where(DailyRollupMember.topic_id == topic_id, DailyRollupMember.kind == "s")
        .distinct()
    )
    return sorted(int(m) for m in session.scalars(stmt) if str(m).isdigit())


def gaps(session: Session, topic_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Time ranges in which a source of the topic was failing, so nobody reads a broken collector as calm.

    One query for all the topic's sources: their failed runs in the range (partial index on failed
    runs), each with the first later run that did not fail (composite index), which ends its stretch.
    """
    lookback = start - GAP_LOOKBACK
    after = aliased(SourceRun)
    recovered = (
        select(after.finished_at)
        .where(
            after.source_id == SourceRun.source_id,
            after.started_at > SourceRun.started_at,
            after.started_at < end,
            after.status != "error",
            after.finished_at >= lookback,
        )
        .order_by(after.started_at)
        .limit(1)
        .correlate(SourceRun)
        .scalar_subquery()
    )
    stmt = (
        select(
            SourceRun.source_id,
            SourceRun.started_at,
            SourceRun.error,
            recovered.label("recovered_at"),
            Source.name,
        )
        .join(Source, Source.id == SourceRun.source_id)
        .where(
            SourceRun.source_id.in_(_topic_sources(topic_id)),
            SourceRun.status == "error",
            SourceRun.started_at < end,
            SourceRun.finished_at >= lookback,
        )
        .order_by(SourceRun.source_id, SourceRun.started_at)
    )
    stretches: dict[tuple[int, datetime | None], dict[str, Any]] = {}
    for row in session.execute(stmt):
        # failed runs with the same recovering run belong to one stretch, opened by the first of them
        key = (row.source_id, row.recovered_at)
        if key not in stretches:
            stretches[key] = {
                "source_id": row.source_id,
                "source": row.name or str(row.source_id),
                "start": row.started_at,
                "end": row.recovered_at,
                "error": row.error,
            }
    result = [
        {**gap, "start": max(gap["start"], start), "end": min(gap["end"], end) if gap["end"] else None}
        for gap in stretches.values()
        if (gap["end"] is None or gap["end"] > start) and gap["start"] < end
    ]
    return sorted(result, key=lambda gap: gap["start"])
