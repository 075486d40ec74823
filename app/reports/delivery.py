"""Scheduled 舆情简报: the report job that puts due reports into the outbox, and the report notice.

`queue_due_reports(session, settings=…, now=…)` runs on the scheduler role (app/runtime/container.py,
"scheduled-reports"). For every enabled channel with `options.reports` it asks the schedule for the
latest due moment of each period (app/reports/schedule.py) and, per topic, stores the report notice
under its stable id (channel, topic, period, day) through `outbox.enqueue_report`. A notice already
stored is skipped before the report is even built; the insert itself is `ON CONFLICT DO NOTHING`, so
two schedulers racing store it once. Moments before the channel existed are not sent.

The notice is a Markdown-style digest (overview, incidents, top negative posts, keywords, trend) that
every chat channel renders in its own markup, linking to the full HTML report of the API.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.grading import Grade
from app.channels import service as channels
from app.channels.models import ChannelRow, NoticeRow
from app.channels.notice import Notice, NoticePost
from app.channels.outbox import enqueue_report
from app.channels.registry import get_channel
from app.core.config import Settings
from app.core.errors import BadRequest
from app.core.vocab import IncidentStatus, NoticeKind
from app.posts.models import Topic
from app.reports.schedule import DueReport, latest_due, report_notice_id
from app.reports.service import Report, build_report

log = logging.getLogger(__name__)


def report_url(*, base_url: str, topic_id: int, period: str, day: str, format: str) -> str:
    """The API link of a topic's report (`format` html or md)."""
    query = urlencode({"period": period, "date": day, "format": format})
    return f"{base_url.rstrip('/')}/api/v1/reports/topics/{topic_id}?{query}"


def _change(total: int, previous: int) -> str:
    if previous == 0:
        return "上期无数据" if total == 0 else "上期为 0 条"
    ratio = (total - previous) / previous
    return "与上期持平" if abs(ratio) < 0.005 else f"较上期 {ratio:+.0%}（上期 {previous} 条）"


def overview(report: Report) -> list[str]:
    """The report's headline facts in Chinese, one per line."""
    total = report.totals["total"]
    lines = [f"声量 {total} 条，{_change(total, report.previous_total)}；参与作者 {report.authors} 人"]
    if total:
        shares = "，".join(
            f"{word} {report.share(name):.0%}"
            for name, word in (("positive", "正面"), ("neutral", "中性"), ("negative", "负面"))
        )
        lines.append(f"情感分布：{shares}")
    return lines + list(report.gaps)


def report_notice(report: Report, *, notice_id: str, base_url: str, now: datetime) -> Notice:
    """The outbox notice of a report: overview, incidents, top negative posts, keywords and links."""
    period, day = report.window.period, report.window.china(report.window.start).date().isoformat()
    grades = [Grade(item.grade) for item in report.incidents]
    events = [
        f"【{item.grade_label}】{item.title}（{IncidentStatus(item.status).label}）"
        for item in report.incidents
    ]
    link = partial(report_url, base_url=base_url, topic_id=report.topic_id, period=period, day=day)
    return Notice(
        id=notice_id,
        kind=NoticeKind.REPORT,
        incident_id=None,
        topic=report.topic,
        grade=max(grades, key=lambda grade: grade.rank) if grades else Grade.GENERAL,
        headline=f"统计时段：{report.window.label}",
        created_at=now,
        reasons=overview(report),
        trend=[bar.total for bar in report.bars],
        top_posts=[
            NoticePost(
                text=post.text,
                url=post.url,
                author=post.author,
                source=post.source,
                published_at=post.published_at,
                sentiment_score=post.score,
            )
            for post in report.top_negative
        ],
        keywords=[term for term, _ in report.keywords],
        incident_url=link(format="html"),
        api_url=link(format="md"),
        status=IncidentStatus.OPEN,
        period=period,
        events=events,
    )


def _topic_ids(session: Session, channel: ChannelRow, chosen: list[int] | None) -> list[int]:
    """The schedule's topics, else the channel's, else every enabled topic (existing ones only)."""
    wanted = chosen or channel.topics
    stmt = select(Topic.id).where(Topic.enabled.is_(True)).order_by(Topic.id)
    if wanted:
        stmt = stmt.where(Topic.id.in_(wanted))
    return list(session.scalars(stmt))


def _queue_one(
    session: Session, channel: ChannelRow, topic_id: int, due: DueReport, *, settings: Settings, now: datetime
) -> bool:
    notice_id = report_notice_id(channel_id=channel.id, topic_id=topic_id, period=due.period, day=due.day)
    if session.get(NoticeRow, notice_id) is not None:
        return False
    report = build_report(session=session, topic_id=topic_id, period=due.period, day=due.day, now=now)
    notice = report_notice(report, notice_id=notice_id, base_url=settings.base_url, now=now)
    return enqueue_report(session, channel_id=channel.id, topic_id=topic_id, notice=notice, now=now)


def queue_due_reports(session: Session, *, settings: Settings, now: datetime) -> int:
    """Store every report that is due now and not stored yet; returns how many notices were queued."""
    queued = 0
    for channel in session.scalars(
        select(ChannelRow).where(ChannelRow.enabled.is_(True)).order_by(ChannelRow.id)
    ):
        if not get_channel(channel.kind).accepts_reports or not (channel.options or {}).get("reports"):
            continue
        try:
            schedule = channels.channel_config(channel).reports
        except BadRequest as exc:
            log.error("channel %s: report schedule not usable: %s", channel.id, exc.message)
            continue
        if schedule is None:
            continue
        for due in latest_due(schedule, now=now, default_zone=settings.timezone):
            if due.scheduled_at < channel.created_at:
                continue  # scheduled before the channel existed
            for topic_id in _topic_ids(session, channel, schedule.topics):
                queued += _queue_one(session, channel, topic_id, due, settings=settings, now=now)
    return queued
