"""Claiming outbox work: which deliveries a dispatcher may send now, leased in one transaction.

Per enabled channel with due work (its row locked `FOR NO KEY UPDATE SKIP LOCKED` on PostgreSQL,
so one worker claims for a channel at a time and outbox inserts are not blocked), the oldest pending
delivery of each incident is eligible when it is due and nobody holds a live lease on it — so an
incident's notices leave in order. The lease is app/core/leases.py's (`free`, `take`; the heads are
locked `SKIP LOCKED` first, then only the ones within budget are leased). The channel's pacing
budget is counted in the database (attempts of the last minute and second, plus deliveries other
workers hold), so it holds across workers.
When at least `outbox_digest_threshold` incidents are due at once they become one digest unit; a
scheduled report (a delivery without an incident) always goes alone.
Deliveries older than `outbox_max_age_minutes` are failed and the channel's `last_error` says so.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.channels import service
from app.channels.base import ChannelConfig, Pacing
from app.channels.models import ChannelRow, Delivery, DeliveryAttempt, NoticeRow
from app.channels.registry import get_channel
from app.core import leases
from app.core.config import Settings
from app.core.errors import BadRequest
from app.core.vocab import DeliveryStatus

log = logging.getLogger(__name__)
DIGEST_MAX_ITEMS = 20
EXPIRE_BATCH = 500
CHANNELS_PER_TICK = 100


@dataclass(frozen=True)
class Unit:
    """What one send covers: a delivery, or several as a digest (the first one carries the attempts)."""

    delivery_ids: list[int]
    payloads: list[dict[str, Any]]
    parts_sent: int
    shrink: int
    lease_until: datetime

    @property
    def is_digest(self) -> bool:
        """True when several deliveries go out as one digest."""
        return len(self.delivery_ids) > 1


@dataclass(frozen=True)
class Batch:
    """A channel's claimed units of this tick, with the config snapshot to render them."""

    channel_id: int
    kind: str
    config: ChannelConfig
    units: list[Unit]


def digest_id(payloads: list[dict[str, Any]]) -> str:
    """A stable id for a digest of these notices (the same bundle resent keeps its id)."""
    joined = ",".join(sorted(str(payload["id"]) for payload in payloads))
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "yuqing-digest:" + joined))


def claim(session: Session, *, settings: Settings, owner: str, now: datetime) -> list[Batch]:
    """Lease this tick's work for `owner` and return it as per-channel batches."""
    due = (
        select(Delivery.channel_id)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.next_attempt_at <= now,
            leases.free(Delivery, now),
        )
        .distinct()
        .limit(CHANNELS_PER_TICK)
    )
    channel_ids = list(session.scalars(due))
    if not channel_ids:
        return []
    locked = (
        select(ChannelRow)
        .where(ChannelRow.id.in_(channel_ids), ChannelRow.enabled.is_(True))
        .order_by(ChannelRow.id)
        .with_for_update(key_share=True, skip_locked=True)
    )
    channels = session.scalars(locked).all()
    batches = [_claim_channel(session, c, settings=settings, owner=owner, now=now) for c in channels]
    return [batch for batch in batches if batch is not None]


def expire(session: Session, *, max_age_minutes: int, now: datetime) -> int:
    """Fail pending deliveries older than the maximum age; returns how many."""
    stmt = (
        select(Delivery)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.created_at < now - timedelta(minutes=max_age_minutes),
            leases.free(Delivery, now),
        )
        .limit(EXPIRE_BATCH)
        .with_for_update(skip_locked=True)
    )
    expired = list(session.scalars(stmt))
    message = f"超过最长投递时间（{max_age_minutes} 分钟）仍未送达，已放弃"
    for delivery in expired:
        last = f"；上次错误：{delivery.last_error}" if delivery.last_error else ""
        delivery.status, delivery.last_error = DeliveryStatus.FAILED, message + last
        log.warning(
            "delivery %s (notice %s) to channel %s expired after %s attempts",
            delivery.id,
            delivery.notice_id,
            delivery.channel_id,
            delivery.attempts,
        )
    for channel_id in {delivery.channel_id for delivery in expired}:
        session.execute(update(ChannelRow).where(ChannelRow.id == channel_id).values(last_error=message))
    return len(expired)


def _claim_channel(
    session: Session, channel: ChannelRow, *, settings: Settings, owner: str, now: datetime
) -> Batch | None:
    try:
        config = service.channel_config(channel)
    except BadRequest as exc:
        channel.healthy, channel.last_error = False, exc.message
        log.error("channel %s has an invalid stored config: %s", channel.id, exc.message)
        return None
    budget = min(
        budget_left(session, channel.id, get_channel(channel.kind).pacing(config), now),
        settings.outbox_batch_size,
    )
    if budget <= 0:
        return None
    heads = due_heads(session, channel.id, now, limit=max(DIGEST_MAX_ITEMS, settings.outbox_batch_size))
    if not heads:
        return None
    incidents = [head for head in heads if head.incident_id is not None]
    alone = [head for head in heads if head.incident_id is None]  # reports: never in a digest
    if len(incidents) >= settings.outbox_digest_threshold:
        groups = [incidents[:DIGEST_MAX_ITEMS]] + [[head] for head in alone[: max(0, budget - 1)]]
    else:
        groups = [[head] for head in heads[:budget]]
    rows = session.execute(
        select(NoticeRow.id, NoticeRow.payload).where(NoticeRow.id.in_([d.notice_id for d in heads]))
    )
    payloads = {notice_id: payload for notice_id, payload in rows}
    lease_until = now + timedelta(seconds=settings.outbox_lease_seconds)
    units = []
    for group in groups:
        leases.take(group, owner, lease_until)
        first = group[0]
        parts_sent = 0 if len(group) > 1 else first.parts_sent
        units.append(
            Unit(
                [d.id for d in group],
                [payloads[d.notice_id] for d in group],
                parts_sent,
                first.shrink,
                lease_until,
            )
        )
    return Batch(channel.id, channel.kind, config, units)


def budget_left(session: Session, channel_id: int, pacing: Pacing, now: datetime) -> int:
    """Requests the channel may still take now: its pacing minus recent attempts and held leases."""

    def sent_since(moment: datetime) -> int:
        stmt = select(func.count(DeliveryAttempt.id)).where(
            DeliveryAttempt.channel_id == channel_id, DeliveryAttempt.at > moment
        )
        return int(session.scalar(stmt) or 0)

    held_stmt = select(func.count(Delivery.id)).where(
        Delivery.channel_id == channel_id,
        Delivery.status == DeliveryStatus.PENDING,
        leases.held(Delivery, now),
    )
    held = int(session.scalar(held_stmt) or 0)
    budget = pacing.per_minute - sent_since(now - timedelta(minutes=1)) - held
    if pacing.per_second:
        budget = min(budget, pacing.per_second - sent_since(now - timedelta(seconds=1)) - held)
    return budget


def due_heads(session: Session, channel_id: int, now: datetime, *, limit: int) -> list[Delivery]:
    """The oldest pending delivery of each incident on a channel, when it is due and unleased."""
    oldest = (
        select(func.min(Delivery.id))
        .where(Delivery.channel_id == channel_id, Delivery.status == DeliveryStatus.PENDING)
        .group_by(Delivery.incident_id)
    )
    stmt = (
        select(Delivery)
        .where(Delivery.id.in_(oldest), Delivery.next_attempt_at <= now, leases.free(Delivery, now))
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))
