"""The push queue: batches an API process accepted, waiting for a worker to analyse and store them.

An API process that does not analyse (`serve --role api`) validates a push, drops posts that are
already stored, and writes the rest as one `IngestBatch` row in the request's transaction, so an
accepted post is durable before the client hears "accepted". Workers claim the oldest available
batch with `SELECT … FOR UPDATE SKIP LOCKED` and a lease; storing the posts and deleting the batch
is one transaction, so a worker killed mid-batch loses nothing: its lease expires and another
worker stores the batch (storage is idempotent per source and dedup key, so nothing doubles).
A batch that fails `ingest_max_attempts` times is marked `failed` and kept for an operator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.core.db import Database, utcnow
from app.posts.models import IngestBatch
from collectors.base import RawPost

RETRY_BASE_SECONDS = 5.0
RETRY_MAX_SECONDS = 300.0


@dataclass(frozen=True)
class Claimed:
    """A batch leased to this worker."""

    id: int
    source_id: int
    posts: list[RawPost]
    attempts: int


def enqueue(session: Session, source_id: int, posts: Sequence[RawPost], now: datetime) -> int:
    """Queue posts for a worker inside the caller's transaction; returns the batch id."""
    batch = IngestBatch(
        source_id=source_id,
        posts=[post.to_dict() for post in posts],
        size=len(posts),
        received_at=now,
        available_at=now,
    )
    session.add(batch)
    session.flush()
    return batch.id


def claim(db: Database, *, owner: str, lease: timedelta, max_attempts: int) -> Claimed | None:
    """Lease the oldest available batch to `owner`; batches out of attempts are marked failed."""
    now = utcnow()
    with db.session() as session:
        while True:
            batch = session.scalar(
                select(IngestBatch)
                .where(
                    IngestBatch.status == "pending",
                    IngestBatch.available_at <= now,
                    or_(IngestBatch.lease_expires_at.is_(None), IngestBatch.lease_expires_at < now),
                )
                .order_by(IngestBatch.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if batch is None:
                return None
            if batch.attempts >= max_attempts:
                batch.status = "failed"
                batch.lease_owner = batch.lease_expires_at = None
                batch.last_error = batch.last_error or "a worker stopped while storing it, repeatedly"
                continue
            batch.attempts += 1
            batch.lease_owner = owner
            batch.lease_expires_at = now + lease
            return Claimed(
                id=batch.id,
                source_id=batch.source_id,
                posts=[RawPost.from_dict(item) for item in batch.posts],
                attempts=batch.attempts,
            )


def finish(session: Session, batch_id: int) -> None:
    """Remove a stored batch (in the transaction that stored its posts)."""
    session.execute(delete(IngestBatch).where(IngestBatch.id == batch_id))


def fail(db: Database, batch: Claimed, *, owner: str, error: str, max_attempts: int) -> bool:
    """Record a failed attempt and release the lease with back-off; True when the batch gave up."""
    now = utcnow()
    gave_up = batch.attempts >= max_attempts
    delay = min(RETRY_BASE_SECONDS * 2 ** (batch.attempts - 1), RETRY_MAX_SECONDS)
    with db.session() as session:
        session.execute(
            update(IngestBatch)
            .where(IngestBatch.id == batch.id, IngestBatch.lease_owner == owner)
            .values(
                status="failed" if gave_up else "pending",
                available_at=now + timedelta(seconds=delay),
                lease_owner=None,
                lease_expires_at=None,
                last_error=error[:2000],
            )
        )
    return gave_up


def depth(session: Session) -> tuple[int, int]:
    """Posts waiting in pending batches, and batches that failed for good."""
    waiting = session.scalar(
        select(func.coalesce(func.sum(IngestBatch.size), 0)).where(IngestBatch.status == "pending")
    )
    failed = session.scalar(select(func.count(IngestBatch.id)).where(IngestBatch.status == "failed"))
    return int(waiting or 0), int(failed or 0)
