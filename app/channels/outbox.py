"""The outbox: a notice per incident change, written in the alert change's own transaction.

`Outbox(settings)` is the alert engine's `NoticeWriter`: `outbox(session, incident, kind, now)`
asks the notification policy (app/channels/policy.py `decide`) for every channel at this moment —
routing, silences, grade filters, quiet hours, minimum interval — then composes the notice from the
database (topic, grade, reasons, trend, top negative posts, keywords, checklist, links) and stores one
`NoticeRow` and one pending `Delivery` per channel the policy lets through, due when it says. A
silence that holds writes no notice; the incident's timeline says which silence held it (a reminder
held by a silence is simply tried again later). Nothing is dropped except a reminder that would only
repeat news still waiting to go out. The dispatcher (app/channels/dispatcher.py) delivers the rows.

`enqueue_report(...)` is the outbox's other door: a scheduled 舆情简报 (app/reports/delivery.py) for
one channel, stored under its stable notice id with `INSERT … ON CONFLICT DO NOTHING`, so two
schedulers, a restart or a late tick store it once. Reports skip the alert policy (silences, grade
filters, quiet hours): the channel asked for them at that hour.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.grading import Grade
from app.alerts import incidents
from app.alerts.incidents import NoticeOutcome
from app.alerts.models import Incident, IncidentEvent, Silence
from app.alerts.silences import current_silences
from app.channels import policy
from app.channels.models import ChannelRow, Delivery, NoticeRow
from app.channels.notice import Notice, NoticePost
from app.core.bulk import dialect_insert
from app.core.config import Settings
from app.core.vocab import DeliveryStatus, IncidentStatus, NoticeKind
from app.posts.models import Post, PostTopic, Topic
from app.sources.models import Source
from app.stats import insights, queries
from app.stats.rollups import BUCKET, bucket_start

log = logging.getLogger(__name__)
TREND_BUCKETS = 24
POST_WINDOW = timedelta(hours=1)
TOP_POSTS = 5
TOP_KEYWORDS = 10


def _reasons(session: Session, incident: Incident, kind: NoticeKind, now: datetime) -> list[str]:
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
    if kind == NoticeKind.RESOLVED:
        closing = next((e for e in events if e.kind == "resolved"), None)
        return [closing.message] if closing and closing.message else ["事件已解除"]
    if kind == NoticeKind.REMINDER:
        minutes = int((now - incident.opened_at).total_seconds() // 60)
        return [f"事件已持续 {minutes} 分钟，仍未确认，请尽快处置", *reasons]
    return reasons


def _trend(session: Session, topic_id: int, now: datetime) -> list[int]:
    first = bucket_start(now) - BUCKET * (TREND_BUCKETS - 1)
    return queries.series(session, topic_id, first, TREND_BUCKETS)


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
    session: Session, incident: Incident, kind: NoticeKind, now: datetime, *, base_url: str
) -> Notice:
    """The notice for an incident change, with its context read from the database."""
    topic = session.get(Topic, incident.topic_id)
    base = base_url.rstrip("/")
    steps = (
        []
        if incident.status == IncidentStatus.RESOLVED
        else [str(item.get("text", "")) for item in incident.checklist or [] if not item.get("done")]
    )
    return Notice(
        id=str(uuid.uuid4()),
        kind=kind,
        incident_id=incident.id,
        topic=topic.name if topic else "",
        grade=Grade(incident.grade),
        headline=incident.headline or incident.title,
        created_at=now,
        reasons=_reasons(session, incident, kind, now),
        trend=_trend(session, incident.topic_id, now),
        top_posts=[] if kind == NoticeKind.RESOLVED else _top_posts(session, incident.topic_id, now),
        keywords=_keywords(session, topic, now),
        checklist=steps,
        incident_url=f"{base}/#/incidents/{incident.id}",
        api_url=f"{base}/api/v1/incidents/{incident.id}",
        status=IncidentStatus(incident.status),
    )


class Outbox:
    """The `NoticeWriter`: `outbox(session, incident, kind, now)` writes the notice and its deliveries."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.min_interval = timedelta(minutes=settings.outbox_min_interval_minutes)
        self.reminder_interval = timedelta(minutes=settings.reminder_interval_minutes)

    def __call__(self, session: Session, incident: Incident, kind: str, now: datetime) -> NoticeOutcome:
        """Decide per channel now; store the notice and the deliveries the policy lets through."""
        notice_kind = NoticeKind(kind)
        silences = current_silences(session, now)
        informed = set(
            session.scalars(select(Delivery.channel_id).where(Delivery.incident_id == incident.id))
        )
        channels = session.scalars(
            select(ChannelRow).where(ChannelRow.enabled.is_(True)).order_by(ChannelRow.id)
        )
        decisions = {
            channel.id: (
                channel,
                self._decide(session, channel, incident, notice_kind, silences, informed, now),
            )
            for channel in channels
        }
        silence = next((d.silence for _, d in decisions.values() if d.silence is not None), None)
        if silence is not None:  # a silence covers the topic and grade: it holds on every routed channel
            self._held(session, incident, notice_kind, silence, now)
            return NoticeOutcome(silenced_by=silence.reason)
        notice = compose_notice(session, incident, notice_kind, now, base_url=self.settings.base_url)
        session.add(
            NoticeRow(
                id=notice.id,
                incident_id=incident.id,
                topic_id=incident.topic_id,
                kind=notice_kind,
                grade=notice.grade,
                payload=notice.to_dict(),
                created_at=now,
            )
        )
        session.flush()
        queued = [
            channel.id
            for channel, decision in decisions.values()
            if decision.send and self._enqueue(session, channel, notice, decision, now)
        ]
        log.info(
            "notice %s (%s, incident %s, grade %s) queued for channels %s",
            notice.id,
            kind,
            incident.id,
            notice.grade,
            queued,
        )
        return NoticeOutcome(notice_id=notice.id, channels=tuple(queued))

    def _earlier(self, session: Session, channel_id: int, incident_id: int, now: datetime) -> list[Delivery]:
        stmt = select(Delivery).where(
            Delivery.channel_id == channel_id,
            Delivery.incident_id == incident_id,
            Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.DELIVERED)),
        )
        return list(session.scalars(stmt))

    def _decide(
        self,
        session: Session,
        channel: ChannelRow,
        incident: Incident,
        kind: NoticeKind,
        silences: list[Silence],
        informed: set[int],
        now: datetime,
    ) -> policy.Decision:
        earlier = [
            policy.Earlier(
                status=DeliveryStatus(d.status),
                at=d.delivered_at or d.next_attempt_at,
                replaceable=self._replaceable(session, d, now),
            )
            for d in self._earlier(session, channel.id, incident.id, now)
        ]
        return policy.decide(
            kind=kind,
            grade=incident.grade,
            topic_id=incident.topic_id,
            channel=channel,
            silences=silences,
            informed=channel.id in informed,
            earlier=earlier,
            now=now,
            min_interval=self.min_interval,
        )

    def _enqueue(
        self, session: Session, channel: ChannelRow, notice: Notice, decision: policy.Decision, now: datetime
    ) -> bool:
        due = decision.due or now
        for delivery in self._earlier(session, channel.id, notice.incident_id or 0, now):
            if delivery.status != DeliveryStatus.PENDING:
                continue
            if self._replaceable(session, delivery, now):
                delivery.status, delivery.last_error = (
                    DeliveryStatus.SUPERSEDED,
                    "已有更新的通知，提醒不再发送",
                )
            elif delivery.next_attempt_at > due:
                delivery.next_attempt_at = due  # keep the incident's notices in order
        session.add(
            Delivery(
                notice_id=notice.id,
                channel_id=channel.id,
                incident_id=notice.incident_id,
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=due,
                created_at=now,
            )
        )
        return True

    @staticmethod
    def _held(
        session: Session, incident: Incident, kind: NoticeKind, silence: Silence, now: datetime
    ) -> None:
        """Say on the timeline that a silence held this notice (reminders are retried, so not logged)."""
        if kind == NoticeKind.REMINDER:
            return
        incidents.add_event(
            session,
            incident,
            "silenced",
            f"{kind.label}通知已静默：{silence.reason}",
            at=now,
            data={"silence_id": silence.id, "notice_kind": kind.value},
        )

    @staticmethod
    def _replaceable(session: Session, delivery: Delivery, now: datetime) -> bool:
        """A pending reminder that nobody is sending right now."""
        if delivery.status != DeliveryStatus.PENDING:
            return False
        if delivery.lease_expires_at is not None and delivery.lease_expires_at > now:
            return False
        kind = session.scalar(select(NoticeRow.kind).where(NoticeRow.id == delivery.notice_id))
        return kind == NoticeKind.REMINDER


def enqueue_report(
    session: Session, *, channel_id: int, topic_id: int, notice: Notice, now: datetime
) -> bool:
    """Store a report notice and its one pending delivery; False when its id is stored already."""
    stmt = (
        dialect_insert(session, NoticeRow.__table__)
        .values(
            id=notice.id,
            incident_id=None,
            topic_id=topic_id,
            kind=NoticeKind.REPORT.value,
            grade=notice.grade.value,
            payload=notice.to_dict(),
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(NoticeRow.__table__.c.id)
    )
    if session.execute(stmt).scalar() is None:  # stored already (another tick or scheduler)
        return False
    session.add(
        Delivery(
            notice_id=notice.id,
            channel_id=channel_id,
            incident_id=None,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    log.info("report notice %s (%s) queued for channel %s", notice.id, notice.headline, channel_id)
    return True
