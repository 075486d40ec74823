"""Daily reports to chat: yesterday's (China time) Markdown report for each topic of every channel
whose options say `"daily_report": true`.

Not wired yet: the outbox (app/channels/outbox.py) only carries incident notices. This module calls
`enqueue_report(session, channel, *, notice_id, topic_id, title, markdown, now)` on the outbox when
that function exists, and otherwise does nothing; the scheduler is expected to call
`send_daily_reports` once a day (e.g. 08:00 China time). Notice ids are derived from (channel,
topic, date), so calling it twice on one day enqueues nothing new.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.channels.models import Channel
from app.core.modules import import_if_present
from app.reports.periods import china_today
from app.reports.render import to_markdown
from app.reports.service import build_report
from app.topics.models import Topic

log = logging.getLogger(__name__)
NAMESPACE = uuid.UUID("6f1f3c56-2f0e-4c8e-9d43-7a0d3b1e5a10")


def report_notice_id(channel_id: int, topic_id: int, day: str) -> str:
    """A stable id for one channel's daily report of one topic and day."""
    return str(uuid.uuid5(NAMESPACE, f"daily-report:{channel_id}:{topic_id}:{day}"))


def subscribed_channels(session: Session) -> list[Channel]:
    """Enabled channels that asked for the daily report."""
    channels = session.scalars(select(Channel).where(Channel.enabled.is_(True)).order_by(Channel.id))
    return [channel for channel in channels if (channel.options or {}).get("daily_report") is True]


def send_daily_reports(*, session: Session, now: datetime) -> int:
    """Enqueue yesterday's report per topic for every subscribed channel; returns how many were queued."""
    enqueue = getattr(import_if_present("app.channels.outbox"), "enqueue_report", None)
    if enqueue is None:
        log.info("daily reports skipped: the outbox has no enqueue_report yet")
        return 0
    day = china_today(now) - timedelta(days=1)
    queued = 0
    for channel in subscribed_channels(session):
        stmt = select(Topic).where(Topic.enabled.is_(True)).order_by(Topic.id)
        if channel.topics is not None:
            stmt = stmt.where(Topic.id.in_(channel.topics))
        for topic in session.scalars(stmt):
            report = build_report(session=session, topic_id=topic.id, period="day", day=day, now=now)
            enqueue(
                session,
                channel,
                notice_id=report_notice_id(channel.id, topic.id, day.isoformat()),
                topic_id=topic.id,
                title=f"舆情日报：{topic.name} {day.isoformat()}",
                markdown=to_markdown(report, chart=False),
                now=now,
            )
            queued += 1
    return queued
