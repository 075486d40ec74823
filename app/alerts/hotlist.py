"""Hot-list alerts: a topic whose rule matches a 热搜/热榜 entry gets an alert of its own.

Reaching a platform's hot list is the plainest sign that a story has left its corner (影响类 in
the seed grading: it spreads beyond where it started). For each move of the ledger
(app/sources/hotlist.py) whose entry's post is tagged to a topic:

    entered  alert `hotlist`, grade at least 影响类: 「词条」登上微博热搜榜第 N 位
    rose     alert again when the entry first reaches the top 10, top 3 or first place
    left     an event on the topic's active incident: 已下榜，在榜 M 分钟，最高第 K 位

The alert goes through `incidents.record_alert` like the detectors' alerts (so silences, escalation
and notices behave the same); the incident keeps the higher of its grade and 影响类. Alert rows
carry the rank as `score` and no volume figures (observed, baseline and ratio are 0).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.grading import Grade, Grading, RuleHit
from app.alerts import incidents
from app.core import metrics
from app.posts.models import PostTopic, Topic
from app.sources.hotlist import HotListChange, HotListMove
from app.sources.models import Source
from app.stats.rollups import bucket_start

log = logging.getLogger(__name__)
DETECTOR = "hotlist"
RULE = "influential.hotlist"
HOTLIST_GRADE = Grade.INFLUENTIAL


def headline(change: HotListChange, list_name: str) -> str:
    """The alert's headline in Chinese."""
    if change.move == HotListMove.ROSE:
        return f"「{change.title}」在{list_name}升至第 {change.rank} 位（在榜 {change.minutes_on_list} 分钟）"
    again = f"（第 {change.stints} 次上榜）" if change.stints > 1 else ""
    return f"「{change.title}」登上{list_name}第 {change.rank} 位{again}"


def left_message(change: HotListChange, list_name: str) -> str:
    """The incident event when an entry leaves the list."""
    stay = f"在榜 {change.minutes_on_list} 分钟，最高第 {change.best_rank} 位"
    return f"「{change.title}」已从{list_name}下榜：{stay}"


class HotListAlerts:
    """The pipeline's snapshot hook: moves of a hot list → alerts and incident events per topic."""

    def __init__(self, write_notice: incidents.NoticeWriter) -> None:
        self.write_notice = write_notice

    def __call__(
        self, session: Session, source: Source, changes: Sequence[HotListChange], now: datetime
    ) -> None:
        for change in changes:
            for topic in self._topics(session, change.post_id):
                if change.move == HotListMove.LEFT:
                    self._left(session, topic, change, source.name, now)
                else:
                    self._raise(session, topic, change, source.name, now)

    @staticmethod
    def _topics(session: Session, post_id: int | None) -> list[Topic]:
        if post_id is None:
            return []
        stmt = (
            select(Topic)
            .join(PostTopic, PostTopic.topic_id == Topic.id)
            .where(PostTopic.post_id == post_id, Topic.enabled.is_(True))
            .order_by(Topic.id)
        )
        return list(session.scalars(stmt))

    def _raise(
        self, session: Session, topic: Topic, change: HotListChange, list_name: str, now: datetime
    ) -> None:
        line = headline(change, list_name)
        reason = f"登上{list_name}，当前第 {change.rank} 位，最高第 {change.best_rank} 位"
        grading = Grading(grade=HOTLIST_GRADE, hits=(RuleHit(RULE, HOTLIST_GRADE, reason),))
        alert, incident = incidents.record_alert(
            session,
            topic=topic,
            detector=DETECTOR,
            grading=grading,
            headline=line,
            observed=0.0,
            baseline=0.0,
            ratio=0.0,
            score=float(change.rank),
            bucket=bucket_start(now),
            now=now,
            write_notice=self.write_notice,
        )
        alert.inputs = {
            "list": list_name,
            "rank": change.rank,
            "best_rank": change.best_rank,
            "minutes_on_list": change.minutes_on_list,
            "stints": change.stints,
        }
        metrics.ALERTS.labels(HOTLIST_GRADE).inc()
        log.info("hot-list alert topic=%s rank=%s incident=%s", topic.id, change.rank, incident.id)

    @staticmethod
    def _left(session: Session, topic: Topic, change: HotListChange, list_name: str, now: datetime) -> None:
        incident = incidents.active_incident(session, topic.id)
        if incident is None:
            return
        incidents.add_event(
            session,
            incident,
            "hotlist_left",
            left_message(change, list_name),
            at=now,
            data={
                "list": list_name,
                "best_rank": change.best_rank,
                "minutes_on_list": change.minutes_on_list,
            },
        )
