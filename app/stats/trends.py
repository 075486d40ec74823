"""Trend queries over rollups, with gaps where a source of the topic was failing.

A trend reads the rollup rows of the requested grain only (at most a few hundred rows: 288 for a day at
5m, 30 for 30 days at 1d) and finds the gaps of all the topic's sources in one query.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, case, cast, func, or_, select
from sqlalchemy.orm import Session, aliased

from app.sources.models import Source, SourceRun
from app.stats.models import DailyRollupMember
from app.stats.rollups import GRAIN, bucket_start

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

    A stretch opens at a failed run and ends when a later run of the source does not fail. One query
    for all the topic's sources reads their failed runs in the range (partial index on failed runs)
    and returns only the runs that open or close a stretch, each checked with one index probe, so a
    source failing for weeks costs one row per run scanned in the database, not a scan per run.
    """
    lookback = start - GAP_LOOKBACK
    considered = (SourceRun.started_at < end, SourceRun.finished_at >= lookback)
    order = (SourceRun.source_id, SourceRun.started_at)
    failed = (
        select(
            SourceRun.source_id,
            SourceRun.started_at,
            SourceRun.error,
            func.lag(SourceRun.started_at)
            .over(partition_by=SourceRun.source_id, order_by=order)
            .label("prev"),
        )
        .where(SourceRun.source_id.in_(_topic_sources(topic_id)), SourceRun.status == "error", *considered)
        .subquery("failed")
    )

    def ok_runs(run: Any, source_id: Any, after: Any, before: Any) -> Any:
        """Conditions: a run of the source between two times that did not fail."""
        return (
            run.source_id == source_id,
            run.started_at > after,
            run.started_at < before,
            run.status != "error",
            run.finished_at >= lookback,
        )

    other = aliased(SourceRun)
    ok_between = (
        select(other.id)
        .where(*ok_runs(other, failed.c.source_id, failed.c.prev, failed.c.started_at))
        .exists()
    )
    flagged = select(
        failed.c.source_id,
        failed.c.started_at,
        failed.c.error,
        case((failed.c.prev.is_(None), True), else_=ok_between).label("opens"),
    ).subquery("flagged")
    closes = func.coalesce(
        func.lead(flagged.c.opens).over(
            partition_by=flagged.c.source_id, order_by=(flagged.c.source_id, flagged.c.started_at)
        ),
        True,
    ).label("closes")
    edges = select(flagged, closes).subquery("edges")
    after = aliased(SourceRun)
    recovered = (
        select(after.finished_at)
        .where(*ok_runs(after, edges.c.source_id, edges.c.started_at, end))
        .order_by(after.started_at)
        .limit(1)
        .scalar_subquery()
    )
    stmt = (
        select(
            edges.c.source_id,
            edges.c.started_at,
            edges.c.error,
            edges.c.opens,
            edges.c.closes,
            case((edges.c.closes, recovered), else_=None).label("recovered_at"),
            Source.name,
        )
        .join(Source, Source.id == edges.c.source_id)
        .where(or_(edges.c.opens, edges.c.closes))
        .order_by(edges.c.source_id, edges.c.started_at)
    )
    stretches: list[dict[str, Any]] = []
    for row in session.execute(stmt):
        if row.opens:
            stretches.append(
                {
                    "source_id": row.source_id,
                    "source": row.name or str(row.source_id),
                    "start": row.started_at,
                    "end": None,
                    "error": row.error,
                }
            )
        if row.closes:
            stretches[-1]["end"] = row.recovered_at
    result = [
        {**gap, "start": max(gap["start"], start), "end": min(gap["end"], end) if gap["end"] else None}
        for gap in stretches
        if (gap["end"] is None or gap["end"] > start) and gap["start"] < end
    ]
    return sorted(result, key=lambda gap: gap["start"])
