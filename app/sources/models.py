"""Sources (what we collect from) and their collection runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow
from app.core.secrets import EncryptedJSON, EncryptedText


class Source(Base):
    """A feed, API or push endpoint, with its collection state and health."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str | None] = mapped_column(EncryptedText)  # feed URLs may carry an access key
    interval_seconds: Mapped[int] = mapped_column(Integer, default=300)
    options: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON, default=dict)  # headers, tokens
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # A news outlet (新闻媒体): its posts count toward 影响类 (reached the media) when grading.
    media: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # A 热搜/热榜 list: each collection is a ranked snapshot (app/sources/hotlist.py), its entries are
    # stored as posts of platform `hotlist`, and a topic matching an entry raises a 影响类 alert.
    hotlist: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SourceRun(Base):
    """One collection run of a source: its outcome, counts and error."""

    __tablename__ = "source_runs"
    __table_args__ = (
        Index("ix_source_runs_source_started", "source_id", "started_at"),
        # failed runs only, by end: trend gaps read those of all a topic's sources since the range
        Index(
            "ix_source_runs_errors",
            "source_id",
            "finished_at",
            postgresql_where=text("status = 'error'"),
            sqlite_where=text("status = 'error'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    new: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    # What the run noticed without failing: items refused or adjusted, a feed cut to `max_items`.
    warnings: Mapped[list[str]] = mapped_column(JSONType, default=list)


class HotListEntry(Base):
    """One entry of a hot list (热搜/热榜) as seen across snapshots: its rank, best rank and time on the list.

    `key` is the entry's post dedup key within the source; `post_id` the stored post (NULL once
    retention pruned it). An entry that drops off and comes back keeps its row (`stints` counts).
    """

    __tablename__ = "hotlist_entries"
    __table_args__ = (
        UniqueConstraint("source_id", "key"),
        Index("ix_hotlist_entries_source_on_list", "source_id", "on_list", "rank"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(Text)
    post_id: Mapped[int | None] = mapped_column(BigInteger)
    rank: Mapped[int] = mapped_column(Integer)
    best_rank: Mapped[int] = mapped_column(Integer)
    on_list: Mapped[bool] = mapped_column(Boolean, default=True)
    stints: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)  # start of the current (or last) stint
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    minutes_on_list: Mapped[int] = mapped_column(Integer, default=0)  # over all finished stints
