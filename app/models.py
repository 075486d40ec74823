"""Every table, imported in one place so Alembic and tests see the whole metadata."""

from app.alerts.models import Alert, DetectorState, Incident, IncidentEvent, Silence
from app.audit.models import AuditEntry
from app.cases.models import Case
from app.channels.models import ChannelRow, Delivery, DeliveryAttempt, NoticeRow
from app.core.db import Base
from app.keys.models import ApiKey
from app.posts.models import Post, PostTopic, SentimentCorrection, Topic
from app.sources.models import Source, SourceRun
from app.stats.models import (
    DailyRollup,
    DailyRollupMember,
    HourlyRollup,
    HourlyRollupMember,
    Rollup,
    RollupMember,
)

metadata = Base.metadata

__all__ = [
    "Alert",
    "ApiKey",
    "AuditEntry",
    "Case",
    "ChannelRow",
    "DailyRollup",
    "DailyRollupMember",
    "Delivery",
    "DeliveryAttempt",
    "DetectorState",
    "HourlyRollup",
    "HourlyRollupMember",
    "Incident",
    "IncidentEvent",
    "NoticeRow",
    "Post",
    "PostTopic",
    "Rollup",
    "RollupMember",
    "SentimentCorrection",
    "Silence",
    "Source",
    "SourceRun",
    "Topic",
    "metadata",
]
