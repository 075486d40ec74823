"""Topic CRUD, rule preview and re-tagging; services never commit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from analysis.rules import Rule, parse_any
from analysis.rules import RuleError as AnalysisRuleError
from app.core import locks
from app.core.bulk import insert_ignore, is_postgresql
from app.core.errors import Conflict, NotFound, RuleError
from app.core.locks import LockKey
from app.posts.models import Post, PostTopic, Topic
from app.topics.schemas import PreviewPost, PreviewResult, TopicCreate, TopicRead, TopicUpdate

_SCAN_BATCH = 2000


def compile_rule(value: str | dict[str, Any]) -> Rule:
    """Parse a rule or raise RuleError naming the position and what was expected."""
    try:
        return parse_any(value)
    except AnalysisRuleError as exc:
        details = {
            "position": getattr(exc, "position", None),
            "expected": getattr(exc, "expected", None),
            "message_zh": getattr(exc, "message_zh", None),
        }
        raise RuleError(f"invalid rule: {getattr(exc, 'message', str(exc))}", details=details) from None
    except (TypeError, ValueError) as exc:
        raise RuleError(f"invalid rule: {exc}") from None


def to_read(topic: Topic) -> TopicRead:
    """A topic as the API shows it."""
    read = TopicRead.model_validate(topic)
    try:
        read.rule_text = str(parse_any(topic.rule))
    except Exception:  # an old rule that no longer parses is still shown
        read.rule_text = ""
    read.retag_pending = topic.retagged_version < topic.rule_version
    return read


def get(*, session: Session, topic_id: int) -> Topic:
    """A topic by id, or NotFound."""
    topic = session.get(Topic, topic_id)
    if topic is None:
        raise NotFound(f"topic {topic_id} not found")
    return topic


def get_by_name(*, session: Session, name: str) -> Topic | None:
    """A topic by name, or None."""
    return session.scalar(select(Topic).where(Topic.name == name))


def list_topics(*, session: Session) -> list[Topic]:
    """All topics in id order."""
    return list(session.scalars(select(Topic).order_by(Topic.id)))


def create(*, session: Session, data: TopicCreate, demo: bool = False) -> Topic:
    """Create a topic; stored posts are tagged in the background."""
    if get_by_name(session=session, name=data.name) is not None:
        raise Conflict(f"a topic named {data.name!r} already exists")
    compile_rule(data.rule)
    topic = Topic(
        name=data.name,
        rule=data.rule,
        description=data.description,
        enabled=data.enabled,
        demo=demo,
        critical_terms=data.critical_terms,
        settings=data.settings,
        rule_version=1,
        retagged_version=0,
    )
    session.add(topic)
    session.flush()
    return topic


def update(*, session: Session, topic_id: int, data: TopicUpdate) -> Topic:
    """Apply a partial update; a changed rule bumps the rule version (re-tag pending)."""
    topic = get(session=session, topic_id=topic_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") not in (None, topic.name) and get_by_name(session=session, name=changes["name"]):
        raise Conflict(f"a topic named {changes['name']!r} already exists")
    if "rule" in changes and changes["rule"] is not None:
        compile_rule(changes["rule"])
        if changes["rule"] != topic.rule:
            topic.rule_version += 1
    for field, value in changes.items():
        if value is not None:
            setattr(topic, field, value)
    return topic


def delete_topic(*, session: Session, topic_id: int) -> None:
    """Delete a topic and its post tags."""
    session.delete(get(session=session, topic_id=topic_id))


def _recent_posts(session: Session, since: datetime) -> Iterator[list[Post]]:
    last_id = 0
    while True:
        stmt = (
            select(Post)
            .where(Post.published_at >= since, Post.id > last_id)
            .order_by(Post.id)
            .limit(_SCAN_BATCH)
        )
        batch = list(session.scalars(stmt))
        if not batch:
            return
        yield batch
        last_id = batch[-1].id


def preview(
    *, session: Session, rule_value: str | dict[str, Any], days: int, sample: int, now: datetime
) -> PreviewResult:
    """Count stored posts of the last `days` days that a rule matches, with a newest-first sample."""
    rule = compile_rule(rule_value)
    scanned = matched = 0
    hits: list[Post] = []
    for batch in _recent_posts(session, now - timedelta(days=days)):
        for post in batch:
            scanned += 1
            if rule.matches(_match_text(post)):
                matched += 1
                hits.append(post)
        hits = sorted(hits, key=lambda p: p.published_at, reverse=True)[:sample]
    return PreviewResult(
        rule_text=str(rule),
        scanned=scanned,
        matched=matched,
        sample=[
            PreviewPost(
                id=p.id, text=p.text[:500], published_at=p.published_at, sentiment=p.sentiment, url=p.url
            )
            for p in hits
        ],
    )


def _match_text(post: Post) -> str:
    return post.text


def retag(*, session: Session, topic: Topic, since: datetime | None = None) -> int:
    """Re-match stored posts against the topic's current rule; returns how many posts it tags.

    Holds the topic's lock exclusively until commit (see `app.stats.rollups.lock_topics`): callers re-tagging
    several topics in one transaction go in id order.
    """
    if is_postgresql(session):
        locks.xact_lock(session, LockKey.TOPIC, topic.id)
    rule = compile_rule(topic.rule)
    session.execute(delete(PostTopic).where(PostTopic.topic_id == topic.id))
    tagged = 0
    for batch in _recent_posts(session, since or datetime.min.replace(tzinfo=topic.created_at.tzinfo)):
        rows = [
            {"topic_id": topic.id, "post_id": p.id, "published_at": p.published_at, "sentiment": p.sentiment}
            for p in batch
            if rule.matches(_match_text(p))
        ]
        # Posts tagged by their own batch meanwhile (it knew the topic already) are skipped.
        insert_ignore(session, PostTopic.__table__, rows)
        tagged += len(rows)
    topic.retagged_version = topic.rule_version
    return tagged
