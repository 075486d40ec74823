"""Load and remove the demo: demo-marked topic, sources and channel, then three days of history and
a negative burst pushed through the real pipeline (analysis, topics, rollups, detection, outbox)."""

from __future__ import annotations

import base64
import random
import secrets
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from analysis.grading import GRADE_LABELS, Grade
from app.alerts.models import Incident
from app.cases.models import Case
from app.channels import service as channels
from app.channels.models import ChannelRow
from app.channels.schemas import ChannelCreate, ChannelUpdate
from app.demo import timeline
from app.demo.sample import pool
from app.keys import service as keys
from app.keys.models import ApiKey
from app.pipeline import Pipeline
from app.posts.models import Post, PostTopic, Topic
from app.sources import service as sources
from app.sources.models import Source
from app.sources.schemas import SourceCreate
from app.stats import rollups
from app.topics import service as topics
from app.topics.schemas import TopicCreate

SEED = 7
TOPIC = "星河汽车（演示）"
RULE = "星河汽车 NOT 招聘"
SOURCES = {"演示·微博": {}, "演示·社区": {}, "演示·短视频": {}, "演示·新闻网": {"media": True}}
CHANNEL = "演示·本地接收器"
KEY_NAME = "demo-admin"
BATCH = 500
CALM_RESERVE = 40


@dataclass
class LoadSummary:
    """What `load` did (or found, when the demo was already there)."""

    skipped: bool
    topic_id: int
    history: int = 0
    burst: int = 0
    seconds: float = 0.0
    incident: dict[str, Any] | None = None
    channel_url: str | None = None


@dataclass
class RemoveSummary:
    """How many demo rows `remove` deleted."""

    counts: dict[str, int] = field(default_factory=dict)


def demo_topic(session: Session) -> Topic | None:
    """The demo topic, when the demo is loaded."""
    return session.scalar(select(Topic).where(Topic.demo.is_(True)).order_by(Topic.id).limit(1))


def _setup(session: Session, sink_url: str | None) -> int:
    topic = topics.create(
        session=session,
        demo=True,
        data=TopicCreate(
            name=TOPIC,
            rule=RULE,
            description="演示话题：虚构品牌「星河汽车」。帖子为公开研究语料中的真实微博文本，品牌名为演示注入。",
        ),
    )
    topic.retagged_version = topic.rule_version  # demo posts are tagged at ingest: no background re-tag
    for name, options in SOURCES.items():
        sources.create(session=session, demo=True, data=SourceCreate(name=name, kind="push", options=options))
    if sink_url:
        _sink_channel(session, topic.id, sink_url)
    return topic.id


def _sink_channel(session: Session, topic_id: int, sink_url: str) -> ChannelRow:
    """The demo's signed-webhook channel to the in-app sink.

    The SSRF guard refuses loopback URLs, rightly, for every user-given channel. This one URL is the
    application's own sink, so it is allowed for this single call by passing its host as the only
    allow-list entry (the configured YUQING_URL_ALLOWLIST is not touched), and the channel is marked
    `demo` so `yuqing demo --remove` deletes it.
    """
    existing = session.scalar(select(ChannelRow).where(ChannelRow.demo.is_(True), ChannelRow.name == CHANNEL))
    allow = [urlsplit(sink_url).hostname or "127.0.0.1"]
    if existing is not None:
        if existing.url != sink_url:
            channels.update(
                session=session, channel_id=existing.id, data=ChannelUpdate(url=sink_url), allowlist=allow
            )
        return existing
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    data = ChannelCreate(
        name=CHANNEL, kind="webhook", url=sink_url, secret=secret, topics=[topic_id], min_grade=Grade.GENERAL
    )
    channel = channels.create(session=session, data=data, allowlist=allow)
    channel.demo = True
    return channel


def _fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def _push(pipeline: Pipeline, at: datetime, by_source: dict[str, list[dict[str, Any]]]) -> int:
    """Push each source's posts with the pipeline clock at `at`, a millisecond later per push."""
    accepted = 0
    for step, (name, posts) in enumerate(by_source.items()):
        for start in range(0, len(posts), BATCH):  # the detectors need strictly increasing times
            pipeline.clock = _fixed(at + timedelta(milliseconds=step * 10 + start // BATCH))
            accepted += pipeline.push(name, posts[start : start + BATCH]).accepted
    return accepted


def _history(pipeline: Pipeline, rng: random.Random, everyday: list[Any], now: datetime) -> int:
    posts = timeline.history(everyday, now, rng)
    start = now - timedelta(minutes=timeline.BURST_MINUTES)
    accepted = 0
    for offset in range(0, len(posts), BATCH):
        by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for name, post in posts[offset : offset + BATCH]:
            by_source[name].append(post)
        accepted += _push(pipeline, start + timedelta(seconds=offset // BATCH), by_source)
    return accepted


def load(pipeline: Pipeline, *, now: datetime, sink_url: str | None) -> LoadSummary:
    """Load the demo unless it is there already; history first, then the burst minute by minute."""
    with pipeline.db.session() as session:
        found = demo_topic(session)
        if found is not None:
            if (
                sink_url
                and session.scalar(select(ChannelRow.id).where(ChannelRow.demo.is_(True))) is not None
            ):
                _sink_channel(session, found.id, sink_url)
            return LoadSummary(skipped=True, topic_id=found.id, incident=latest_incident(session, found.id))
    started = time.perf_counter()
    now = timeline.utc(now)
    with pipeline.db.session() as session:
        topic_id = _setup(session, sink_url)
    rng = random.Random(SEED)
    everyday, angry = pool("baseline"), pool("burst")
    original_clock = pipeline.clock
    try:
        history = _history(pipeline, rng, everyday[:-CALM_RESERVE], now)
        burst = sum(
            _push(pipeline, chunk.at, chunk.posts)
            for chunk in timeline.burst(angry, everyday[-CALM_RESERVE:], now, rng)
        )
    finally:
        pipeline.clock = original_clock
    with pipeline.db.session() as session:
        incident = latest_incident(session, topic_id)
    return LoadSummary(
        skipped=False,
        topic_id=topic_id,
        history=history,
        burst=burst,
        seconds=time.perf_counter() - started,
        incident=incident,
        channel_url=sink_url,
    )


def latest_incident(session: Session, topic_id: int) -> dict[str, Any] | None:
    """The demo topic's newest incident as plain facts, or None."""
    incident = session.scalar(
        select(Incident).where(Incident.topic_id == topic_id).order_by(Incident.id.desc())
    )
    if incident is None:
        return None
    return {
        "id": incident.id,
        "status": incident.status,
        "grade": incident.grade,
        "grade_label": GRADE_LABELS.get(incident.grade, incident.grade),
        "title": incident.title,
    }


def admin_key(session: Session) -> str:
    """A fresh `demo-admin` key (an earlier one is replaced: only its hash was stored)."""
    old = session.scalar(select(ApiKey).where(ApiKey.name == KEY_NAME))
    if old is not None:
        session.delete(old)
        session.flush()
    _, plain = keys.create(session=session, name=KEY_NAME, scope="admin")
    return plain


def remove(session: Session) -> RemoveSummary:
    """Delete every demo-marked entity with its posts, incidents and deliveries, and the demo key."""
    topic_ids = list(session.scalars(select(Topic.id).where(Topic.demo.is_(True))))
    source_ids = list(session.scalars(select(Source.id).where(Source.demo.is_(True))))
    affected = set(
        session.scalars(
            select(PostTopic.topic_id)
            .join(Post, Post.id == PostTopic.post_id)
            .where(Post.source_id.in_(source_ids), PostTopic.topic_id.not_in(topic_ids))
            .distinct()
        )
    )
    counts = {
        "posts": session.scalar(select(func.count(Post.id)).where(Post.source_id.in_(source_ids))) or 0,
        "incidents": session.scalar(select(func.count(Incident.id)).where(Incident.topic_id.in_(topic_ids)))
        or 0,
        "topics": len(topic_ids),
        "sources": len(source_ids),
    }
    channel_ids = list(session.scalars(select(ChannelRow.id).where(ChannelRow.demo.is_(True))))
    for channel_id in channel_ids:
        channels.delete(session=session, channel_id=channel_id)
    counts["channels"] = len(channel_ids)
    counts["cases"] = session.scalar(select(func.count(Case.id)).where(Case.topic_id.in_(topic_ids))) or 0
    counts["keys"] = session.scalar(select(func.count(ApiKey.id)).where(ApiKey.name == KEY_NAME)) or 0
    session.execute(delete(Case).where(Case.topic_id.in_(topic_ids)))
    session.execute(delete(Topic).where(Topic.id.in_(topic_ids)))
    session.execute(delete(Source).where(Source.id.in_(source_ids)))
    session.execute(delete(ApiKey).where(ApiKey.name == KEY_NAME))
    for topic_id in affected:  # user topics that also matched demo posts: recount without them
        rollups.rebuild(session, topic_id)
    return RemoveSummary(counts=counts)
