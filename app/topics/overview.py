"""The overview: every topic's current volume, negative share and open incidents, and source health."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.grading import GRADE_LABELS, grade_rank
from app.alerts.incidents import ACTIVE
from app.alerts.models import Incident
from app.posts.models import Topic
from app.sources.models import Source
from app.stats import queries
from app.stats.rollups import BUCKET, bucket_start
from app.topics.compare import makeup
from app.topics.schemas import FailingSource, Overview, SourceHealth, TopicOverview

BUCKETS_PER_HOUR = int(timedelta(hours=1) / BUCKET)
HOURS = 24


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _volumes(session: Session, current: datetime) -> dict[int, dict[str, list[int]]]:
    """Per topic: 24 hourly totals and negatives ending with the current hour (bucket-aligned)."""
    first = current - BUCKET * (HOURS * BUCKETS_PER_HOUR - 1)
    volumes: dict[int, dict[str, list[int]]] = defaultdict(
        lambda: {"total": [0] * HOURS, "negative": [0] * HOURS, "now": [0, 0]}
    )
    for topic_id, start, total, negative in queries.every_topic(session, first, current):
        index = HOURS - 1 - int((current - start) / BUCKET) // BUCKETS_PER_HOUR
        entry = volumes[topic_id]
        entry["total"][index] += total
        entry["negative"][index] += negative
        if start == current:
            entry["now"] = [total, negative]
    return volumes


def _open_incidents(session: Session) -> dict[int, list[str]]:
    grades: dict[int, list[str]] = defaultdict(list)
    for topic_id, grade in session.execute(
        select(Incident.topic_id, Incident.grade).where(Incident.status.in_(ACTIVE))
    ):
        grades[topic_id].append(grade)
    return grades


def _topic_overview(topic: Topic, volume: dict[str, list[int]], grades: list[str]) -> TopicOverview:
    highest = max(grades, key=grade_rank) if grades else None
    hour_total, hour_negative = volume["total"][-1], volume["negative"][-1]
    day_total, day_negative = sum(volume["total"]), sum(volume["negative"])
    return TopicOverview(
        topic_id=topic.id,
        name=topic.name,
        enabled=topic.enabled,
        volume_last_5m=volume["now"][0],
        volume_last_hour=hour_total,
        negative_last_hour=hour_negative,
        negative_share_last_hour=_share(hour_negative, hour_total),
        volume_24h=day_total,
        negative_share_24h=_share(day_negative, day_total),
        hourly_24h=list(volume["total"]),
        open_incidents=len(grades),
        highest_open_grade=highest,
        highest_open_grade_label=GRADE_LABELS.get(highest) if highest else None,
    )


def source_health(session: Session) -> SourceHealth:
    """How many sources there are, and the enabled ones whose last collection failed."""
    sources = list(session.scalars(select(Source).order_by(Source.id)))
    failing = [
        FailingSource.model_validate(source, from_attributes=True)
        for source in sources
        if source.enabled and (source.last_status == "error" or (source.consecutive_failures or 0) > 0)
    ]
    failing.sort(key=lambda source: -source.consecutive_failures)
    return SourceHealth(total=len(sources), enabled=sum(1 for s in sources if s.enabled), failing=failing)


def overview(*, session: Session, now: datetime) -> Overview:
    """Every topic at a glance (from rollups), plus source health."""
    current = bucket_start(now)
    volumes = _volumes(session, current)
    grades = _open_incidents(session)
    empty = {"total": [0] * HOURS, "negative": [0] * HOURS, "now": [0, 0]}
    topics = []
    for topic in session.scalars(select(Topic).order_by(Topic.id)):
        item = _topic_overview(topic, volumes.get(topic.id, empty), grades.get(topic.id, []))
        item.makeup = makeup(session, topic.id, now=now)
        topics.append(item)
    return Overview(generated_at=now, bucket_start=current, topics=topics, sources=source_health(session))
