"""Reads of a topic over a window from its rollups: stored buckets of a grain, 5-minute series,
distinct members (authors, sources, platforms) and engagement.

Trends with source gaps are in `app/stats/trends.py`; the rollups are maintained by
`app/stats/rollups.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.stats.models import Rollup, RollupMember
from app.stats.rollups import BUCKET, GRAIN, GRAINS, bucket_start


def read(session: Session, topic_id: int, start: datetime, end: datetime, grain: str = "5m") -> list[Any]:
    """Stored buckets of a grain ('5m', '1h', '1d') of a topic in [start, end), oldest first (empty
    buckets absent)."""
    model = GRAIN[grain].rollup
    stmt = (
        select(model)
        .where(model.topic_id == topic_id, model.bucket_start >= start, model.bucket_start < end)
        .order_by(model.bucket_start)
    )
    return list(session.scalars(stmt))


def earliest(session: Session, topic_id: int) -> datetime | None:
    """The start of a topic's first stored 5-minute bucket."""
    stmt = select(Rollup.bucket_start).where(Rollup.topic_id == topic_id)
    return session.scalar(stmt.order_by(Rollup.bucket_start).limit(1))


def distinct_members(session: Session, topic_id: int, start: datetime, end: datetime, kind: str) -> int:
    """Distinct authors ('a'), sources ('s') or platforms ('p') of a topic over the buckets starting in
    [start, end). Reads the coarsest grain both ends align to (a China-time day or week is whole
    hours), so windows older than the raw posts, whose 5-minute members are pruned, still count."""
    chosen = GRAINS[0]
    for grain in reversed(GRAINS[1:]):
        if (
            kind in grain.kinds
            and bucket_start(start, grain.size) == start
            and bucket_start(end, grain.size) == end
        ):
            chosen = grain
            break
    model = chosen.member
    stmt = select(func.count(func.distinct(model.member))).where(
        model.topic_id == topic_id,
        model.kind == kind,
        model.bucket_start >= start,
        model.bucket_start < end,
    )
    return int(session.scalar(stmt) or 0)


def series(session: Session, topic_id: int, first: datetime, count: int, counter: str = "total") -> list[int]:
    """`count` consecutive 5-minute values of a counter from the bucket `first`, zeros filled."""
    last = first + BUCKET * (count - 1)
    column = getattr(Rollup, counter)
    stmt = select(Rollup.bucket_start, column).where(
        Rollup.topic_id == topic_id, Rollup.bucket_start >= first, Rollup.bucket_start <= last
    )
    values = {start: value for start, value in session.execute(stmt)}
    return [int(values.get(first + BUCKET * i, 0)) for i in range(count)]


def total(
    session: Session, topic_id: int, start: datetime, end: datetime | None = None, counter: str = "total"
) -> int:
    """Sum of a counter ('total', 'negative', 'engagement', ...) over the 5-minute buckets starting in
    [start, end) (no end: up to the newest)."""
    column = getattr(Rollup, counter)
    stmt = select(func.coalesce(func.sum(column), 0)).where(
        Rollup.topic_id == topic_id, Rollup.bucket_start >= start
    )
    if end is not None:
        stmt = stmt.where(Rollup.bucket_start < end)
    return int(session.scalar(stmt) or 0)


def members(session: Session, topic_id: int, since: datetime) -> dict[str, set[str]]:
    """The distinct authors ('a'), sources ('s') and platforms ('p') of a topic's 5-minute buckets
    from the one holding `since`."""
    stmt = select(RollupMember.kind, RollupMember.member).where(
        RollupMember.topic_id == topic_id, RollupMember.bucket_start >= bucket_start(since)
    )
    found: dict[str, set[str]] = {"a": set(), "s": set(), "p": set()}
    for kind, member in session.execute(stmt):
        found.setdefault(kind, set()).add(member)
    return found


def every_topic(session: Session, first: datetime, last: datetime) -> Iterable[Any]:
    """(topic_id, bucket_start, total, negative) of every topic's 5-minute buckets from `first` to
    `last` inclusive (what the overview sums per hour)."""
    stmt = select(Rollup.topic_id, Rollup.bucket_start, Rollup.total, Rollup.negative).where(
        Rollup.bucket_start >= first, Rollup.bucket_start <= last
    )
    return session.execute(stmt)
