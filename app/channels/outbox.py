"""The outbox: a notice per incident change, written in the alert change's own transaction.

`Outbox(settings)` is the alert engine's `NoticeWriter`: `outbox(session, incident, kind, now)`
composes the notice from the database (topic, grade, reasons, trend, top negative posts, keywords,
checklist, links), stores one `Notice` row and one pending `Delivery` per routed channel. Routing:
enabled channels whose topic filter and `min_grade` accept the incident (a resolution also reaches
every channel that heard about the incident). Timing: quiet hours postpone all but 严重 to the end
of the window; a minimum interval per incident and channel postpones everything but escalations.
Nothing is dropped except a reminder that would only repeat news still waiting to go out.
The dispatcher (app/channels/dispatcher.py) delivers the rows.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.alerts.models import Incident, IncidentEvent, Rollup
from app.alerts.rollups import BUCKET, bucket_start
from app.channels.models import Channel, Delivery
from app.channels.models import Notice as NoticeRow
from app.channels.notice import Notice, NoticePost, grade_rank
from app.core.config import Settings
from app.posts import insights
from app.posts.models import Post, PostTopic
from app.sources.models import Source
from app.topics.models import Topic

log = logging.getLogger(__name__)
TREND_BUCKETS = 24
POST_WINDOW = timedelta(hours=1)
TOP_POSTS = 5
TOP_KEYWORDS = 10


def quiet_until(quiet_hours: Mapping[str, Any] | None, now: datetime) -> datetime | None:
    """End of the quiet window that contains `now` (UTC), or None outside quiet hours."""
    if not quiet_hours:
        return None
    zone = ZoneInfo(quiet_hours.get("timezone") or "Asia/Shanghai")
    start, end = time.fromisoformat(quiet_hours["start"]), time.fromisoformat(quiet_hours["end"])
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start == end:
        return None
    if start < end:
        inside, end_day = start <= clock < end, local.date()
    else:
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(now.tzinfo)


def accepts(channel: Channel, *, topic_id: int, grade: str, kind: str, informed: bool) -> bool:
    """Whether a channel's routing takes a notice of this topic, grade and kind."""
    if not channel.enabled:
        return False
    if channel.topics is not None and topic_id not in channel.topics:
        return False
    if kind == "resolved" and informed:
        return True
    return grade_rank(grade) >= grade_rank(channel.min_grade or "general")


def _reasons(session: Session, incident: Incident, kind: str, now: datetime) -> list[str]:
    stmt = (
        select(IncidentEvent)
        .where(
            IncidentEvent.incident_id == incident.id,
            IncidentEvent.kind.in_(("opened", "escalated", "resolved")),
        )
        .order_by(IncidentEvent.id.desc())
    )
    events = list(session.scalars(stmt))
    graded = next((e for e in events if e.kind != "resolved"), None)
    reasons = [str(r) for r in (graded.data or {}).get("reasons", [])] if graded else []
    if not reasons and incident.inputs:
        inputs = incident.inputs
        reasons = [
            f"5 分钟声量 {inputs.get('observed', 0):g} 条，为基线 {inputs.get('ratio', 0):g} 倍，"
            f"负面占比 {float(inputs.get('negative_share', 0)):.0%}"
        ]
    if kind == "resolved":
        closing = next((e for e in events if e.kind == "resolved"), None)
        return [closing.message] if closing and closing.message else ["事件已解除"]
    if kind == "reminder":
        minutes = int((now - incident.opened_at).total_seconds() // 60)
        return [f"事件已持续 {minutes} 分钟，仍未确认，请尽快处置", *reasons]
    return reasons


def _trend(session: Session, topic_id: int, now: datetime) -> list[int]:
    last = bucket_start(now)
    first = last - BUCKET * (TREND_BUCKETS - 1)
    stmt = select(Rollup.bucket_start, Rollup.total).where(
        Rollup.topic_id == topic_id, Rollup.bucket_start >= first, Rollup.bucket_start <= last
    )
    totals = {start: total for start, total in session.execute(stmt)}
    return [int(totals.get(first + BUCKET * i, 0)) for i in range(TREND_BUCKETS)]


def _top_posts(session: Session, topic_id: int, now: datetime) -> list[NoticePost]:
    stmt = (
        select(Post, Source.name)
        .join(PostTopic, PostTopic.post_id == Post.id)
        .join(Source, Source.id == Post.source_id)
        .where(
            PostTopic.topic_id == topic_id,
            PostTopic.sentiment == "negative",
            PostTopic.published_at >= now - POST_WINDOW,
            PostTopic.published_at <= now,
        )
        .order_by(Post.sentiment_score.asc(), Post.engagement_total.desc(), Post.id.desc())
        .limit(TOP_POSTS * 10)
    )
    rows = list(session.execute(stmt))
    rows.sort(key=lambda row: (round(row[0].sentiment_score or 0.0, 1), -(row[0].engagement_total or 0)))
    return [
        NoticePost(
            text=post.text or post.title or "",
            url=post.url,
            author=post.author,
            source=source,
            published_at=post.published_at,
            sentiment_score=post.sentiment_score,
        )
        for post, source in rows[:TOP_POSTS]
    ]


def _keywords(session: Session, topic: Topic | None, now: datetime) -> list[str]:
    """The topic's keywords of the last hour (the one definition, `insights.topic_keywords`)."""
    if topic is None:
        return []
    found = insights.topic_keywords(
        session=session, topic=topic, start=now - POST_WINDOW, end=now, k=TOP_KEYWORDS, recent_buckets=1
    )
    return [keyword.term for keyword in found.keywords]


def compose_notice(
    session: Session, incident: Incident, kind: str, now: datetime, *, base_url: str
) -> Notice:
    """The notice for an incident change, with its context read from the database."""
    topic = session.get(Topic, incident.topic_id)
    base = base_url.rstrip("/")
    steps = (
        []
        if incident.status == "resolved"
        else [str(item.get("text", "")) for item in incident.checklist or [] if not item.get("done")]
    )
    return Notice(
        id=str(uuid.uuid4()),
        kind=kind,
        incident_id=incident.id,
        topic=topic.name if topic else "",
        grade=incident.grade,
        headline=incident.headline or incident.title,
        created_at=now,
        reasons=_reasons(session, incident, kind, now),
        trend=_trend(session, incident.topic_id, now),
        top_posts=[] if kind == "resolved" else _top_posts(session, incident.topic_id, now),
        keywords=_keywords(session, topic, now),
        checklist=steps,
        incident_url=f"{base}/#/incidents/{incident.id}",
        api_url=f"{base}/api/v1/incidents/{incident.id}",
        status=incident.status,
    )


class Outbox:
    """The `NoticeWriter`: `outbox(session, incident, kind, now)` writes the notice and its deliveries."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.min_interval = timedelta(minutes=settings.outbox_min_interval_minutes)
        self.reminder_interval = timedelta(minutes=settings.reminder_interval_minutes)

    def __call__(self, session: Session, incident: Incident, kind: str, now: datetime) -> None:
        """Store the notice and one delivery per routed channel, in the caller's transaction."""
        notice = compose_notice(session, incident, kind, now, base_url=self.settings.base_url)
        session.add(
            NoticeRow(
                id=notice.id,
                incident_id=incident.id,
                topic_id=incident.topic_id,
                kind=kind,
                grade=notice.grade,
                payload=notice.to_dict(),
                created_at=now,
            )
        )
        session.flush()
        informed = set(
            session.scalars(select(Delivery.channel_id).where(Delivery.incident_id == incident.id))
        )
        channels = session.scalars(select(Channel).where(Channel.enabled.is_(True)).order_by(Channel.id))
        queued = [
            channel.id
            for channel in channels
            if accepts(
                channel,
                topic_id=incident.topic_id,
                grade=notice.grade,
                kind=kind,
                informed=channel.id in informed,
            )
            and self._enqueue(session, channel, notice, now)
        ]
        log.info(
            "notice %s (%s, incident %s, grade %s) queued for channels %s",
            notice.id,
            kind,
            incident.id,
            notice.grade,
            queued,
        )

    def _enqueue(self, session: Session, channel: Channel, notice: Notice, now: datetime) -> bool:
        earlier = list(
            session.scalars(
                select(Delivery).where(
                    Delivery.channel_id == channel.id,
                    Delivery.incident_id == notice.incident_id,
                    Delivery.status.in_(("pending", "delivered")),
                )
            )
        )
        waiting = [d for d in earlier if d.status == "pending"]
        if notice.kind == "reminder" and waiting:
            return False
        for delivery in waiting:
            leased = delivery.lease_expires_at is not None and delivery.lease_expires_at > now
            if not leased and self._is_reminder(session, delivery):
                delivery.status, delivery.last_error = "superseded", "已有更新的通知，提醒不再发送"
        earlier = [d for d in earlier if d.status != "superseded"]
        due = self._due(channel, notice, earlier, now)
        for delivery in earlier:
            if delivery.status == "pending" and delivery.next_attempt_at > due:
                delivery.next_attempt_at = due  # keep the incident's notices in order
        session.add(
            Delivery(
                notice_id=notice.id,
                channel_id=channel.id,
                incident_id=notice.incident_id,
                status="pending",
                attempts=0,
                next_attempt_at=due,
                created_at=now,
            )
        )
        return True

    def _due(self, channel: Channel, notice: Notice, earlier: list[Delivery], now: datetime) -> datetime:
        due = now
        if notice.grade != "severe":
            try:
                due = quiet_until(channel.quiet_hours, now) or now
            except (
                KeyError,
                ValueError,
                ZoneInfoNotFoundError,
            ):  # a hand-edited window must not block alerts
                log.warning(
                    "channel %s has unusable quiet hours %r; ignored", channel.id, channel.quiet_hours
                )
        if notice.kind != "escalated" and earlier and self.min_interval:
            last = max(d.delivered_at or d.next_attempt_at for d in earlier)
            due = max(due, last + self.min_interval)
        return due

    @staticmethod
    def _is_reminder(session: Session, delivery: Delivery) -> bool:
        kind = session.scalar(select(NoticeRow.kind).where(NoticeRow.id == delivery.notice_id))
        return kind == "reminder"
