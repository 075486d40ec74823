"""Trend queries over rollups, with gaps where a source of the topic was failing."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from app.alerts.models import Rollup, RollupMember
from app.alerts.rollups import bucket_start
from app.sources.models import Source, SourceRun

INTERVALS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1), "1d": timedelta(days=1)}
_COUNTERS = ("total", "positive", "neutral", "negative", "engagement")


def _epoch_bucket(session: Session, column: Any, seconds: int) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        epoch = func.extract("epoch", column)
    else:
        epoch = cast(func.strftime("%s", column), Integer)
    return cast(func.floor(epoch / seconds), Integer) * seconds


def _distinct_by_bucket(
    session: Session, topic_id: int, start: datetime, end: datetime, seconds: int, kind: str
) -> dict[int, int]:
    bucket = _epoch_bucket(session, RollupMember.bucket_start, seconds).label("b")
    stmt = (
        select(bucket, func.count(func.distinct(RollupMember.member)))
        .where(
            RollupMember.topic_id == topic_id,
            RollupMember.kind == kind,
            RollupMember.bucket_start >= start,
            RollupMember.bucket_start < end,
        )
        .group_by(bucket)
    )
    return {int(b): int(n) for b, n in session.execute(stmt)}


def trend(session: Session, topic_id: int, start: datetime, end: datetime, interval: str) -> dict[str, Any]:
    """Buckets (zeros filled) and source gaps for a topic between start and end."""
    size = INTERVALS[interval]
    seconds = int(size.total_seconds())
    start = bucket_start(start, size)
    sums: dict[datetime, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_COUNTERS, 0))
    stmt = select(Rollup).where(
        Rollup.topic_id == topic_id, Rollup.bucket_start >= start, Rollup.bucket_start < end
    )
    fine_authors: dict[datetime, int] = {}
    fine_sources: dict[datetime, int] = {}
    for row in session.scalars(stmt):
        key = bucket_start(row.bucket_start, size)
        for name in _COUNTERS:
            sums[key][name] += getattr(row, name)
        fine_authors[key] = row.authors
        fine_sources[key] = row.sources
    if interval == "5m":
        authors = {int(k.timestamp()): v for k, v in fine_authors.items()}
        sources = {int(k.timestamp()): v for k, v in fine_sources.items()}
    else:
        authors = _distinct_by_bucket(session, topic_id, start, end, seconds, "a")
        sources = _distinct_by_bucket(session, topic_id, start, end, seconds, "s")
    buckets = []
    moment = start
    while moment < end:
        counts = sums.get(moment, dict.fromkeys(_COUNTERS, 0))
        total = counts["total"]
        buckets.append(
            {
                "start": moment,
                **counts,
                "negative_share": round(counts["negative"] / total, 4) if total else 0.0,
                "authors": authors.get(int(moment.timestamp()), 0),
                "sources": sources.get(int(moment.timestamp()), 0),
            }
        )
        moment += size
    return {"interval": interval, "buckets": buckets, "gaps": gaps(session, topic_id, start, end)}


def topic_source_ids(session: Session, topic_id: int) -> list[int]:
    """Sources that have fed this topic (from rollup membership)."""
    stmt = select(func.distinct(RollupMember.member)).where(
        RollupMember.topic_id == topic_id, RollupMember.kind == "s"
    )
    return sorted(int(m) for m in session.scalars(stmt) if str(m).isdigit())


def gaps(session: Session, topic_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Time ranges in which a source of the topic was failing, so nobody reads a broken collector as calm."""
    result = []
    for source_id in topic_source_ids(session, topic_id):
        runs = session.execute(
            select(SourceRun.started_at, SourceRun.finished_at, SourceRun.status, SourceRun.error)
            .where(
                SourceRun.source_id == source_id,
                SourceRun.finished_at >= start - timedelta(days=1),
                SourceRun.started_at < end,
            )
            .order_by(SourceRun.started_at)
        ).all()
        name = session.scalar(select(Source.name).where(Source.id == source_id)) or str(source_id)
        result.extend(_failing_ranges(runs, source_id, name, start, end))
    return sorted(result, key=lambda gap: gap["start"])


def _failing_ranges(
    runs: Any, source_id: int, name: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    ranges: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for run in runs:
        if run.status == "error" and current is None:
            current = {
                "source_id": source_id,
                "source": name,
                "start": run.started_at,
                "end": None,
                "error": run.error,
            }
        elif run.status != "error" and current is not None:
            current["end"] = run.finished_at
            ranges.append(current)
            current = None
    if current is not None:
        ranges.append(current)
    return [
        {**gap, "start": max(gap["start"], start), "end": min(gap["end"], end) if gap["end"] else None}
        for gap in ranges
        if (gap["end"] is None or gap["end"] > start) and gap["start"] < end
    ]
