"""Rollups, detector state, alerts, incidents with their timeline, and silences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow
from app.core.vocab import AlertStatus, IncidentStatus


class _RollupCounts:
    """A topic's bucket (by post time): counts, exact distinct authors and sources, engagement."""

    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    positive: Mapped[int] = mapped_column(Integer, default=0)
    neutral: Mapped[int] = mapped_column(Integer, default=0)
    negative: Mapped[int] = mapped_column(Integer, default=0)
    authors: Mapped[int] = mapped_column(Integer, default=0)
    sources: Mapped[int] = mapped_column(Integer, default=0)
    engagement: Mapped[int] = mapped_column(BigInteger, default=0)


class Rollup(_RollupCounts, Base):
    """Per topic and 5-minute bucket: what detectors, overview, reports and 5m trends read."""

    __tablename__ = "rollups"


class HourlyRollup(_RollupCounts, Base):
    """Per topic and hour (UTC): what 1h trends read; distinct counts are exact for the hour."""

    __tablename__ = "rollups_1h"


class DailyRollup(_RollupCounts, Base):
    """Per topic and day (UTC): what 1d trends read; distinct counts are exact for the day."""

    __tablename__ = "rollups_1d"


class RollupMember(Base):
    """Distinct members (authors 'a', sources 's', platforms 'p') seen in a topic's 5-minute bucket.

    Needed while posts can still land in the bucket (to count a member once) and for the last hour's
    grading inputs; retention prunes them with the raw posts.
    """

    __tablename__ = "rollup_members"

    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    member: Mapped[str] = mapped_column(String(64), primary_key=True)


class _CoarseMember:
    """Distinct authors ('a') and sources ('s') of a topic's hour or day, kept with the rollups.

    Keyed kind first, so "sources of a topic" and "authors of a topic over a range" are index ranges.
    """

    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    member: Mapped[str] = mapped_column(String(64), primary_key=True)


class HourlyRollupMember(_CoarseMember, Base):
    """Members of a topic's hour: exact hourly counts, and distinct authors of hour-aligned windows."""

    __tablename__ = "rollup_members_1h"


class DailyRollupMember(_CoarseMember, Base):
    """Members of a topic's day: exact daily counts, and the sources that ever fed a topic."""

    __tablename__ = "rollup_members_1d"


class DetectorState(Base):
    """A topic's detector state, persisted between buckets."""

    __tablename__ = "detector_states"

    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True)
    detector: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_bucket: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stale: Mapped[bool] = mapped_column(default=False)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Incident(Base):
    """Alerts on one topic and story grouped into one incident with a lifecycle."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_topic_status", "topic_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default=IncidentStatus.OPEN)
    grade: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(Text)
    headline: Mapped[str] = mapped_column(Text, default="")
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    rules: Mapped[list[str]] = mapped_column(JSONType, default=list)
    checklist: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    cluster_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_signal_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Alert(Base):
    """One detector firing, graded, with every input and the rule that fired."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), index=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    detector: Mapped[str] = mapped_column(String(40))
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime)
    grade: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=AlertStatus.ACTIVE)
    observed: Mapped[float] = mapped_column(Float, default=0.0)
    baseline: Mapped[float] = mapped_column(Float, default=0.0)
    ratio: Mapped[float] = mapped_column(Float, default=0.0)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    headline: Mapped[str] = mapped_column(Text, default="")
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    rules: Mapped[list[str]] = mapped_column(JSONType, default=list)


class IncidentEvent(Base):
    """A line of an incident's timeline: opened, alert, escalated, acknowledged, note, resolved…"""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100), default="system")
    message: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class Silence(Base):
    """Mutes notices for a topic (or all topics) up to a grade during a time range, with a reason."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    max_grade: Mapped[str | None] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
