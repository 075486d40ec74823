"""The dispatcher: claims due outbox deliveries, sends them, and records every attempt.

One `tick()`:
  1. claim (one transaction, app/channels/claims.py): expire deliveries past the maximum age, then
     lease the oldest due delivery of each incident per channel within the channel's pacing budget
     (several incidents at once → one digest);
  2. send (no transaction, app/channels/sending.py): render at attempt time, parts in order, never
     starting a request that could outlive the lease; "too large" renders smaller and resends;
  3. record (a transaction per unit): every attempt with the vendor's answer, then delivered, or
     retry with the `outbox_retry_*` backoff (app/core/leases.py: full jitter by default) honouring
     `retry_after` (which also pauses the channel), or
     failed (a permanent answer marks the channel unhealthy with its `last_error`).
A worker killed mid-send leaves its lease to expire and the next worker resends: receivers, which
dedupe on the notice id, see each notice once; the raw stream has at most one extra per crash.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.channels import claims
from app.channels.base import DeliveryResult, Outcome
from app.channels.claims import Batch, Unit
from app.channels.models import ChannelRow, Delivery, DeliveryAttempt
from app.channels.notice import Notice, make_digest
from app.channels.sending import SendReport, describe, send_notice
from app.core import leases
from app.core.config import Settings
from app.core.db import Database, utcnow
from app.core.outage import Outage, is_database_error
from app.core.urls import address_check, outgoing_client
from app.core.vocab import DeliveryStatus

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    """Counts of one tick (deliveries, so a digest of five counts five)."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0


class Dispatcher:
    """Delivers the outbox; any number of dispatchers may run against one PostgreSQL."""

    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
        client: httpx.AsyncClient | None = None,
        owner: str | None = None,
        rng: random.Random | None = None,
        outage: Outage | None = None,
    ) -> None:
        self.db, self.settings, self.clock = db, settings, clock
        self.outage = outage or Outage()
        self.owner = owner or leases.owner_id()
        self.rng = rng or random.Random()
        self.backoff_policy = leases.Backoff.outbox(settings)
        self._client, self._own_client = client, client is None
        self.guard = address_check(settings.url_allowlist, settings.base_url)  # SMTP connections
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Ask a running loop to tick now (thread-safe), e.g. right after a notice was committed."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def tick(self) -> TickReport:
        """Claim due deliveries, send them (channels concurrently, in order within one), record."""
        report = TickReport()
        batches = await asyncio.to_thread(self.claim, report)
        if batches:
            client = self._client = self._client or outgoing_client(self.settings)
            outcomes = await asyncio.gather(
                *(self._deliver(batch, client, report) for batch in batches), return_exceptions=True
            )
            for batch, outcome in zip(batches, outcomes, strict=True):
                if isinstance(outcome, BaseException):  # leases expire; the deliveries are retried
                    log.error("delivery to channel %s failed: %r", batch.channel_id, outcome)
        return report

    async def run(self, *, interval: float = 1.0) -> None:
        """Tick forever (a worker process): every `interval` seconds, or at once when woken."""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        while True:
            try:
                await self.tick()
            except Exception as exc:  # a broken tick must not stop delivery for good
                if is_database_error(exc):
                    self.outage.failed("dispatcher", exc)  # one line per outage, not one per tick
                else:
                    log.exception("dispatcher tick failed")
            else:
                self.outage.succeeded()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            except TimeoutError:
                pass
            self._wake.clear()

    async def aclose(self) -> None:
        """Close the HTTP client this dispatcher opened."""
        if self._client is not None and self._own_client:
            await self._client.aclose()
            self._client = None

    def claim(self, report: TickReport) -> list[Batch]:
        """Expire old deliveries and lease this tick's work, in one transaction."""
        now = self.clock()
        with self.db.session() as session:
            report.expired = claims.expire(
                session, max_age_minutes=self.settings.outbox_max_age_minutes, now=now
            )
            batches = claims.claim(session, settings=self.settings, owner=self.owner, now=now)
        report.claimed = sum(len(unit.delivery_ids) for batch in batches for unit in batch.units)
        return batches

    async def _deliver(self, batch: Batch, client: httpx.AsyncClient, report: TickReport) -> None:
        held_back = False
        for unit in batch.units:
            if held_back:  # the destination is throttling or down: leave the rest for later
                await asyncio.to_thread(self.record, batch, unit, SendReport(released=True), report)
                continue
            try:
                sent = await send_notice(
                    kind=batch.kind,
                    config=batch.config,
                    notice=self._notice(unit),
                    client=client,
                    timeout=self.settings.outbox_send_timeout_seconds,
                    clock=self.clock,
                    parts_sent=unit.parts_sent,
                    shrink=unit.shrink,
                    deadline=unit.lease_until,
                    guard=self.guard,
                )
            except Exception as exc:  # a notice that cannot be rendered must not block its channel
                log.exception("deliveries %s could not be rendered", unit.delivery_ids)
                sent = SendReport(
                    DeliveryResult(Outcome.PERMANENT, detail=f"render error: {type(exc).__name__}")
                )
            await asyncio.to_thread(self.record, batch, unit, sent, report)
            held_back = sent.released or (
                sent.result is not None and sent.result.outcome in (Outcome.RETRY, Outcome.RATE_LIMITED)
            )

    def _notice(self, unit: Unit) -> Notice:
        notices = [Notice.from_dict(payload) for payload in unit.payloads]
        if not unit.is_digest:
            return notices[0]
        return make_digest(notices, created_at=self.clock(), digest_id=claims.digest_id(unit.payloads))

    def record(self, batch: Batch, unit: Unit, sent: SendReport, report: TickReport) -> None:
        """Store the attempts and the deliveries' new state in one transaction."""
        now = self.clock()
        with self.db.session() as session:
            rows = list(session.scalars(select(Delivery).where(Delivery.id.in_(unit.delivery_ids))))
            carrier = next((row for row in rows if row.id == unit.delivery_ids[0]), None)
            if carrier is None:  # the channel was deleted meanwhile
                return
            _add_attempts(session, carrier, sent)
            owned = [
                row for row in rows if leases.holds(row, self.owner) and row.status == DeliveryStatus.PENDING
            ]
            if not unit.is_digest:  # a digest's parts are not the carrier's own parts
                carrier.parts_sent, carrier.shrink = sent.parts_sent, sent.shrink
            if sent.released or sent.result is None:
                for row in owned:
                    leases.drop(row)
                return
            channel = session.get(ChannelRow, batch.channel_id)
            if sent.result.ok:
                self._delivered(rows, unit, now, channel, report)
            elif len(owned) < len(rows):
                log.warning("deliveries %s: lease lost before the answer was recorded", unit.delivery_ids)
            else:
                self._not_delivered(session, rows, sent.result, now, channel, report)

    @staticmethod
    def _delivered(
        rows: list[Delivery], unit: Unit, now: datetime, channel: ChannelRow | None, report: TickReport
    ) -> None:
        for row in rows:
            row.status, row.delivered_at, row.last_error = DeliveryStatus.DELIVERED, now, None
            row.attempts += 1
            leases.drop(row)
            row.digest_of = list(unit.delivery_ids) if unit.is_digest else None
        if channel is not None and (not channel.healthy or channel.last_error):
            channel.healthy, channel.last_error = True, None
        report.delivered += len(rows)

    def _not_delivered(
        self,
        session: Session,
        rows: list[Delivery],
        result: DeliveryResult,
        now: datetime,
        channel: ChannelRow | None,
        report: TickReport,
    ) -> None:
        final = result.outcome in (Outcome.PERMANENT, Outcome.TOO_LARGE)
        for row in rows:
            row.attempts += 1
            row.last_error = describe(result)
            leases.drop(row)
            if final:
                row.status = DeliveryStatus.FAILED
            else:
                row.next_attempt_at = now + self.backoff(row.attempts, result.retry_after)
        if final:
            report.failed += len(rows)
        else:
            report.retried += len(rows)
        if result.outcome is Outcome.PERMANENT and channel is not None:
            channel.healthy, channel.last_error = False, describe(result)
            log.error("channel %s marked unhealthy: %s", channel.id, channel.last_error)
        if result.retry_after and not final:  # the vendor asked the whole channel to wait
            pause = now + timedelta(seconds=result.retry_after)
            session.execute(
                update(Delivery)
                .where(
                    Delivery.channel_id == rows[0].channel_id,
                    Delivery.status == DeliveryStatus.PENDING,
                    Delivery.next_attempt_at < pause,
                    or_(leases.free(Delivery, now), Delivery.lease_owner == self.owner),
                )
                .values(next_attempt_at=pause)
                .execution_options(synchronize_session="fetch")
            )

    def backoff(self, attempts: int, retry_after: float | None = None) -> timedelta:
        """The `outbox_retry_*` backoff after `attempts` failures, at least `retry_after` (leases.Backoff)."""
        return self.backoff_policy.delay(attempts, retry_after=retry_after, rng=self.rng)


def _add_attempts(session: Session, carrier: Delivery, sent: SendReport) -> None:
    for attempt in sent.attempts:
        result = attempt.result
        code = None if result.vendor_code is None else str(result.vendor_code)[:40]
        session.add(
            DeliveryAttempt(
                delivery_id=carrier.id,
                channel_id=carrier.channel_id,
                at=attempt.at,
                outcome=result.outcome.value,
                http_status=result.http_status,
                vendor_code=code,
                vendor_message=result.vendor_message or result.detail,
                duration_ms=attempt.duration_ms,
            )
        )
