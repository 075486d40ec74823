"""Per-topic rollups at three grains — 5 minutes, 1 hour and 1 day (UTC) — maintained incrementally at
ingest (late posts update their buckets at every grain) and read by detectors and trend queries, so
trends read a few rows of the requested grain even at millions of posts.

Distinct authors and sources are exact at every grain: each grain keeps its own member rows, and a
post's author or source adds one to a bucket's count only when its member row is new there. A member
new to an hour can only be new to its 5-minute bucket too (the hour holds every member of its
5-minute buckets, written in the same transaction), so only the members new at the finer grain are
tried at the coarser one.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, select, text, update
from sqlalchemy.orm import Session

from analysis.sentiment.labels import SentimentLabel
from app.core import locks
from app.core.bulk import dialect_insert, is_postgresql
from app.core.locks import LockKey
from app.posts.ingest import StoredPost
from app.posts.models import Post, PostTopic
from app.stats.models import (
    DailyRollup,
    DailyRollupMember,
    HourlyRollup,
    HourlyRollupMember,
    Rollup,
    RollupMember,
)

log = logging.getLogger(__name__)
BUCKET = timedelta(minutes=5)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SENTIMENT_COUNTERS: tuple[str, ...] = (
    SentimentLabel.POSITIVE,
    SentimentLabel.NEUTRAL,
    SentimentLabel.NEGATIVE,
)
_COUNTERS = ("total", *SENTIMENT_COUNTERS, "engagement")


@dataclass(frozen=True)
class Grain:
    """One rollup grain: its bucket size, its tables, and the member kinds it counts."""

    name: str
    size: timedelta
    rollup: Any  # the mapped class: Rollup, HourlyRollup or DailyRollup
    member: Any  # RollupMember, HourlyRollupMember or DailyRollupMember
    kinds: tuple[str, ...]


GRAINS: tuple[Grain, ...] = (
    Grain("5m", BUCKET, Rollup, RollupMember, ("a", "s", "p")),
    Grain("1h", timedelta(hours=1), HourlyRollup, HourlyRollupMember, ("a", "s")),
    Grain("1d", timedelta(days=1), DailyRollup, DailyRollupMember, ("a", "s")),
)
GRAIN = {grain.name: grain for grain in GRAINS}

MemberKey = tuple[int, datetime, str, str]  # topic, bucket start, kind, member


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

    def add(self, other: _Delta) -> None:
        """Add another bucket's counters (not its members)."""
        for name in _COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


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


def _new_members(session: Session, grain: Grain, keys: set[MemberKey]) -> set[MemberKey]:
    """Insert a grain's member rows, skipping those present; returns the ones that were new (the
    portable path, used on SQLite). Rows go in primary-key order."""
    if not keys:
        return set()
    table = grain.member.__table__
    order = (
        (lambda k: (k[0], k[1], k[2], k[3])) if grain.name == "5m" else (lambda k: (k[0], k[2], k[1], k[3]))
    )
    rows = [
        {"topic_id": t, "bucket_start": b, "kind": kind, "member": member}
        for t, b, kind, member in sorted(keys, key=order)
    ]
    stmt = (
        dialect_insert(session, table)
        .on_conflict_do_nothing()
        .returning(table.c.topic_id, table.c.bucket_start, table.c.kind, table.c.member)
    )
    return {(r.topic_id, r.bucket_start, r.kind, r.member) for r in session.execute(stmt, rows)}


def _add_counts(
    session: Session, grain: Grain, deltas: dict[tuple[int, datetime], _Delta], new: set[MemberKey]
) -> None:
    """Upsert a grain's buckets: counters added, distinct counts raised by the members new there."""
    fresh: dict[tuple[int, datetime, str], int] = defaultdict(int)
    for t, b, kind, _ in new:
        fresh[(t, b, kind)] += 1
    table = grain.rollup.__table__
    rows = [
        {
            "topic_id": t,
            "bucket_start": b,
            **{name: getattr(d, name) for name in _COUNTERS},
            "authors": fresh.get((t, b, "a"), 0),
            "sources": fresh.get((t, b, "s"), 0),
        }
        for (t, b), d in sorted(deltas.items())
    ]
    stmt = dialect_insert(session, table)
    counters = (*_COUNTERS, "authors", "sources")
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.topic_id, table.c.bucket_start],
        set_={name: table.c[name] + stmt.excluded[name] for name in counters},
    )
    session.execute(stmt, rows)


def _pg_apply_sql() -> str:
    """One PostgreSQL statement for a whole batch: the 5-minute members (arrays `m_*`) cascade to the
    hourly and daily members, and each grain's deltas (arrays `g<i>_*`) are upserted with the counts of
    the members new there. One round trip and a short query text, whatever the batch size."""
    epoch = "timestamptz '1970-01-01 00:00:00+00'"
    parts = [
        "m_input AS (SELECT * FROM unnest(CAST(:m_topic AS integer[]), CAST(:m_bucket AS timestamptz[]), "
        "CAST(:m_kind AS varchar[]), CAST(:m_member AS varchar[])) "
        "AS i(topic_id, bucket_start, kind, member))"
    ]
    counters = ", ".join(_COUNTERS)
    previous = "m_input"
    for index, grain in enumerate(GRAINS):
        g = f"g{index}"
        seconds = int(grain.size.total_seconds())
        bucket = "bucket_start" if index == 0 else f"date_bin('{seconds} seconds', bucket_start, {epoch})"
        kinds = ", ".join(f"'{kind}'" for kind in grain.kinds)
        members, rollup = grain.member.__tablename__, grain.rollup.__tablename__
        arrays = ", ".join(
            [f"CAST(:{g}_topic_id AS integer[])", f"CAST(:{g}_bucket_start AS timestamptz[])"]
            + [f"CAST(:{g}_{name} AS bigint[])" for name in _COUNTERS]
        )
        updates = ", ".join(
            f"{name} = {rollup}.{name} + excluded.{name}" for name in (*_COUNTERS, "authors", "sources")
        )
        parts += [
            f"{g}_new AS (INSERT INTO {members} (topic_id, kind, bucket_start, member) "
            f"SELECT DISTINCT topic_id, kind, {bucket}, member FROM {previous} WHERE kind IN ({kinds}) "
            "ORDER BY 1, 2, 3, 4 ON CONFLICT DO NOTHING RETURNING topic_id, kind, bucket_start, member)",
            f"{g}_fresh AS (SELECT topic_id, bucket_start, count(*) FILTER (WHERE kind = 'a') AS authors, "
            f"count(*) FILTER (WHERE kind = 's') AS sources FROM {g}_new GROUP BY 1, 2)",
            f"{g}_delta AS (SELECT * FROM unnest({arrays}) AS d(topic_id, bucket_start, {counters}))",
            f"{g}_up AS (INSERT INTO {rollup} (topic_id, bucket_start, {counters}, authors, sources) "
            f"SELECT d.topic_id, d.bucket_start, {', '.join(f'd.{name}' for name in _COUNTERS)}, "
            f"coalesce(f.authors, 0), coalesce(f.sources, 0) FROM {g}_delta AS d LEFT JOIN {g}_fresh AS f "
            "ON f.topic_id = d.topic_id AND f.bucket_start = d.bucket_start ORDER BY 1, 2 "
            f"ON CONFLICT (topic_id, bucket_start) DO UPDATE SET {updates} RETURNING 1)",
        ]
        previous = f"{g}_new"
    total = " + ".join(f"(SELECT count(*) FROM g{index}_up)" for index in range(len(GRAINS)))
    return "WITH " + ",\n".join(parts) + f"\nSELECT {total}"


_PG_APPLY = text(_pg_apply_sql())


def _apply_postgresql(session: Session, fine: dict[tuple[int, datetime], _Delta]) -> None:
    keys = sorted((t, b, kind, member) for (t, b), d in fine.items() for kind, member in d.members)
    params: dict[str, list[Any]] = {
        "m_topic": [k[0] for k in keys],
        "m_bucket": [k[1] for k in keys],
        "m_kind": [k[2] for k in keys],
        "m_member": [k[3] for k in keys],
    }
    for index, grain in enumerate(GRAINS):
        deltas = fine if index == 0 else _coarsen(fine, grain.size)
        rows = sorted(deltas.items())
        params[f"g{index}_topic_id"] = [t for (t, _), _ in rows]
        params[f"g{index}_bucket_start"] = [b for (_, b), _ in rows]
        for name in _COUNTERS:
            params[f"g{index}_{name}"] = [getattr(d, name) for _, d in rows]
    session.execute(_PG_APPLY, params)


def _coarsen(fine: dict[tuple[int, datetime], _Delta], size: timedelta) -> dict[tuple[int, datetime], _Delta]:
    coarse: dict[tuple[int, datetime], _Delta] = defaultdict(_Delta)
    for (t, b), delta in fine.items():
        coarse[(t, bucket_start(b, size))].add(delta)
    return coarse


def lock_topics(session: Session, topic_ids: Iterable[int]) -> None:
    """Hold shared locks on these topics until commit (PostgreSQL; SQLite has one writer).

    Ingest and corrections take them, in id order, before changing the topics' rollups; a re-tag takes
    the topic's lock exclusively (`app.topics.service.retag`). So a re-tag and its rollup rebuild see
    either all of a concurrent batch or none of it — a batch committing midway was counted twice, by
    the rebuild and by its own rollup update.
    """
    if is_postgresql(session):
        for topic_id in sorted(set(topic_ids)):
            locks.xact_lock(session, LockKey.TOPIC, topic_id, shared=True)


def on_stored(session: Session, stored: Sequence[StoredPost], now: datetime) -> None:
    """Pipeline hook: add newly stored posts to their topics' rollups, under the topics' shared locks.
    Wired before the alert engine's hook, so detection reads the updated buckets."""
    lock_topics(session, {topic_id for post in stored for topic_id in post.topic_ids})
    apply(session, stored, now)


def apply(session: Session, posts: Sequence[StoredPost], now: datetime | None = None) -> set[int]:
    """Add newly stored posts to their topics' buckets at every grain; returns the topic ids touched."""
    fine = _deltas(posts)
    if not fine:
        return set()
    if is_postgresql(session):
        _apply_postgresql(session, fine)
        return {t for t, _ in fine}
    new = _new_members(
        session, GRAINS[0], {(t, b, kind, member) for (t, b), d in fine.items() for kind, member in d.members}
    )
    _add_counts(session, GRAINS[0], fine, new)
    for grain in GRAINS[1:]:
        candidates = {
            (t, bucket_start(b, grain.size), kind, member)
            for t, b, kind, member in new
            if kind in grain.kinds
        }
        new = _new_members(session, grain, candidates)
        _add_counts(session, grain, _coarsen(fine, grain.size), new)
    return {t for t, _ in fine}


def relabel(
    session: Session, topic_ids: Iterable[int], published_at: datetime, old: str | None, new: str
) -> None:
    """Move one post from sentiment `old` to `new` in its topics' buckets at every grain (an analyst's
    correction): one UPDATE per grain, exact on both databases, under the topics' shared locks (a
    concurrent re-tag rebuild sees all of it or none). Totals, engagement and members stay."""
    if old == new:
        return
    ids = sorted(set(topic_ids))
    if not ids:
        return
    lock_topics(session, ids)
    for grain in GRAINS:
        model = grain.rollup
        changes: dict[str, Any] = {new: getattr(model, new) + 1}
        if old in SENTIMENT_COUNTERS:
            changes[old] = getattr(model, old) - 1
        session.execute(
            update(model)
            .where(model.topic_id.in_(ids), model.bucket_start == bucket_start(published_at, grain.size))
            .values(changes)
        )


def rebuild(session: Session, topic_id: int) -> None:
    """Recompute a topic's rollups at every grain from its tagged posts (after a rule change re-tags
    them). Buckets of posts already pruned by retention are not kept: they counted the old rule."""
    for grain in GRAINS:
        session.execute(delete(grain.rollup).where(grain.rollup.topic_id == topic_id))
        session.execute(delete(grain.member).where(grain.member.topic_id == topic_id))
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


def prune_members(session: Session, topic_ids: Iterable[int], before: datetime) -> int:
    """Delete the 5-minute member rows of buckets that end by `before` (their raw posts are pruned):
    only late posts into those buckets would read them. Hourly and daily members stay with the
    rollups, so their distinct counts stay exact; a post older than the retention period that still
    arrives counts its author and source again in its (already pruned) 5-minute bucket. One index
    range per topic; returns the rows deleted."""
    cutoff = bucket_start(before)
    removed = 0
    for topic_id in topic_ids:
        result = session.execute(
            delete(RollupMember).where(RollupMember.topic_id == topic_id, RollupMember.bucket_start < cutoff)
        )
        removed += int(getattr(result, "rowcount", 0) or 0)
    if removed:
        log.info("retention pruned %d 5-minute rollup members before %s", removed, before.isoformat())
    return removed
