"""Per-topic rollups at three grains (5 minutes, 1 hour, 1 day) and their distinct members."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


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
