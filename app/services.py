"""The long-lived parts of a running Yuqing process and their start/stop by role."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from app.core.config import Settings
from app.core.db import Database
from app.pipeline import Pipeline
from app.posts.analyzer import PostAnalyzer
from app.scheduler import CollectionWorker, SchedulerLock, build_scheduler
from collectors.http import Fetcher

log = logging.getLogger(__name__)
ROLES = ("all", "api", "scheduler", "worker")


@dataclass
class Services:
    """Database, analyser, pipeline, fetcher and background jobs of one process."""

    settings: Settings
    db: Database
    pipeline: Pipeline
    fetcher: Fetcher
    worker: CollectionWorker
    lock: SchedulerLock
    scheduler: Any = None
    background: list[asyncio.Task[Any]] = field(default_factory=list)
    retag_hooks: list[Any] = field(default_factory=list)

    @classmethod
    def create(cls, settings: Settings, *, db: Database | None = None, analyzer: PostAnalyzer | None = None) -> Services:
        """Wire the parts for these settings (nothing starts until `start`)."""
        db = db or Database(settings.database_url)
        pipeline = Pipeline(db=db, settings=settings, analyzer=analyzer or PostAnalyzer())
        fetcher = make_fetcher(settings)
        worker = CollectionWorker(pipeline, fetcher, concurrency=settings.collect_concurrency)
        return cls(settings=settings, db=db, pipeline=pipeline, fetcher=fetcher, worker=worker, lock=SchedulerLock(db))

    async def start(self, role: str) -> None:
        """Start the background jobs this role runs."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
        jobs = []
        if role in ("all", "worker") and self.settings.scheduler_enabled:
            jobs.append((self.worker.tick, 1.0, "collect-due-sources"))
        if not jobs:
            return
        self.scheduler = build_scheduler(jobs)
        self.scheduler.start()
        log.info("background jobs started for role %s: %s", role, ", ".join(name for *_, name in jobs))

    def retag_pending(self) -> int:
        """Re-tag stored posts for every topic whose rule changed; returns how many topics."""
        from sqlalchemy import select

        from app.topics import service as topics
        from app.topics.models import Topic

        done = 0
        with self.db.session() as session:
            pending = session.scalars(select(Topic).where(Topic.retagged_version < Topic.rule_version)).all()
            for topic in pending:
                count = topics.retag(session=session, topic=topic)
                for hook in self.retag_hooks:
                    hook(session, topic.id)
                log.info("re-tagged topic %s: %d posts match", topic.id, count)
                done += 1
        return done

    async def stop(self) -> None:
        """Stop jobs, let in-flight work finish, close connections."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        await self.worker.drain()
        await self.fetcher.aclose()
        self.lock.release()


def make_fetcher(settings: Settings) -> Fetcher:
    """The shared HTTP fetcher for collectors, configured from settings."""
    return Fetcher(
        timeout=settings.collect_timeout_seconds,
        max_bytes=settings.collect_max_bytes,
        host_interval=settings.collect_host_interval_seconds,
    )
