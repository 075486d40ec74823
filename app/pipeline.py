"""Cross-domain work in one named place: collect a source, accept a push, import a file.

Each source is one unit of work. A failing source records its error on its own row and never
stops the others; the posts of a batch, the source's new state and its run are one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.core import metrics
from app.core.config import Settings
from app.core.db import Database, utcnow
from app.posts import ingest
from app.posts import queue as ingest_queue
from app.posts.admission import Admitted, admit_many
from app.posts.analyzer import PostAnalyzer
from app.posts.ingest import IngestResult, StoredPost, ingest_posts
from app.posts.schemas import PushResult
from app.posts.validation import validate_posts
from app.sources import hotlist
from app.sources import service as sources
from app.sources.hotlist import HotListChange, SnapshotItem
from app.sources.models import Source
from app.sources.schemas import RunSummary
from collectors.base import CollectorError, CollectResult, RateLimitedError, RawPost, SourceSpec, SourceState
from collectors.http import Fetcher
from collectors.registry import get_collector

log = logging.getLogger(__name__)

StoredHook = Callable[[Session, Sequence[StoredPost], datetime], None]
SnapshotHook = Callable[[Session, Source, Sequence[HotListChange], datetime], None]
HOTLIST_PLATFORM = "hotlist"  # the platform of every post a hot-list source stores


@dataclass
class Pipeline:
    """Runs collection and ingest against one database with one analyser.

    The analyser (jieba's dictionary and the sentiment model, ~110 MiB) is created on first use,
    so a process that only queues pushes (`serve --role api`) never loads it.
    """

    db: Database
    settings: Settings
    analyzer_factory: Callable[[], PostAnalyzer] = PostAnalyzer
    hooks: list[StoredHook] = field(default_factory=list)
    snapshot_hooks: list[SnapshotHook] = field(default_factory=list)  # hot-list moves (app/alerts/hotlist.py)
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    clock: Callable[[], datetime] = utcnow
    queue_pushes: bool = False
    _analyzer: PostAnalyzer | None = field(default=None, init=False, repr=False)
    _analyzer_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def analyzer(self) -> PostAnalyzer:
        """This process's analyser, created on first use."""
        if self._analyzer is None:
            with self._analyzer_lock:
                if self._analyzer is None:
                    self._analyzer = self.analyzer_factory()
        return self._analyzer

    @property
    def retention(self) -> timedelta:
        """How far back a post may be published and still be stored (the retention window)."""
        return timedelta(days=self.settings.retention_days)

    @property
    def analyzer_loaded(self) -> bool:
        """Whether the analyser has been created in this process."""
        return self._analyzer is not None

    def store(self, session: Session, source_id: int, raws: Sequence[RawPost]) -> IngestResult:
        """Ingest a batch inside the caller's transaction and run the after-store hooks."""
        now = self.clock()
        result = self._insert(session, source_id, raws, now)
        self._apply(session, result.stored, now)
        return result

    def _insert(
        self, session: Session, source_id: int, raws: Sequence[RawPost], now: datetime
    ) -> IngestResult:
        """Analyse and store the new posts of a batch, clustered and tagged (no rollups yet)."""
        self.analyzer.refresh_topics(session)
        started = time.perf_counter()
        result = ingest_posts(
            session=session, source_id=source_id, raws=raws, analyzer=self.analyzer, now=now
        )
        metrics.ANALYSIS_SECONDS.observe(time.perf_counter() - started)
        metrics.ANALYSED.inc(result.new)
        return result

    def _apply(self, session: Session, stored: Sequence[StoredPost], now: datetime) -> None:
        """Run the after-store hooks (rollups, detectors, notices) for newly stored posts."""
        if stored:
            for hook in self.hooks:
                hook(session, stored, now)

    def push(self, source_name: str, items: Sequence[Any]) -> PushResult:
        """Accept a batch of pushed posts for a push source (created on first use).

        Inline, the posts are analysed and stored before the answer; with `queue_pushes` the new
        ones are queued durably for a worker and counted as `accepted` and `queued`.
        """
        validated = validate_posts(items, now=self.clock(), retention=self.retention)
        good, rejected = validated.posts, validated.rejected
        queued = 0
        with self.db.session() as session:
            source = sources.ensure_push_source(session=session, name=source_name)
            if self.queue_pushes:
                fresh, duplicates = ingest.unseen(session, source.id, good)
                ingest_queue.check_room(
                    session, adding=len(fresh), limit=self.settings.ingest_max_queued_posts
                )
                if fresh:
                    ingest_queue.enqueue(session, source.id, [raw for _, raw in fresh], self.clock())
                result = IngestResult(duplicates=duplicates)
                queued = len(fresh)
            else:
                result = self.store(session, source.id, good) if good else IngestResult()
            source.last_run_at = source.last_success_at = self.clock()
            source.last_status = "ok"
        if queued:
            metrics.POSTS_QUEUED.labels(source_name).inc(queued)
            metrics.POSTS_DUPLICATE.labels(source_name).inc(result.duplicates)
            if rejected:
                metrics.POSTS_REJECTED.labels(source_name).inc(len(rejected))
        else:
            _count(source_name, result, rejected=len(rejected))
        self._committed(result)
        return PushResult(
            accepted=result.new + queued,
            duplicates=result.duplicates,
            rejected=rejected,
            queued=queued,
            adjusted=validated.adjusted,
        )

    def ingest_queued(self, owner: str) -> int | None:
        """Claim one queued push batch, analyse and store it; returns posts stored, None when idle."""
        settings = self.settings
        lease = timedelta(seconds=settings.ingest_lease_seconds)
        batch = ingest_queue.claim(
            self.db, owner=owner, lease=lease, max_attempts=settings.ingest_max_attempts
        )
        if batch is None:
            return None
        try:
            name, result = self._store_queued(batch)
        except Exception as exc:  # kept and retried with back-off; never dropped
            message = f"{type(exc).__name__}: {exc}"
            gave_up = ingest_queue.fail(self.db, batch, owner=owner, error=message, settings=settings)
            log.log(
                logging.ERROR if gave_up else logging.WARNING,
                "queued batch %s failed (attempt %d%s): %s",
                batch.id,
                batch.attempts,
                ", kept as failed" if gave_up else ", will retry",
                message,
            )
            return 0
        metrics.POSTS_STORED.labels(name).inc(result.new)
        metrics.POSTS_DUPLICATE.labels(name).inc(result.duplicates)
        self._committed(result)
        return result.new

    def _store_queued(self, batch: ingest_queue.Claimed) -> tuple[str, IngestResult]:
        """Store a claimed batch in two transactions (see app/posts/queue.py): posts and clusters
        under the short cluster lock, then rollups, detectors and notices, deleting the batch."""
        result = IngestResult()
        memo: list[StoredPost] | None = None  # this worker's step 1, handed to its step 2
        with self.db.session() as session:
            name = sources.get(session=session, source_id=batch.source_id).name
            row = ingest_queue.hold(session, batch.id)
            if row is None:  # another worker finished it while our lease had expired
                return name, result
            if row.stored_post_ids is None:
                result = self._insert(session, batch.source_id, batch.posts, self.clock())
                ingest_queue.mark_stored(session, row, [post.id for post in result.stored])
                memo = result.stored
        with self.db.session() as session:
            row = ingest_queue.hold(session, batch.id)
            if row is None:
                return name, result
            if memo is None:  # a worker died between the two steps: finish its batch
                memo = ingest.stored_posts(session, row.stored_post_ids or [])
            self._apply(session, memo, self.clock())
            ingest_queue.finish(session, batch.id)
        return name, result

    async def collect(self, source_id: int, fetcher: Fetcher) -> RunSummary:
        """Run one source now: fetch, parse, store; errors are recorded on the source."""
        started = self.clock()
        t0 = time.perf_counter()
        with self.db.session() as session:
            source = sources.get(session=session, source_id=source_id)
            spec = SourceSpec(
                kind=source.kind,
                url=source.url or "",
                options=dict(source.options or {}),
                timezone=self.settings.timezone,
            )
            state = SourceState.from_dict(dict(source.state or {}))
            name = source.name
        try:
            collector = get_collector(spec.kind)
            budget = self.settings.collect_budget
            outcome: CollectResult | Exception = await asyncio.wait_for(
                collector.collect(spec, state, fetcher), timeout=budget
            )
        except TimeoutError:
            outcome = CollectorError(f"collection took longer than {budget:.0f} s and was abandoned")
        except CollectorError as exc:
            outcome = exc
        except Exception as exc:  # a bug in one collector must not stop the others
            log.exception("collector for source %s failed unexpectedly", name)
            outcome = CollectorError(f"internal error in the {spec.kind} collector ({type(exc).__name__})")
        summary = await asyncio.to_thread(self._finish_run, source_id, started, outcome)
        if summary.new:
            self._committed(IngestResult(new=summary.new))
        summary.duration_ms = int((time.perf_counter() - t0) * 1000)
        metrics.COLLECTOR_RUNS.labels(spec.kind, summary.status).inc()
        metrics.COLLECT_SECONDS.labels(spec.kind).observe(summary.duration_ms / 1000)
        if isinstance(outcome, Exception):
            metrics.COLLECTOR_ERRORS.labels(name, type(outcome).__name__).inc()
        else:
            metrics.POSTS_STORED.labels(name).inc(summary.new)
            metrics.POSTS_DUPLICATE.labels(name).inc(summary.duplicates)
        log.info(
            "collect source=%s status=%s new=%d duplicates=%d duration_ms=%d%s",
            name,
            summary.status,
            summary.new,
            summary.duplicates,
            summary.duration_ms,
            f" error={summary.error}" if summary.error else "",
        )
        return summary

    def _finish_run(
        self, source_id: int, started: datetime, outcome: CollectResult | Exception
    ) -> RunSummary:
        with self.db.session() as session:
            source = sources.get(session=session, source_id=source_id)
            if isinstance(outcome, Exception):
                return self._record_failure(session, source, started, outcome)
            admitted = admit_many(outcome.posts, now=self.clock(), retention=self.retention)
            posts = admitted.posts
            if source.hotlist:
                posts = [replace(raw, platform=HOTLIST_PLATFORM) for raw in posts]
            result = self.store(session, source.id, posts) if posts else IngestResult()
            if source.hotlist and not outcome.not_modified:
                self._hotlist_snapshot(session, source, outcome.posts, posts, admitted)
            status = "not_modified" if outcome.not_modified else "ok"
            source.state = outcome.state.to_dict()
            finished = self.clock()
            warnings = [*outcome.warnings, *admission_notes(admitted)][: sources.MAX_RUN_WARNINGS]
            sources.record_run(
                session=session,
                source=source,
                started_at=started,
                finished_at=finished,
                status=status,
                new=result.new,
                duplicates=result.duplicates,
                http_status=outcome.http_status,
                warnings=warnings,
            )
            source.next_run_at = next_run(
                source, finished, settings=self.settings, retry_after=outcome.retry_after
            )
            return RunSummary(
                source_id=source.id,
                source=source.name,
                status=status,
                new=result.new,
                duplicates=result.duplicates,
                not_modified=outcome.not_modified,
                warnings=warnings,
            )

    def _hotlist_snapshot(
        self,
        session: Session,
        source: Source,
        listed: Sequence[RawPost],
        stored: Sequence[RawPost],
        admitted: Admitted,
    ) -> None:
        """Record the list's ranked snapshot (rank = position in the feed) and run the snapshot hooks."""
        refused = {refusal.index for refusal in admitted.refused}
        ranks = [position + 1 for position in range(len(listed)) if position not in refused]
        keyed = [(rank, ingest.dedup_key(raw), raw) for rank, raw in zip(ranks, stored, strict=True)]
        post_ids = ingest.post_ids(session, source.id, [key for _, key, _ in keyed])
        items = [
            SnapshotItem(
                rank=rank,
                key=key,
                title=(raw.title or raw.text or "").strip()[:200],
                url=raw.url,
                post_id=post_ids.get(key),
            )
            for rank, key, raw in keyed
        ]
        now = self.clock()
        changes = hotlist.record_snapshot(session, source.id, items, now)
        for hook in self.snapshot_hooks:
            hook(session, source, changes, now)

    def _committed(self, result: IngestResult) -> None:
        if result.new:
            for callback in self.after_commit:
                callback()

    def _record_failure(
        self, session: Session, source: Source, started: datetime, exc: Exception
    ) -> RunSummary:
        finished = self.clock()
        message = str(exc) or type(exc).__name__
        status_code = getattr(exc, "status", None)
        sources.record_run(
            session=session,
            source=source,
            started_at=started,
            finished_at=finished,
            status="error",
            error=message,
            http_status=status_code if isinstance(status_code, int) else None,
        )
        retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
        source.next_run_at = next_run(
            source, finished, settings=self.settings, retry_after=retry_after, failed=True
        )
        return RunSummary(source_id=source.id, source=source.name, status="error", error=message)


def admission_notes(admitted: Admitted) -> list[str]:
    """Run warnings for collected posts that were refused or adjusted (item = position in the feed)."""
    notes = [f"item {r.index}: not stored: {r.reason}" for r in admitted.refused]
    notes += [
        f"item {a.index}: {a.field} {a.original} stored as {a.value or '(dropped)'}: {a.reason}"
        for a in admitted.adjusted
    ]
    return notes


def _count(source: str, result: IngestResult, *, rejected: int) -> None:
    metrics.POSTS_STORED.labels(source).inc(result.new)
    metrics.POSTS_DUPLICATE.labels(source).inc(result.duplicates)
    if rejected:
        metrics.POSTS_REJECTED.labels(source).inc(rejected)


def next_run(
    source: Source,
    now: datetime,
    *,
    settings: Settings,
    retry_after: float | None = None,
    failed: bool = False,
) -> datetime:
    """When a source runs next: its interval with ±10% jitter, backed off after failures."""
    if failed:
        delay = sources.failure_backoff(settings, source.interval_seconds, source.consecutive_failures)
    else:
        delay = timedelta(seconds=source.interval_seconds * random.uniform(0.9, 1.1))
    if retry_after:
        delay = max(delay, timedelta(seconds=retry_after))
    return now + delay
