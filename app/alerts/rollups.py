"""Per-topic 5-minute rollups, maintained incrementally at ingest (late posts update old buckets)
and read by trend queries, so trends stay fast at millions of posts."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.alerts.models import Rollup, RollupMember
from app.posts.ingest import StoredPost
from app.posts.models import Post, PostTopic

BUCKET = timedelta(minutes=5)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bucket_start(moment: datetime, size: timedelta = BUCKET) -> datetime:
    """Start of the bucket that contains `moment`."""
    seconds = int((moment - _EPOCH).total_seconds())
    step = int(size.total_seconds())
    return _EPOCH + timedelta(seconds=seconds - seconds % step)


@dataclass
class _Delta:
    total: int = 0
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    engagement: int = 0
    members: set[tuple[str, str]] = field(default_factory=set)


def _member(kind: str, value: object) -> tuple[str, str]:
    text = str(value)
    if len(text) > 40:
        text = hashlib.sha1(text.encode()).hexdigest()
    return kind, text


def _deltas(posts: Iterable[StoredPost]) -> dict[tuple[int, datetime], _Delta]:
    deltas: dict[tuple[int, datetime], _Delta] = defaultdict(_Delta)
    for post in posts:
        start = bucket_start(post.published_at)
        for topic_id in post.topic_ids:
            delta = deltas[(topic_id, start)]
            delta.total += 1
            if post.sentiment in ("positive", "neutral", "negative"):
                setattr(delta, post.sentiment, getattr(delta, post.sentiment) + 1)
            delta.engagement += post.engagement_total
            delta.members.add(_member("s", post.source_id))
            if post.author:
                delta.members.add(_member("a", post.author))
            if post.platform:
                delta.members.add(_member("p", post.platform))
    return deltas


def _dialect_insert(session: Session, table):  # type: ignore[no-untyped-def]
    return (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert(table)


def _new_member_counts(
    session: Session, deltas: dict[tuple[int, datetime], _Delta]
) -> dict[tuple[int, datetime, str], int]:
    rows = [
        {"topic_id": t, "bucket_start": b, "kind": kind, "member": member}
        for (t, b), delta in deltas.items()
        for kind, member in delta.members
    ]
    counts: dict[tuple[int, datetime, str], int] = defaultdict(int)
    if not rows:
        return counts
    table = RollupMember.__table__
    stmt = (
        _dialect_insert(session, table)
        .on_conflict_do_nothing()
        .returning(table.c.topic_id, table.c.bucket_start, table.c.kind)
    )
    for row in session.execute(stmt, rows):
        counts[(row.topic_id, row.bucket_start, row.kind)] += 1
    return counts


def apply(session: Session, posts: Sequence[StoredPost], now: datetime | None = None) -> set[int]:
    """Add newly stored posts to their topics' buckets; returns the topic ids touched."""
    deltas = _deltas(posts)
    if not deltas:
        return set()
    new_members = _new_member_counts(session, deltas)
    table = Rollup.__table__
    rows = [
        {
            "topic_id": t,
            "bucket_start": b,
            "total": d.total,
            "positive": d.positive,
            "neutral": d.neutral,
            "negative": d.negative,
            "engagement": d.engagement,
            "authors": new_members.get((t, b, "a"), 0),
            "sources": new_members.get((t, b, "s"), 0),
        }
        for (t, b), d in sorted(deltas.items())
    ]
    stmt = _dialect_insert(session, table)
    counters = ("total", "positive", "neutral", "negative", "engagement", "authors", "sources")
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.topic_id, table.c.bucket_start],
        set_={name: table.c[name] + stmt.excluded[name] for name in counters},
    )
    session.execute(stmt, rows)
    return {t for t, _ in deltas}


def rebuild(session: Session, topic_id: int) -> None:
    """Recompute a topic's rollups from its tagged posts (after a rule change re-tags them)."""
    session.execute(delete(Rollup).where(Rollup.topic_id == topic_id))
    session.execute(delete(RollupMember).where(RollupMember.topic_id == topic_id))
    last_id = 0
    while True:
        stmt = (
            select(
                Post.id,
                Post.published_at,
                Post.sentiment,
                Post.author,
                Post.source_id,
                Post.platform,
                Post.engagement_total,
                Post.text,
            )
            .join(PostTopic, and_(PostTopic.post_id == Post.id, PostTopic.topic_id == topic_id))
            .where(Post.id > last_id)
            .order_by(Post.id)
            .limit(5000)
        )
        rows = session.execute(stmt).all()
        if not rows:
            return
        apply(
            session,
            [
                StoredPost(
                    id=r.id,
                    published_at=r.published_at,
                    sentiment=r.sentiment,
                    author=r.author,
                    source_id=r.source_id,
                    platform=r.platform,
                    engagement_total=r.engagement_total,
                    cluster_id=None,
                    topic_ids=[topic_id],
                    keywords=[],
                    text="",
                )
                for r in rows
            ],
        )
        last_id = rows[-1].id


def read(session: Session, topic_id: int, start: datetime, end: datetime) -> list[Rollup]:
    """Stored 5-minute buckets of a topic in [start, end), oldest first (empty buckets absent)."""
    stmt = (
        select(Rollup)
        .where(Rollup.topic_id == topic_id, Rollup.bucket_start >= start, Rollup.bucket_start < end)
        .order_by(Rollup.bucket_start)
    )
    return list(session.scalars(stmt))


def distinct_members(session: Session, topic_id: int, start: datetime, end: datetime, kind: str) -> int:
    """Distinct authors ('a'), sources ('s') or platforms ('p') of a topic over a time range."""
    stmt = select(func.count(func.distinct(RollupMember.member))).where(
        RollupMember.topic_id == topic_id,
        RollupMember.kind == kind,
        RollupMember.bucket_start >= start,
        RollupMember.bucket_start < end,
    )
    return int(session.scalar(stmt) or 0)
