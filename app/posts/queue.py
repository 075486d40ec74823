"""The push queue: batches an API process accepted, waiting for a worker to analyse and store them.

An API process that does not analyse (`serve --role api`) validates a push, drops posts that are
already stored, and writes the rest as one `IngestBatch` row in the request's transaction, so an
accepted post is durable before the client hears "accepted". Workers claim the oldest available
batch with `SELECT … FOR UPDATE SKIP LOCKED` and a lease (app/core/leases.py), then work in two
transactions, each holding the batch's row lock (`hold`):

1. store: insert the posts, join them to near-duplicate clusters (under the short global cluster
   lock, app/posts/clusters.py) and tag topics; record the new posts' ids on the batch
   (`mark_stored`). The cluster lock is released at this commit.
2. apply: rollups, detectors and notices for those posts, and delete the batch (`finish`).

A worker killed anywhere loses nothing and doubles nothing: before 1 commits nothing is stored and
the batch is still queued; between 1 and 2 the batch carries the stored ids, and whoever claims it
next runs step 2 only; after 2 the batch is gone. Two workers holding one batch (an expired lease)
queue on its row lock, and the second finds the step done. A failed batch is due again after the
`ingest_retry_*` backoff (by default 5 s doubling to at most 300 s); one that fails
`ingest_max_attempts` times is marked `failed` and kept for an operator.

The queue is bounded: once `ingest_max_queued_posts` posts wait, pushes are refused whole with
503 and Retry-After (`check_room`), so nothing accepted is ever dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from app.core import leases
from app.core.bulk import is_postgresql
from app.core.config import Settings
from app.core.db import Database, utcnow
from app.core.errors import QueueFull
from app.posts.models import IngestBatch
from collectors.base import RawPost

FULL_RETRY_AFTER_SECONDS = 10


@dataclass(frozen=True)
class Claimed:
    """A batch leased to this worker."""

    id: int
    source_id: int
    posts: list[RawPost]
    attempts: int
    stored_post_ids: list[int] | None = None  # set: step 1 is done, only step 2 remains


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
        _custom_plans(session)
        while True:
            ids = leases.claim(
                session,
                IngestBatch,
                where=[IngestBatch.status == "pending", IngestBatch.available_at <= now],
                order_by=[IngestBatch.id],
                limit=1,
                owner=owner,
                until=now + lease,
                now=now,
            )
            if not ids:
                return None
            batch = session.get_one(IngestBatch, ids[0])
            if batch.attempts >= max_attempts:
                batch.status = "failed"
                leases.drop(batch)
                batch.last_error = batch.last_error or "a worker stopped while storing it, repeatedly"
                continue
            batch.attempts += 1
            return Claimed(
                id=batch.id,
                source_id=batch.source_id,
                posts=[RawPost.from_dict(item) for item in batch.posts],
                attempts=batch.attempts,
                stored_post_ids=batch.stored_post_ids,
            )


def _custom_plans(session: Session) -> None:
    """Plan this transaction's statements for their actual parameters (PostgreSQL).

    A generic plan, cached once a statement has run five times, does not know the batch's keys or
    that the queue table is nearly empty after a storm of deletes; custom plans use the indexes.
    """
    if is_postgresql(session):
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


@dataclass(frozen=True)
class Held:
    """A claimed batch's row, locked by this transaction."""

    id: int
    stored_post_ids: list[int] | None


def hold(session: Session, batch_id: int) -> Held | None:
    """Lock a claimed batch's row until commit; None when another worker already finished it.

    Each of a worker's two transactions starts here. On PostgreSQL it also asks for custom plans
    for the rest of the transaction: psycopg prepares a statement after five runs, and the generic
    plan of the dedup lookup (`dedup_key IN (SELECT unnest(:keys))`) took 30 times longer.
    """
    _custom_plans(session)
    row = session.execute(
        select(IngestBatch.id, IngestBatch.stored_post_ids)
        .where(IngestBatch.id == batch_id)
        .with_for_update()
    ).first()
    return Held(id=row.id, stored_post_ids=row.stored_post_ids) if row is not None else None


def mark_stored(session: Session, batch: Held, post_ids: Sequence[int]) -> None:
    """Record, in the transaction that stored them, the ids of the posts a batch added (step 1)."""
    session.execute(
        update(IngestBatch).where(IngestBatch.id == batch.id).values(stored_post_ids=sorted(post_ids))
    )


def finish(session: Session, batch_id: int) -> None:
    """Remove a stored batch (in the transaction that applied its posts to rollups and detectors)."""
    session.execute(delete(IngestBatch).where(IngestBatch.id == batch_id))


def fail(db: Database, batch: Claimed, *, owner: str, error: str, settings: Settings) -> bool:
    """Record a failed attempt and release the lease with back-off; True when the batch gave up."""
    now = utcnow()
    gave_up = batch.attempts >= settings.ingest_max_attempts
    delay = leases.Backoff.ingest(settings).delay(batch.attempts)
    with db.session() as session:
        leases.release(
            session,
            IngestBatch,
            [batch.id],
            owner=owner,
            status="failed" if gave_up else "pending",
            available_at=now + delay,
            last_error=error[:2000],
        )
    return gave_up


def depth(session: Session) -> tuple[int, int]:
    """Posts waiting in pending batches, and batches that failed for good."""
    waiting = session.scalar(
        select(func.coalesce(func.sum(IngestBatch.size), 0)).where(IngestBatch.status == "pending")
    )
    failed = session.scalar(select(func.count(IngestBatch.id)).where(IngestBatch.status == "failed"))
    return int(waiting or 0), int(failed or 0)


def oldest_age(session: Session, now: datetime) -> float:
    """Seconds since the oldest pending batch was accepted; 0 when nothing waits."""
    oldest = session.scalar(select(func.min(IngestBatch.received_at)).where(IngestBatch.status == "pending"))
    return max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0


def check_room(session: Session, *, adding: int, limit: int) -> None:
    """Refuse a push (503, Retry-After) while `limit` posts or more are already waiting.

    Raises:
        QueueFull: the backlog is at its bound; the push is refused whole and nothing is stored.
    """
    if adding <= 0:
        return
    waiting = session.scalar(
        select(func.coalesce(func.sum(IngestBatch.size), 0)).where(IngestBatch.status == "pending")
    )
    if int(waiting or 0) >= limit:
        raise QueueFull(
            f"入库队列已满（{int(waiting or 0)} 条待处理，上限 {limit} 条），本批未接收，"
            f"请在 {FULL_RETRY_AFTER_SECONDS} 秒后原样重发",
            retry_after=FULL_RETRY_AFTER_SECONDS,
            details={"queued": int(waiting or 0), "limit": limit},
        )
