"""Scheduling: APScheduler ticks; the database says what is due.

Each source carries `next_run_at` (its interval with jitter, backed off after failures). A worker
tick claims due sources with a lease (app/core/leases.py: `SELECT … FOR UPDATE SKIP LOCKED` on
PostgreSQL) and runs them concurrently, so any number of workers share the work and a dead worker's
lease expires.
Singleton jobs (retention, auto-resolve, reminders, reports) run only in the process that holds
the scheduler advisory lock (PostgreSQL) — on SQLite there is only one process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import or_, select, text
from sqlalchemy.exc import DBAPIError

from app.core import leases, locks
from app.core.db import Database, utcnow
from app.core.locks import LockKey
from app.pipeline import Pipeline
from app.sources.models import Source
from app.sources.schemas import RunSummary
from app.sources.service import PUSH_KIND
from collectors.http import Fetcher

log = logging.getLogger(__name__)


def claim_due_sources(db: Database, *, owner: str, limit: int, lease: timedelta) -> list[int]:
    """Claim up to `limit` due, enabled sources for this worker and return their ids (app/core/leases.py)."""
    now = utcnow()
    with db.session() as session:
        return leases.claim(
            session,
            Source,
            where=[
                Source.enabled.is_(True),
                Source.kind != PUSH_KIND,
                or_(Source.next_run_at.is_(None), Source.next_run_at <= now),
            ],
            order_by=[Source.next_run_at.asc().nulls_first(), Source.id],
            limit=limit,
            owner=owner,
            until=now + lease,
            now=now,
        )


def release_source(db: Database, source_id: int, owner: str) -> None:
    """Drop this worker's lease on a source."""
    with db.session() as session:
        leases.release(session, Source, [source_id], owner=owner)


class CollectionWorker:
    """Claims due sources and collects them, at most `concurrency` at a time."""

    def __init__(self, pipeline: Pipeline, fetcher: Fetcher, *, concurrency: int = 8) -> None:
        self.pipeline = pipeline
        self.fetcher = fetcher
        self.concurrency = concurrency
        self.owner = leases.owner_id()
        self.lease = timedelta(seconds=pipeline.settings.collect_lease)
        self._running: set[asyncio.Task[RunSummary | None]] = set()

    async def _run_one(self, source_id: int) -> RunSummary | None:
        try:
            return await self.pipeline.collect(source_id, self.fetcher)
        except Exception:  # the database may be down; the lease expires and the source is retried
            log.exception("collection of source %s could not be recorded", source_id)
            return None
        finally:
            await asyncio.to_thread(release_source, self.pipeline.db, source_id, self.owner)

    async def tick(self) -> int:
        """Start collection of due sources up to the free concurrency; returns how many started."""
        free = self.concurrency - len(self._running)
        if free <= 0:
            return 0
        ids = await asyncio.to_thread(
            claim_due_sources, self.pipeline.db, owner=self.owner, limit=free, lease=self.lease
        )
        for source_id in ids:
            task = asyncio.create_task(self._run_one(source_id))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return len(ids)

    async def run_once(self, source_ids: list[int] | None = None) -> list[RunSummary]:
        """Collect the given sources (or every enabled pull source) once, concurrently."""
        if source_ids is None:
            with self.pipeline.db.session() as session:
                stmt = select(Source.id).where(Source.enabled.is_(True), Source.kind != PUSH_KIND)
                source_ids = list(session.scalars(stmt.order_by(Source.id)))
        semaphore = asyncio.Semaphore(self.concurrency)

        async def guarded(source_id: int) -> RunSummary:
            async with semaphore:
                return await self.pipeline.collect(source_id, self.fetcher)

        return list(await asyncio.gather(*(guarded(sid) for sid in source_ids)))

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for in-flight collections (graceful shutdown)."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=timeout)


class SchedulerLock:
    """The PostgreSQL advisory lock that makes one process the scheduler; SQLite always holds it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._connection = None

    def acquire(self) -> bool:
        """Try to take the lock without waiting; keeps the connection open while held.

        A held lock is checked first: if its connection died (the database restarted), the lock went
        with it, so it is taken again — or not, when another process was quicker. While the database
        is unreachable nobody holds it and the database error is raised (callers report the outage).
        """
        if self.db.is_sqlite:
            return True
        if self._connection is not None:
            if self._alive():
                return True
            log.info("the scheduler lock's database connection was lost; taking the lock again")
            self.release()
        connection = self.db.engine.connect()
        try:
            got = locks.try_session_lock(connection, LockKey.SCHEDULER)
            connection.commit()  # the lock is the session's; leave no transaction open while holding it
        except DBAPIError:
            connection.close()
            raise
        if got:
            self._connection = connection  # type: ignore[assignment]
            return True
        connection.close()
        return False

    def _alive(self) -> bool:
        try:
            self._connection.execute(text("SELECT 1"))  # type: ignore[attr-defined]
            self._connection.commit()  # type: ignore[attr-defined]
        except DBAPIError:
            return False
        return True

    def release(self) -> None:
        """Release the lock if held."""
        if self._connection is not None:
            try:
                self._connection.close()  # type: ignore[unreachable]
            except DBAPIError:  # the connection is already gone, and the lock with it
                pass
            self._connection = None


def build_scheduler(jobs: list[tuple[Callable[[], Awaitable[object]], float, str]]) -> AsyncIOScheduler:
    """An AsyncIOScheduler with one interval job per (coroutine function, seconds, name)."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    for func, seconds, name in jobs:
        scheduler.add_job(
            func,
            "interval",
            seconds=seconds,
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(int(seconds), 1),
        )
    return scheduler
