"""The long-lived parts of a running Yuqing process and their start/stop by role.

Roles: `api` serves HTTP only; `worker` collects due sources and delivers the outbox; `scheduler`
runs the singleton periodic jobs (detector ticks, auto-resolve, reminders, scheduled reports,
re-tagging, retention)
while it holds the PostgreSQL advisory lock; `all` is everything in one process (the SQLite default).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.orm import Session

from analysis.sentiment import SentimentModel
from app.alerts import detection
from app.alerts.engine import AlertEngine, EngineConfig
from app.alerts.hotlist import HotListAlerts
from app.channels.dispatcher import Dispatcher
from app.channels.outbox import Outbox
from app.channels.reminders import write_reminders
from app.core.config import Settings
from app.core.db import Database, utcnow
from app.core.outage import Outage, is_database_error
from app.core.secrets import resolve_keyring
from app.core.urls import address_check, resolve_for_connect
from app.pipeline import Pipeline
from app.posts.analyzer import PostAnalyzer
from app.posts.corrections import RelabelHook
from app.reports.delivery import queue_due_reports
from app.runtime.jobs import CollectionWorker, SchedulerLock, build_scheduler
from app.stats import rollups
from collectors.http import Fetcher

log = logging.getLogger(__name__)
ROLES = ("all", "api", "scheduler", "worker")
DISPATCH_POLL_SECONDS = 0.5  # other processes' notices are picked up within this; our own at once
REPORT_POLL_SECONDS = 60.0  # a scheduled report goes out within a minute of its time
INGEST_POLL_SECONDS = 0.5  # queued push batches (from API processes) are picked up within this
Job = tuple[Callable[[], Awaitable[object]], float, str]


def analyzer_for(settings: Settings) -> PostAnalyzer:
    """The analyser with the configured sentiment model (`YUQING_SENTIMENT_MODEL`, else the shipped one)."""
    return PostAnalyzer(model=SentimentModel.load(settings.sentiment_model))


@dataclass
class Services:
    """Database, analyser, pipeline, engine, fetcher and background jobs of one process."""

    settings: Settings
    db: Database
    pipeline: Pipeline
    engine: AlertEngine
    fetcher: Fetcher
    worker: CollectionWorker
    lock: SchedulerLock
    write_notice: Outbox
    dispatcher: Dispatcher
    scheduler: AsyncIOScheduler | None = None
    retag_hooks: list[Callable[[Session, int], object]] = field(default_factory=list)
    relabel_hooks: list[RelabelHook] = field(default_factory=list)  # an analyst's sentiment correction
    dispatch_task: asyncio.Task[None] | None = None
    role: str = "all"
    outage: Outage = field(default_factory=Outage)
    _stopping: bool = False
    _ingest_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def create(
        cls, settings: Settings, *, db: Database | None = None, analyzer: PostAnalyzer | None = None
    ) -> Services:
        """Wire the parts for these settings (nothing starts until `start`)."""
        db = db or Database(settings.database_url, keyring=resolve_keyring(settings))
        write_notice = Outbox(settings)
        engine = AlertEngine(
            EngineConfig(
                critical_terms=settings.critical_terms,
                quiet_for=timedelta(minutes=settings.auto_resolve_minutes),
                lateness=timedelta(minutes=settings.detect_lateness_minutes),
            ),
            write_notice=write_notice,
        )
        pipeline = Pipeline(
            db=db,
            settings=settings,
            analyzer_factory=(lambda: analyzer) if analyzer is not None else partial(analyzer_for, settings),
            hooks=[rollups.on_stored, engine.on_stored],  # rollups first: detection reads them
            snapshot_hooks=[HotListAlerts(write_notice)],
        )
        fetcher = make_fetcher(settings)
        worker = CollectionWorker(pipeline, fetcher, concurrency=settings.collect_concurrency)
        outage = Outage()
        dispatcher = Dispatcher(db=db, settings=settings, outage=outage)
        pipeline.after_commit.append(dispatcher.wake)
        services = cls(
            settings=settings,
            db=db,
            pipeline=pipeline,
            engine=engine,
            fetcher=fetcher,
            worker=worker,
            lock=SchedulerLock(db),
            write_notice=write_notice,
            dispatcher=dispatcher,
            outage=outage,
        )
        services.retag_hooks.append(lambda session, topic_id: rollups.rebuild(session, topic_id))
        services.retag_hooks.append(detection.replay)  # back-filled history warms the detectors
        services.relabel_hooks.append(rollups.relabel)  # first: it takes the topics' locks
        services.relabel_hooks.append(detection.relabeled)  # detectors replay with the corrected counts
        return services

    def jobs(self, role: str) -> list[Job]:
        """The periodic jobs a role runs, each reporting database outages to `outage`."""
        return [(self._reporting(name, job), seconds, name) for job, seconds, name in self._jobs(role)]

    def _jobs(self, role: str) -> list[Job]:
        if not self.settings.scheduler_enabled:
            return []
        jobs: list[Job] = []
        if role in ("all", "worker"):
            jobs.append((self.worker.tick, 1.0, "collect-due-sources"))
            jobs.append((self.ingest_tick, INGEST_POLL_SECONDS, "store-queued-pushes"))
        if role in ("all", "scheduler"):
            jobs.extend(
                [
                    (self._singleton(self.engine_tick), 30.0, "detect-and-auto-resolve"),
                    (self._singleton(self.retag_tick), 5.0, "retag-topics"),
                    (self._singleton(self.reminder_tick), 60.0, "incident-reminders"),
                    (self._singleton(self.report_tick), REPORT_POLL_SECONDS, "scheduled-reports"),
                    (self._singleton(self.retention_tick), 3600.0, "retention"),
                ]
            )
        return jobs

    async def ingest_tick(self, budget: float = 10.0) -> int:
        """Analyse and store queued push batches until none is due or `budget` seconds passed."""
        stored = 0
        deadline = time.monotonic() + budget
        async with self._ingest_lock:
            while not self._stopping and time.monotonic() < deadline:
                try:
                    count = await asyncio.to_thread(self.pipeline.ingest_queued, self.worker.owner)
                except Exception as exc:  # the database may be down; leases expire, batches are retried
                    if not is_database_error(exc):
                        raise
                    self.outage.failed("store-queued-pushes", exc)
                    break
                self.outage.succeeded()
                if count is None:
                    break
                stored += count
        return stored

    def _singleton(self, job: Callable[[], object]) -> Callable[[], Awaitable[object]]:
        async def run() -> object:
            got = await asyncio.to_thread(self.lock.acquire)
            if not got:
                return None
            return await asyncio.to_thread(job)

        return run

    def _reporting(self, name: str, job: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[object]]:
        """A job whose database errors count towards one outage (one log line when it starts and one
        when it ends) and whose other errors are logged with their traceback; neither stops the job."""

        async def run() -> object:
            try:
                result = await job()
            except Exception as exc:
                if is_database_error(exc):
                    self.outage.failed(name, exc)
                else:
                    log.exception("scheduled job %s failed", name)
                return None
            if name != "store-queued-pushes":  # reports its own database use
                self.outage.succeeded()
            return result

        return run

    def engine_tick(self) -> None:
        """Judge every topic (closing buckets without new posts) and auto-resolve quiet incidents."""
        with self.db.session() as session:
            self.engine.tick(session, utcnow())
        self.dispatcher.wake()

    def retag_tick(self) -> int:
        """Re-tag stored posts of topics whose rule changed."""
        return self.retag_pending()

    def reminder_tick(self) -> None:
        """Remind channels of unacknowledged severe incidents."""
        with self.db.session() as session:
            write_reminders(session, utcnow(), self.write_notice)

    def report_tick(self) -> int:
        """Queue the scheduled 舆情简报 that are due (each once, whatever the ticks)."""
        with self.db.session() as session:
            queued = queue_due_reports(session, settings=self.settings, now=utcnow())
        if queued:
            self.dispatcher.wake()
        return queued

    def retention_tick(self) -> int:
        """Prune raw posts older than the retention period and the 5-minute rollup members of that
        period (rollups and incidents stay)."""
        from sqlalchemy import select

        from app.posts.models import Topic
        from app.posts.retention import prune

        older_than = utcnow() - timedelta(days=self.settings.retention_days)
        removed = prune(self.db, older_than=older_than)
        with self.db.session() as session:
            rollups.prune_members(session, list(session.scalars(select(Topic.id))), older_than)
        return removed

    def retag_pending(self) -> int:
        """Re-tag stored posts for every topic whose rule changed; returns how many topics."""
        from sqlalchemy import select

        from app.posts.models import Topic
        from app.topics import service as topics

        done = 0
        with self.db.session() as session:
            pending = session.scalars(
                select(Topic).where(Topic.retagged_version < Topic.rule_version).order_by(Topic.id)
            ).all()  # in id order: each re-tag locks its topic until commit
            for topic in pending:
                count = topics.retag(session=session, topic=topic)
                for hook in self.retag_hooks:
                    hook(session, topic.id)
                log.info("re-tagged topic %s: %d posts match", topic.id, count)
                done += 1
        return done

    async def start(self, role: str) -> None:
        """Start the background jobs this role runs."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
        self.role = role
        self.pipeline.queue_pushes = self.settings.queues_pushes(role)
        if role in ("all", "worker"):
            await asyncio.to_thread(lambda: self.pipeline.analyzer)  # load before the first batch
        if role in ("all", "worker") and self.settings.scheduler_enabled:
            self.dispatch_task = asyncio.create_task(self.dispatcher.run(interval=DISPATCH_POLL_SECONDS))
        jobs = self.jobs(role)
        if not jobs:
            return
        self.scheduler = build_scheduler(jobs)
        self.scheduler.start()
        log.info("background jobs started for role %s: %s", role, ", ".join(name for *_, name in jobs))

    async def stop(self) -> None:
        """Stop jobs, let in-flight work finish, close connections."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        if self.dispatch_task is not None:
            self.dispatch_task.cancel()
            await asyncio.gather(self.dispatch_task, return_exceptions=True)
            self.dispatch_task = None
        self._stopping = True
        async with self._ingest_lock:  # a batch being stored finishes; later ones stay queued
            pass
        await self.worker.drain()
        await self.dispatcher.aclose()
        await self.fetcher.aclose()
        self.lock.release()


def make_fetcher(settings: Settings) -> Fetcher:
    """The shared HTTP fetcher for collectors, configured from settings."""
    return Fetcher(
        timeout=settings.collect_timeout_seconds,
        max_bytes=settings.collect_max_bytes,
        host_interval=settings.collect_host_interval_seconds,
        address_check=address_check(settings.url_allowlist, settings.base_url),
        resolve=resolve_for_connect,
    )
