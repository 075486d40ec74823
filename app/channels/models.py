"""Channels and the notice outbox: notices, one delivery per (notice, channel), every attempt.

`ChannelRow` is a configured channel (the kind's behaviour is its `ChannelProvider`, base.py) and
`NoticeRow` the stored notice (its payload is a `Notice`, notice.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from analysis.grading import Grade
from app.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow
from app.core.secrets import EncryptedText
from app.core.vocab import DeliveryStatus


class ChannelRow(Base):
    """Where notices go: a chat robot, a signed webhook or an Alertmanager, with its routing."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(EncryptedText)  # webhook URLs carry their token
    secret: Mapped[str | None] = mapped_column(EncryptedText)
    topics: Mapped[list[int] | None] = mapped_column(JSONType)
    min_grade: Mapped[str] = mapped_column(String(20), default=Grade.GENERAL)
    quiet_hours: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    mention: Mapped[list[str]] = mapped_column(JSONType, default=list)
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    healthy: Mapped[bool] = mapped_column(Boolean, default=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class NoticeRow(Base):
    """A notice about an incident change, written in the same transaction as the change."""

    __tablename__ = "notices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    grade: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Delivery(Base):
    """A notice on its way to one channel: the outbox row the dispatcher claims and retries.

    status: pending → delivered | failed | superseded (a pending reminder overtaken by newer news).
    `parts_sent` counts the rendered requests already accepted (a split message resumes after them);
    `shrink` is how far the message was cut down after the vendor said it is too large.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_channel_status", "channel_id", "status", "incident_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    notice_id: Mapped[str] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    incident_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    digest_of: Mapped[list[int] | None] = mapped_column(JSONType)
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)
    shrink: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryAttempt(Base):
    """One HTTP attempt of a delivery, with the vendor's answer."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (Index("ix_delivery_attempts_channel_at", "channel_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20))
    http_status: Mapped[int | None] = mapped_column(Integer)
    vendor_code: Mapped[str | None] = mapped_column(String(40))
    vendor_message: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
