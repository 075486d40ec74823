"""Leases: how a worker claims shared work, lets go of it, and when failed work is tried again.

Three kinds of rows are work that any number of worker processes share: due sources
(`sources`, app/runtime/jobs.py), queued push batches (`ingest_batches`, app/posts/queue.py) and
outbox deliveries (`deliveries`, app/channels/claims.py and dispatcher.py). Each carries two lease
columns, `lease_owner` and `lease_expires_at`, and all three use this one method:

- **owner** (`owner_id`): a worker names itself `host:pid:random`, unique per process and per
  claimer in it, so a lease is never mistaken for another worker's.
- **claim** (`claim`, or `free` + `take` when the caller picks which locked rows to lease): in one
  transaction, select rows whose lease is free (never leased, or expired: `free`) with
  `SELECT … FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite has one writer and ignores the clause), so
  concurrent workers skip each other's rows instead of waiting, then write the owner and
  `now + lease` into them before commit. Leases are not renewed: a worker that dies (kill -9, lost
  database) leaves its lease to expire, and the next claim takes the row over.
- **release** (`release` by id with an `UPDATE … WHERE lease_owner = owner`, or `drop` on a loaded
  row the caller has checked with `holds`): clear the lease, together with the row's new state
  (done, failed, or due again later), in one statement or transaction. A worker whose lease expired
  and was taken over releases nothing: the owner no longer matches.
- **retry** (`Backoff`): failed work waits `delay(failures)` before it is due again, exponential
  in the failures and jittered:

      ceiling = min(cap, base × 2^(failures − 1))
      delay   = ceiling × (1 − jitter + jitter × u),   u uniform in [0, 1)
      delay   = max(delay, retry_after)                when the other side asked for a wait

  `jitter` 1 is "full jitter" (uniform in [0, ceiling): workers that failed together do not retry
  together), 0 none (exactly the ceiling). The parameters come from settings (app/core/config.py):

      outbox delivery    base outbox_retry_base_seconds (10), cap outbox_retry_max_seconds (1800),
                         jitter outbox_retry_jitter (1), at least the vendor's Retry-After
      queued push batch  base ingest_retry_base_seconds (5), cap ingest_retry_max_seconds (300),
                         jitter ingest_retry_jitter (0)
      failing source     base the source's interval, cap collect_retry_max_intervals (8) intervals
                         but at most collect_retry_max_seconds (21600), jitter collect_retry_jitter
                         (0), at least the site's Retry-After

How long a lease lasts is each kind's own setting (`collect_lease`, `ingest_lease_seconds`,
`outbox_lease_seconds`): longer than the work may take, short enough that a dead worker's rows are
soon taken over. Advisory locks are another matter (app/core/locks.py). collectors/retry.py keeps
its own in-request HTTP retry (collectors/ may not import app/; see its docstring).
"""

from __future__ import annotations

import os
import random
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from app.core.config import Settings

MAX_EXPONENT = 62  # 2**62 × any base is past every cap; keeps the arithmetic finite


def owner_id() -> str:
    """A lease owner name for this process: host, pid and a random suffix (unique per claimer)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def free(model: Any, now: datetime) -> ColumnElement[bool]:
    """SQL condition: nobody holds a live lease on the row (never leased, released, or expired)."""
    return or_(model.lease_expires_at.is_(None), model.lease_expires_at < now)


def held(model: Any, now: datetime) -> ColumnElement[bool]:
    """SQL condition: somebody holds a live lease on the row (the complement of `free`)."""
    return model.lease_expires_at >= now  # type: ignore[no-any-return]


def claim(
    session: Session,
    model: Any,
    *,
    where: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    limit: int,
    owner: str,
    until: datetime,
    now: datetime,
) -> list[int]:
    """Lease up to `limit` free rows of `model` matching `where`, in `order_by`, to `owner` until
    `until`; returns their ids.

    The rows are locked `FOR UPDATE SKIP LOCKED` until the caller's transaction ends; rows other
    workers are claiming right now are skipped, not waited for. Only ids are read, so nothing
    else of the rows (encrypted columns, large payloads) is loaded.
    """
    stmt = (
        select(model.id)
        .where(*where, free(model, now))
        .order_by(*order_by)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.scalars(stmt))
    if ids:
        session.execute(
            update(model).where(model.id.in_(ids)).values(lease_owner=owner, lease_expires_at=until)
        )
    return ids


def take(rows: Iterable[Any], owner: str, until: datetime) -> None:
    """Lease loaded, locked rows to `owner` until `until` (written at the caller's commit)."""
    for row in rows:
        row.lease_owner, row.lease_expires_at = owner, until


def holds(row: Any, owner: str) -> bool:
    """True when `owner` still holds the row's lease (nobody took it over after it expired)."""
    return row.lease_owner == owner  # type: ignore[no-any-return]


def drop(row: Any) -> None:
    """Clear a loaded row's lease (the caller has checked it is its own, or is failing the row)."""
    row.lease_owner, row.lease_expires_at = None, None


def release(session: Session, model: Any, ids: Sequence[int], *, owner: str, **values: Any) -> int:
    """Clear `owner`'s leases on rows `ids` and set `values` on them; returns how many it held."""
    result = session.execute(
        update(model)
        .where(model.id.in_(list(ids)), model.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None, **values)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Backoff:
    """Jittered exponential backoff: the delay before failed work is due again (see the module doc).

    `base` is the first retry's ceiling and `cap` the longest delay (seconds); `jitter` in [0, 1] is
    the fraction of each delay drawn at random (1: uniform in [0, ceiling), 0: exactly the ceiling).
    """

    base: float
    cap: float
    jitter: float = 1.0

    def seconds(
        self, failures: int, *, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after `failures` failures in a row (0 counts as 1), at least `retry_after`."""
        exponent = min(max(failures, 1) - 1, MAX_EXPONENT)
        ceiling = min(self.cap, self.base * 2**exponent)
        delay = ceiling
        if self.jitter > 0:
            delay = ceiling * (1 - self.jitter + self.jitter * (rng or random).random())
        return max(delay, retry_after or 0.0)

    def delay(
        self, failures: int, *, retry_after: float | None = None, rng: random.Random | None = None
    ) -> timedelta:
        """`seconds` as a timedelta."""
        return timedelta(seconds=self.seconds(failures, retry_after=retry_after, rng=rng))

    @classmethod
    def outbox(cls, settings: Settings) -> Backoff:
        """Retrying an outbox delivery that failed (app/channels/dispatcher.py)."""
        return cls(
            settings.outbox_retry_base_seconds,
            settings.outbox_retry_max_seconds,
            settings.outbox_retry_jitter,
        )

    @classmethod
    def ingest(cls, settings: Settings) -> Backoff:
        """Retrying a queued push batch whose storing failed (app/posts/queue.py)."""
        return cls(
            settings.ingest_retry_base_seconds,
            settings.ingest_retry_max_seconds,
            settings.ingest_retry_jitter,
        )

    @classmethod
    def collect(cls, settings: Settings, interval_seconds: float) -> Backoff:
        """Collecting a failing source again: from its interval, at most so many intervals or seconds."""
        cap = min(interval_seconds * settings.collect_retry_max_intervals, settings.collect_retry_max_seconds)
        return cls(interval_seconds, cap, settings.collect_retry_jitter)
