"""Races between transactions on PostgreSQL, made deterministic: one transaction is held open at the
point of conflict while another runs into it, then the first commits. Each used to end in a 500 or a
duplicate (found by the load and fault tests in test_faults.py and the latency benchmark):

- two first pushes to a new source name (unique violation on sources.name);
- a push and the scheduler's tick judging a new topic at once (unique violation on detector_states);
- two transactions opening an incident for the same topic at once (two incidents, two notices);
- the scheduler lock lost with its connection when the database restarts (held by nobody, yet the
  process went on running singleton jobs as if it held it);
- re-tagging a new topic while pushes that already know it store posts for it (primary key of
  post_topics, and posts counted twice in the rebuilt rollups).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from app.alerts import detection
from app.alerts.engine import AlertEngine, EngineConfig
from app.alerts.models import Alert, DetectorState, Incident, IncidentEvent
from app.core.db import Database
from app.core.locks import LockKey
from app.posts.validation import validate_posts
from app.runtime.jobs import SchedulerLock
from app.sources import service as sources
from app.topics import service as topics
from app.topics.schemas import TopicCreate
from tests.app.alerts.test_alert_flow import _burst, _history

NOW = datetime(2026, 11, 20, 6, 2, 30, tzinfo=UTC)  # the burst (last 2 minutes) stays in one bucket


@pytest.fixture
def pg_db(db: Database) -> Database:
    """Row locks and concurrent transactions are a PostgreSQL matter."""
    if db.is_sqlite:
        pytest.skip("SQLite has one writer at a time; these races need PostgreSQL")
    return db


class Background:
    """Runs `work` in a thread, keeping its result or exception."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], Any]) -> None:
        try:
            self.result = work()
        except BaseException as exc:  # handed to the test
            self.error = exc

    def done(self) -> bool:
        """Whether the work has finished."""
        return not self._thread.is_alive()

    def join(self) -> Any:
        """Wait (bounded) and return the result, raising the work's exception."""
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the background transaction did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def blocked_or_done(db: Database, work: Background, timeout: float = 10.0) -> bool:
    """Wait until `work` waits on a lock of our database (True) or has finished (False)."""
    stmt = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if work.done():
            return False
        with db.engine.connect() as connection:
            if connection.execute(stmt).scalar():
                return True
        time.sleep(0.02)
    raise AssertionError("the background transaction neither blocked nor finished")


def test_concurrent_first_pushes_to_a_new_source_share_its_row(pg_db: Database) -> None:
    first = pg_db.sessionmaker()
    try:
        created = sources.ensure_push_source(session=first, name="新的推送源")

        def second() -> int:
            with pg_db.session() as session:
                return sources.ensure_push_source(session=session, name="新的推送源").id

        racer = Background(second)
        assert blocked_or_done(pg_db, racer)  # it waits for our uncommitted row
        first.commit()
        assert racer.join() == created.id
    finally:
        first.close()


def test_a_push_and_the_tick_judging_a_new_topic_at_once_both_succeed(services, pg_db: Database) -> None:  # type: ignore[no-untyped-def]
    with pg_db.session() as session:
        topic_id = topics.create(session=session, data=TopicCreate(name="星河汽车", rule="星河汽车")).id
    now = datetime.now(UTC)
    tick = pg_db.sessionmaker()
    try:
        services.engine.evaluate(tick, topic_id, now)  # the tick creates the topic's detector rows
        tick.flush()
        post = {"id": "p1", "text": "星河汽车今天去店里看了新款", "published_at": now.isoformat()}
        push = Background(lambda: services.pipeline.push("weibo", [post]))
        assert blocked_or_done(pg_db, push)  # the push meets the tick's uncommitted rows
        tick.commit()
        assert push.join().accepted == 1  # and then uses them instead of failing on the key
    finally:
        tick.close()
    with pg_db.session() as session:
        names = set(session.scalars(select(DetectorState.detector)))
        assert names == {*detection.STATE_ROWS, detection.COORDINATION}  # one row each


def test_two_transactions_opening_an_incident_at_once_open_one(
    services, pg_db: Database, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    services.pipeline.clock = lambda: NOW
    with pg_db.session() as session:
        topic_id = topics.create(session=session, data=TopicCreate(name="星河汽车", rule="星河汽车")).id
    for start in range(0, len(history := _history(NOW)), 1000):
        services.pipeline.push("weibo", history[start : start + 1000])
    with pg_db.session() as session:
        assert services.engine.evaluate(session, topic_id, NOW) is None  # detectors up to date, calm
    with monkeypatch.context() as patch:  # store the burst without judging it yet
        patch.setattr(services.engine, "evaluate", lambda *args, **kwargs: None)
        services.pipeline.push("weibo", _burst(NOW, 0, 25))

    first = pg_db.sessionmaker()
    try:
        assert services.engine.evaluate(first, topic_id, NOW) is not None  # opens the incident
        first.flush()
        other = AlertEngine(EngineConfig(critical_terms=services.settings.critical_terms))

        def second() -> str | None:
            with pg_db.session() as session:
                return other.evaluate(session, topic_id, NOW)

        racer = Background(second)
        blocked_or_done(pg_db, racer)  # with the fix it waits for us; without, it opens its own
        first.commit()
        assert racer.join() is not None
    finally:
        first.close()
    with pg_db.session() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
        incident_ids = set(session.scalars(select(Alert.incident_id)))
    assert len(incident_ids) == 1  # both alerts joined the one incident


def test_two_workers_adding_to_one_coordination_episode_at_once_report_it_once(  # type: ignore[no-untyped-def]
    services, pg_db: Database
) -> None:
    """Two batches of one coordination episode stored at once (the engine keeps no state of its own,
    so this is what two workers do): the second waits for the first one's posts and reports the
    episode once, with both batches in it."""
    services.pipeline.clock = lambda: NOW
    with pg_db.session() as session:
        topics.create(session=session, data=TopicCreate(name="星河汽车", rule="星河汽车"))
        source_id = sources.ensure_push_source(session=session, name="weibo").id

    def items(start: int, count: int) -> list[dict[str, Any]]:
        text = "星河汽车门店拒绝退款还威胁顾客，大家一起转发让更多人看到"
        moment = (NOW - timedelta(seconds=30)).isoformat()
        return [
            {"id": f"c{n}", "text": text, "author": f"acct{n}", "published_at": moment}
            for n in range(start, start + count)
        ]

    first = pg_db.sessionmaker()
    try:
        raws = validate_posts(items(0, 6), now=NOW, retention=services.pipeline.retention).posts
        assert services.pipeline.store(first, source_id, raws).new == 6
        first.flush()
        racer = Background(lambda: services.pipeline.push("weibo", items(6, 6)))
        assert blocked_or_done(pg_db, racer)  # waits for our uncommitted posts
        first.commit()
        assert racer.join().accepted == 6
    finally:
        first.close()
    with pg_db.session() as session:
        events = session.scalars(select(IncidentEvent).where(IncidentEvent.kind == "coordination")).all()
        assert [(e.data["posts"], e.data["distinct_authors"]) for e in events] == [(12, 12)]


def test_evaluation_locks_topics_in_id_order(services, db: Database) -> None:  # type: ignore[no-untyped-def]
    """Posts matching several topics judge them in id order whatever order the rules match in."""
    with db.session() as session:
        ids = [
            topics.create(session=session, data=TopicCreate(name=name, rule=name)).id
            for name in ("乙品牌", "甲品牌")
        ]
    seen: list[int] = []
    original = services.engine.evaluate

    def spy(session, topic_id, now, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(topic_id)
        return original(session, topic_id, now, **kwargs)

    services.engine.evaluate = spy
    now = datetime.now(UTC)
    services.pipeline.push(
        "weibo",
        [
            {"id": "x1", "text": "甲品牌", "published_at": now.isoformat()},  # the later topic first
            {"id": "x2", "text": "乙品牌", "published_at": (now - timedelta(seconds=5)).isoformat()},
        ],
    )
    assert seen == sorted(ids)


def test_the_scheduler_lock_is_taken_again_after_its_connection_dies(pg_db: Database) -> None:
    """A restarted database drops the advisory lock with the connection: the holder notices and takes
    it again (or leaves it to a quicker process) instead of running singleton jobs without it."""
    lock, rival = SchedulerLock(pg_db), SchedulerLock(pg_db)
    held = text(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = :key AND objsubid = 1 AND granted"
    )
    try:
        assert lock.acquire() and not rival.acquire()
        with pg_db.engine.connect() as connection:
            first_pid = connection.execute(held, {"key": int(LockKey.SCHEDULER)}).scalar()
            connection.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": first_pid})
        assert lock.acquire()  # noticed the dead connection and took the lock on a new one
        with pg_db.engine.connect() as connection:
            second_pid = connection.execute(held, {"key": int(LockKey.SCHEDULER)}).scalar()
        assert second_pid is not None and second_pid != first_pid
        assert not rival.acquire()
    finally:
        lock.release()
        rival.release()


def test_a_push_during_a_retag_is_tagged_and_counted_once(services, pg_db: Database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A new topic is re-tagged and its rollups rebuilt while pushes, which already know the topic,
    keep storing matching posts. A batch committing in the middle of the rebuild was counted twice
    (by the rebuild's scan and by its own rollup update); one committing in the middle of the re-tag
    scan failed the re-tag on post_topics' key. Now a push waits for the re-tag's commit."""
    from app.posts.models import PostTopic
    from app.stats import rollups
    from app.stats.rollups import GRAINS

    now = datetime.now(UTC)
    old = {"id": "old", "text": "星河汽车 旧帖", "published_at": (now - timedelta(hours=3)).isoformat()}
    services.pipeline.push("weibo", [old])
    with pg_db.session() as session:
        topic_id = topics.create(session=session, data=TopicCreate(name="星河汽车", rule="星河汽车")).id
    main, racers = threading.current_thread(), []
    original = rollups.apply

    def apply_then_push(session, posts, now=None):  # type: ignore[no-untyped-def]
        applied = original(session, posts, now)
        if threading.current_thread() is main and not racers:  # the rebuild's first batch is in
            post = {"id": "new", "text": "星河汽车 新帖", "published_at": datetime.now(UTC).isoformat()}
            racers.append(Background(lambda: services.pipeline.push("weibo", [post])))
            blocked_or_done(pg_db, racers[0])  # the push now waits for the re-tag (it used to commit)
        return applied

    monkeypatch.setattr(rollups, "apply", apply_then_push)
    assert services.retag_pending() == 1
    assert racers and racers[0].join().accepted == 1
    with pg_db.session() as session:
        tagged = session.scalar(
            select(func.count()).select_from(PostTopic).where(PostTopic.topic_id == topic_id)
        )
        assert tagged == 2
        for grain in GRAINS:
            total = session.scalar(
                select(func.sum(grain.rollup.total)).where(grain.rollup.topic_id == topic_id)
            )
            assert total == 2, grain.name
