"""An incident's story: what was said, where and by whom — the facts an analyst reads first.

The story window runs from `LEAD` before the incident opened to its resolution (or now). From the
topic's posts in that window it gathers: the trend around the incident with the alert moments, the
first posts (首发: the earliest of the window and of the incident's near-duplicate clusters), the
posts that carried it (most engagement first, paged), the accounts and sources that carried it most,
and how it spread across platforms over time. Reads only; the caller owns the session.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from analysis.grading import Grade
from app.alerts.models import Alert, Incident
from app.alerts.schemas import (
    IncidentStory,
    StoryAccount,
    StoryAlert,
    StoryBucket,
    StoryPost,
    StorySource,
    StorySpread,
)
from app.core.db import utcnow
from app.posts.models import Post, PostTopic
from app.sources.models import Source
from app.stats.queries import read
from app.stats.rollups import GRAIN, bucket_start

LEAD = timedelta(hours=2)  # the story starts this long before the incident opened
CONTEXT = timedelta(hours=6)  # the trend shows this much more history before the story
FIRST_POSTS = 5
TOP_ACCOUNTS = 10
TOP_SOURCES = 10
TEXT_CHARS = 500
UNKNOWN_PLATFORM = "其他"


@dataclass(frozen=True)
class StoryWindow:
    """The story's time range and the grain its charts use."""

    start: datetime
    end: datetime

    @property
    def grain(self) -> str:
        """5-minute buckets for up to a day, hourly beyond."""
        return "5m" if self.end - self.start <= timedelta(days=1) else "1h"


def window_of(incident: Incident, now: datetime) -> StoryWindow:
    """From `LEAD` before the incident opened to its resolution, or now while it is active."""
    end = incident.resolved_at or now
    return StoryWindow(incident.opened_at - LEAD, max(end, incident.opened_at) + timedelta(seconds=1))


def _in_window(topic_id: int, win: StoryWindow):  # type: ignore[no-untyped-def]
    return and_(
        PostTopic.post_id == Post.id,
        PostTopic.topic_id == topic_id,
        PostTopic.published_at >= win.start,
        PostTopic.published_at < win.end,
    )


def _post(row: Post, sources: dict[int, str]) -> StoryPost:
    return StoryPost(
        id=row.id,
        text=(row.text or row.title or "")[:TEXT_CHARS],
        title=row.title,
        url=row.url,
        author=row.author,
        author_followers=row.author_followers,
        author_verified=row.author_verified,
        platform=row.platform,
        source=sources.get(row.source_id, ""),
        published_at=row.published_at,
        collected_at=row.collected_at,
        sentiment=row.sentiment,
        engagement=row.engagement_total,
        cluster_id=row.cluster_id,
    )


def _source_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {
        row.id: row.name for row in session.execute(select(Source.id, Source.name).where(Source.id.in_(ids)))
    }


def _first_posts(session: Session, incident: Incident, win: StoryWindow) -> list[Post]:
    earliest = (
        select(Post)
        .join(PostTopic, _in_window(incident.topic_id, win))
        .order_by(Post.published_at, Post.id)
        .limit(FIRST_POSTS)
    )
    found = {post.id: post for post in session.scalars(earliest)}
    clusters = [int(c) for c in incident.cluster_ids or []]
    if clusters:
        heads = (
            select(func.min(Post.id))
            .where(Post.cluster_id.in_(clusters) | Post.id.in_(clusters))
            .group_by(func.coalesce(Post.cluster_id, Post.id))
        )
        for post in session.scalars(select(Post).where(Post.id.in_(heads))):
            found.setdefault(post.id, post)
    return sorted(found.values(), key=lambda post: (post.published_at, post.id))


def _posts(session: Session, topic_id: int, win: StoryWindow, *, limit: int, offset: int) -> list[Post]:
    stmt = (
        select(Post)
        .join(PostTopic, _in_window(topic_id, win))
        .order_by(Post.engagement_total.desc(), case((Post.sentiment == "negative", 0), else_=1), Post.id)
        .offset(offset)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _accounts(session: Session, topic_id: int, win: StoryWindow) -> list[StoryAccount]:
    """The accounts that carried the story, by reach where known (followers, largest first; accounts
    of unknown reach after), then by posts and engagement."""
    posts = func.count(Post.id)
    followers = func.max(Post.author_followers)
    stmt = (
        select(
            Post.author,
            func.max(Post.author_id),
            followers,
            func.max(case((Post.author_verified.is_(True), 1), (Post.author_verified.is_(False), 0))),
            func.max(Post.platform),
            posts,
            func.coalesce(func.sum(Post.engagement_total), 0),
            func.sum(case((Post.sentiment == "negative", 1), else_=0)),
            func.min(Post.published_at),
        )
        .join(PostTopic, _in_window(topic_id, win))
        .where(Post.author.is_not(None))
        .group_by(Post.author)
        .order_by(
            func.coalesce(followers, -1).desc(),
            posts.desc(),
            func.sum(Post.engagement_total).desc(),
            Post.author,
        )
        .limit(TOP_ACCOUNTS)
    )
    rows = session.execute(stmt).all()
    return [
        StoryAccount(
            author=author,
            author_id=author_id,
            followers=None if reach is None else int(reach),
            verified=None if verified is None else bool(verified),
            platform=platform,
            posts=int(count),
            engagement=int(engagement or 0),
            negative=int(negative or 0),
            first_seen=first,
        )
        for author, author_id, reach, verified, platform, count, engagement, negative, first in rows
    ]


def _sources(session: Session, topic_id: int, win: StoryWindow) -> list[StorySource]:
    posts = func.count(Post.id)
    stmt = (
        select(
            Post.source_id,
            posts,
            func.coalesce(func.sum(Post.engagement_total), 0),
            func.sum(case((Post.sentiment == "negative", 1), else_=0)),
            func.min(Post.published_at),
        )
        .join(PostTopic, _in_window(topic_id, win))
        .group_by(Post.source_id)
        .order_by(posts.desc(), Post.source_id)
        .limit(TOP_SOURCES)
    )
    rows = session.execute(stmt).all()
    details = {
        row.id: row
        for row in session.execute(
            select(Source.id, Source.name, Source.kind, Source.media).where(
                Source.id.in_([r[0] for r in rows])
            )
        )
    }
    return [
        StorySource(
            source_id=source_id,
            source=details[source_id].name if source_id in details else "",
            media=bool(details[source_id].media) if source_id in details else False,
            posts=int(count),
            engagement=int(engagement or 0),
            negative=int(negative or 0),
            first_seen=first,
        )
        for source_id, count, engagement, negative, first in rows
    ]


def _spread(session: Session, topic_id: int, win: StoryWindow) -> list[StorySpread]:
    size = GRAIN[win.grain].size
    counts: dict[tuple[datetime, str], int] = defaultdict(int)
    stmt = select(Post.published_at, Post.platform).join(PostTopic, _in_window(topic_id, win))
    for published_at, platform in session.execute(stmt):
        counts[(bucket_start(published_at, size), platform or UNKNOWN_PLATFORM)] += 1
    return [
        StorySpread(bucket_start=moment, platform=platform, posts=posts)
        for (moment, platform), posts in sorted(counts.items())
    ]


def _trend(session: Session, topic_id: int, win: StoryWindow) -> list[StoryBucket]:
    size = GRAIN[win.grain].size
    start = bucket_start(win.start - CONTEXT, size)
    stored = {row.bucket_start: row for row in read(session, topic_id, start, win.end, win.grain)}
    buckets = []
    moment = start
    while moment < win.end:
        row = stored.get(moment)
        buckets.append(
            StoryBucket(
                bucket_start=moment,
                total=int(row.total) if row else 0,
                negative=int(row.negative) if row else 0,
            )
        )
        moment += size
    return buckets


def _alerts(session: Session, incident: Incident) -> list[StoryAlert]:
    stmt = select(Alert).where(Alert.incident_id == incident.id).order_by(Alert.fired_at, Alert.id)
    return [
        StoryAlert(fired_at=a.fired_at, detector=a.detector, grade=Grade(a.grade), headline=a.headline)
        for a in session.scalars(stmt)
    ]


def story(
    session: Session, incident: Incident, *, limit: int = 10, offset: int = 0, now: datetime | None = None
) -> IncidentStory:
    """The incident's story (see the module docstring); `limit`/`offset` page its posts."""
    win = window_of(incident, now or utcnow())
    first = _first_posts(session, incident, win)
    posts = _posts(session, incident.topic_id, win, limit=limit, offset=offset)
    names = _source_names(session, {p.source_id for p in (*first, *posts)})
    total = session.scalar(
        select(func.count())
        .select_from(PostTopic)
        .where(
            PostTopic.topic_id == incident.topic_id,
            PostTopic.published_at >= win.start,
            PostTopic.published_at < win.end,
        )
    )
    return IncidentStory(
        incident_id=incident.id,
        topic_id=incident.topic_id,
        start=win.start,
        end=win.end,
        grain=win.grain,
        bucket_minutes=int(GRAIN[win.grain].size.total_seconds() // 60),
        posts_total=int(total or 0),
        trend=_trend(session, incident.topic_id, win),
        alerts=_alerts(session, incident),
        first_posts=[_post(p, names) for p in first],
        posts=[_post(p, names) for p in posts],
        accounts=_accounts(session, incident.topic_id, win),
        sources=_sources(session, incident.topic_id, win),
        spread=_spread(session, incident.topic_id, win),
    )
