"""Topics side by side (竞品对比) and each topic's make-up over the last day, read from rollups and
the posts of the window: volume, negative share and share of voice per bucket; sentiment, platform
and source splits; incidents by grade."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis.grading import GRADES
from app.alerts.models import Incident
from app.core.errors import BadRequest, NotFound
from app.posts.models import Post, PostTopic, Topic
from app.sources.models import Source
from app.stats.queries import read
from app.stats.rollups import GRAIN, bucket_start
from app.topics.schemas import ComparedTopic, Comparison, Split, TopicMakeup

MIN_TOPICS, MAX_TOPICS = 2, 5
MAX_BUCKETS = 2000
TOP_SOURCES = 5
UNKNOWN_PLATFORM = "其他"


def _share(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def compare(
    session: Session, topic_ids: list[int], start: datetime, end: datetime, interval: str
) -> Comparison:
    """Volume, negative share and share of voice of 2–5 topics on one time axis."""
    ids = list(dict.fromkeys(topic_ids))
    if not MIN_TOPICS <= len(ids) <= MAX_TOPICS:
        raise BadRequest(f"compare {MIN_TOPICS} to {MAX_TOPICS} distinct topics, got {len(ids)}")
    topics = {topic.id: topic for topic in session.scalars(select(Topic).where(Topic.id.in_(ids)))}
    missing = [topic_id for topic_id in ids if topic_id not in topics]
    if missing:
        raise NotFound(f"topic {missing[0]} not found")
    size = GRAIN[interval].size
    first = bucket_start(start, size)
    starts: list[datetime] = []
    moment = first
    while moment < end:
        starts.append(moment)
        moment += size
    if len(starts) > MAX_BUCKETS:
        raise BadRequest("too many buckets: shorten the range or use a longer interval")
    index = {moment: n for n, moment in enumerate(starts)}
    totals = {topic_id: [0] * len(starts) for topic_id in ids}
    negatives = {topic_id: [0] * len(starts) for topic_id in ids}
    for topic_id in ids:
        for row in read(session, topic_id, first, end, interval):
            n = index.get(row.bucket_start)
            if n is not None:
                totals[topic_id][n], negatives[topic_id][n] = int(row.total), int(row.negative)
    voice = [sum(totals[topic_id][n] for topic_id in ids) for n in range(len(starts))]
    return Comparison(
        start=first,
        end=end,
        interval=interval,
        buckets=starts,
        topics=[
            ComparedTopic(
                topic_id=topic_id,
                name=topics[topic_id].name,
                total=totals[topic_id],
                negative=negatives[topic_id],
                negative_share=[
                    _share(neg, tot) for neg, tot in zip(negatives[topic_id], totals[topic_id], strict=True)
                ],
                share_of_voice=[_share(tot, all_) for tot, all_ in zip(totals[topic_id], voice, strict=True)],
                volume=sum(totals[topic_id]),
                overall_share_of_voice=_share(sum(totals[topic_id]), sum(voice)),
            )
            for topic_id in ids
        ],
    )


def makeup(
    session: Session, topic_id: int, *, now: datetime, window: timedelta = timedelta(days=1)
) -> TopicMakeup:
    """A topic over the last `window`: sentiment, platform and top-source splits; incidents by grade
    (opened in the last 7 days)."""
    since = now - window
    tagged = (
        (PostTopic.post_id == Post.id) & (PostTopic.topic_id == topic_id) & (PostTopic.published_at >= since)
    )
    sentiment: dict[str, int] = defaultdict(int)
    platforms: dict[str, int] = defaultdict(int)
    for label, platform, posts in session.execute(
        select(Post.sentiment, Post.platform, func.count())
        .join(PostTopic, tagged)
        .group_by(Post.sentiment, Post.platform)
    ):
        sentiment[label or "unknown"] += posts
        platforms[platform or UNKNOWN_PLATFORM] += posts
    top = session.execute(
        select(Post.source_id, func.count())
        .join(PostTopic, tagged)
        .group_by(Post.source_id)
        .order_by(func.count().desc(), Post.source_id)
        .limit(TOP_SOURCES)
    ).all()
    named = select(Source.id, Source.name).where(Source.id.in_([source_id for source_id, _ in top]))
    names = {row[0]: row[1] for row in session.execute(named)}
    graded = (
        select(Incident.grade, func.count())
        .where(Incident.topic_id == topic_id, Incident.opened_at >= now - timedelta(days=7))
        .group_by(Incident.grade)
    )
    grades = {row[0]: int(row[1]) for row in session.execute(graded)}
    return TopicMakeup(
        sentiment=[Split(name=name, posts=posts) for name, posts in sorted(sentiment.items())],
        platforms=[
            Split(name=name, posts=posts) for name, posts in sorted(platforms.items(), key=lambda kv: -kv[1])
        ],
        top_sources=[
            Split(name=names.get(source_id, f"#{source_id}"), posts=int(posts)) for source_id, posts in top
        ],
        incidents_7d={grade: int(grades.get(grade, 0)) for grade in GRADES},
    )
