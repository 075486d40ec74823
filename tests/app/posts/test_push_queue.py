"""Queued pushes: an API process that does not analyse queues push batches; workers store them.

Pipeline level on SQLite and PostgreSQL (queue, drain, duplicates, leases, failing batches kept),
then processes on PostgreSQL: `serve --role api` queues and never loads the analyser, a
`serve --role worker` stores every accepted post once.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from app.core.config import Settings
from app.core.db import Database, utcnow
from app.posts import queue as ingest_queue
from app.posts.models import IngestBatch, Post, PostTopic
from app.posts.validation import validate_posts
from app.stats.models import Rollup
from app.topics import service as topics
from app.topics.schemas import TopicCreate
from tests.support.loopback import LoopbackServer
from tests.support.processes import Server, service_env

FEED = Path(__file__).resolve().parents[2] / "fixtures" / "collectors" / "zh_weibo_rss20.xml"

POSTS = [
    {"id": "q1", "text": "星河汽车刹车失灵，车主维权无门，太气人了", "author": "甲"},
    {"id": "q2", "text": "星河汽车新车发布会很精彩，值得期待", "author": "乙"},
    {"id": "q3", "text": "今天天气不错", "author": "丙"},
]


def _stored(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count(Post.id))) or 0)


def _batches(db: Database) -> list[IngestBatch]:
    with db.session() as session:
        rows = list(session.scalars(select(IngestBatch).order_by(IngestBatch.id)))
        session.expunge_all()
        return rows


def _drain(pipeline, owner: str = "test-worker") -> list[int]:  # type: ignore[no-untyped-def]
    counts = []
    while (count := pipeline.ingest_queued(owner)) is not None:
        counts.append(count)
    return counts


def test_queued_push_is_durable_then_stored_once_by_a_worker(services, db) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        topic = topics.create(session=session, data=TopicCreate(name="星河", rule="星河汽车"))
        topic_id = topic.id
    pipeline = services.pipeline
    pipeline.queue_pushes = True
    first = pipeline.push("crm", [*POSTS, {"id": "bad"}])
    assert (first.accepted, first.queued, first.duplicates) == (3, 3, 0)
    assert [r.index for r in first.rejected] == [3]
    assert _stored(db) == 0
    batches = _batches(db)
    assert [(b.size, b.status, b.attempts) for b in batches] == [(3, "pending", 0)]
    assert [p["external_id"] for p in batches[0].posts] == ["q1", "q2", "q3"]
    with db.session() as session:
        assert ingest_queue.depth(session) == (3, 0)
    # Pushed again before a worker ran: queued again, stored once in the end.
    again = pipeline.push("crm", POSTS[:2])
    assert (again.accepted, again.queued) == (2, 2)
    assert _drain(pipeline) == [3, 0]
    assert _stored(db) == 3 and _batches(db) == []
    with db.session() as session:
        tagged = session.scalar(
            select(func.count()).select_from(PostTopic).where(PostTopic.topic_id == topic_id)
        )
        sentiments = dict(session.execute(select(Post.external_id, Post.sentiment)).all())
    assert tagged == 2
    raws = validate_posts(POSTS, now=pipeline.clock(), retention=pipeline.retention).posts
    inline = pipeline.analyzer.analyze_many(raws)
    assert sentiments == {raw.external_id: a.sentiment for raw, a in zip(raws, inline, strict=True)}
    # Once stored, a push of the same posts is answered as duplicates without queueing.
    late = pipeline.push("crm", POSTS)
    assert (late.accepted, late.queued, late.duplicates) == (0, 0, 3)
    assert _batches(db) == []


def test_a_leased_batch_waits_for_its_lease_then_another_worker_takes_it(services, db) -> None:  # type: ignore[no-untyped-def]
    pipeline = services.pipeline
    pipeline.queue_pushes = True
    pipeline.push("crm", POSTS)
    claimed = ingest_queue.claim(db, owner="worker-a", lease=timedelta(minutes=5), max_attempts=5)
    assert claimed is not None and claimed.attempts == 1 and len(claimed.posts) == 3
    # worker-a dies here: nothing stored, and nobody else may take the batch while its lease runs.
    assert pipeline.ingest_queued("worker-b") is None
    with db.session() as session:  # the lease runs out
        session.execute(update(IngestBatch).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert pipeline.ingest_queued("worker-b") == 3
    assert _stored(db) == 3 and _batches(db) == []


def test_a_failing_batch_is_retried_with_back_off_then_kept_as_failed(
    settings: Settings, services, db
) -> None:  # type: ignore[no-untyped-def]
    pipeline = services.pipeline
    pipeline.settings = settings.model_copy(update={"ingest_max_attempts": 2})
    pipeline.queue_pushes = True
    pipeline.push("crm", POSTS)

    def broken(session, stored, now):  # type: ignore[no-untyped-def]
        raise RuntimeError("rollups are broken")

    pipeline.hooks.append(broken)
    assert pipeline.ingest_queued("w") == 0
    [batch] = _batches(db)
    assert (batch.status, batch.attempts, batch.lease_owner) == ("pending", 1, None)
    assert "rollups are broken" in (batch.last_error or "")
    assert batch.available_at > utcnow()  # backed off
    assert pipeline.ingest_queued("w") is None
    # Step 1 (posts, clusters, topics) committed; step 2 (rollups) rolled back and is what remains.
    assert _stored(db) == 3 and batch.stored_post_ids is not None and len(batch.stored_post_ids) == 3
    with db.session() as session:
        session.execute(update(IngestBatch).values(available_at=utcnow()))
    assert pipeline.ingest_queued("w") == 0
    [batch] = _batches(db)
    assert (batch.status, batch.attempts) == ("failed", 2)
    pipeline.hooks.remove(broken)
    assert pipeline.ingest_queued("w") is None  # kept for an operator, never retried on its own
    with db.session() as session:
        assert ingest_queue.depth(session) == (0, 1)


def test_a_batch_stored_but_not_rolled_up_is_finished_once_by_the_next_worker(services, db) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        topic_id = topics.create(session=session, data=TopicCreate(name="星河", rule="星河汽车")).id
    pipeline = services.pipeline
    pipeline.queue_pushes = True
    pipeline.push("crm", POSTS)

    def dies(session, stored, now):  # type: ignore[no-untyped-def]
        raise RuntimeError("worker died between the two transactions")

    pipeline.hooks.append(dies)
    assert pipeline.ingest_queued("w1") == 0
    pipeline.hooks.remove(dies)
    [batch] = _batches(db)
    assert _stored(db) == 3 and batch.stored_post_ids is not None
    with db.session() as session:  # searchable, not yet in the rollups
        assert session.scalar(select(func.coalesce(func.sum(Rollup.total), 0))) == 0
        session.execute(update(IngestBatch).values(available_at=utcnow()))
    assert _drain(pipeline, "w2") == [0]  # step 2 only: nothing analysed or inserted again
    assert _stored(db) == 3 and _batches(db) == []
    with db.session() as session:
        total = session.scalar(select(func.sum(Rollup.total)).where(Rollup.topic_id == topic_id))
        tagged = session.scalar(
            select(func.count()).select_from(PostTopic).where(PostTopic.topic_id == topic_id)
        )
    assert total == tagged == 2  # counted exactly once


def test_a_batch_whose_workers_keep_dying_is_kept_as_failed(settings: Settings, services, db) -> None:  # type: ignore[no-untyped-def]
    services.pipeline.queue_pushes = True
    services.pipeline.push("crm", POSTS)
    for attempt in (1, 2):
        claimed = ingest_queue.claim(db, owner=f"w{attempt}", lease=timedelta(minutes=5), max_attempts=2)
        assert claimed is not None and claimed.attempts == attempt
        with db.session() as session:
            session.execute(update(IngestBatch).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert ingest_queue.claim(db, owner="w3", lease=timedelta(minutes=5), max_attempts=2) is None
    [batch] = _batches(db)
    assert batch.status == "failed" and "stopped" in (batch.last_error or "")


def test_a_full_queue_refuses_pushes_with_503_and_loses_nothing(client, services, db, admin_headers) -> None:  # type: ignore[no-untyped-def]
    pipeline = services.pipeline
    pipeline.queue_pushes = True
    pipeline.settings = pipeline.settings.model_copy(update={"ingest_max_queued_posts": 4})
    first = client.post("/api/v1/posts", json={"source": "crm", "posts": POSTS}, headers=admin_headers)
    assert first.status_code == 200 and first.json()["queued"] == 3
    with db.session() as session:  # make the waiting batch an old one
        session.execute(update(IngestBatch).values(received_at=utcnow() - timedelta(seconds=90)))
    metrics = client.get("/metrics", headers=admin_headers).text
    assert _metric(metrics, "yuqing_ingest_queue_oldest_seconds") >= 90
    more = [{"id": f"m{i}", "text": f"星河汽车第{i}条投诉"} for i in range(5)]
    second = client.post("/api/v1/posts", json={"source": "crm", "posts": more}, headers=admin_headers)
    assert second.status_code == 200 and second.json()["queued"] == 5  # 3 waiting: still room
    full = client.post(
        "/api/v1/posts",
        json={"source": "crm", "posts": [{"id": "x", "text": "又来一条"}]},
        headers=admin_headers,
    )
    assert full.status_code == 503, full.text
    assert full.headers["Retry-After"] == str(ingest_queue.FULL_RETRY_AFTER_SECONDS)
    error = full.json()["error"]
    assert error["code"] == "queue_full" and "队列已满" in error["message"]
    assert error["details"] == {"queued": 8, "limit": 4}
    assert _drain(pipeline) == [3, 5]
    assert _stored(db) == 8  # everything accepted was stored; the refused post was never taken
    again = client.post(
        "/api/v1/posts",
        json={"source": "crm", "posts": [{"id": "x", "text": "又来一条"}]},
        headers=admin_headers,
    )
    assert again.status_code == 200 and again.json()["queued"] == 1
    metrics = client.get("/metrics", headers=admin_headers).text
    assert 0 <= _metric(metrics, "yuqing_ingest_queue_oldest_seconds") < 60


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


@pytest.mark.slow
@pytest.mark.serial
def test_api_process_queues_and_a_worker_process_stores(  # type: ignore[no-untyped-def]
    settings: Settings, db, admin_headers, loopback_server: LoopbackServer, tmp_path: Path
) -> None:
    if settings.is_sqlite:
        pytest.skip("separate API and worker processes need PostgreSQL; SQLite is single-process")
    env = service_env(settings.database_url)
    with Server(env, tmp_path, role="api") as api, Server(env, tmp_path, role="worker") as worker:
        total = 0
        with httpx.Client(base_url=api.base_url, headers=admin_headers, timeout=30) as client:
            for batch in range(4):
                posts = [
                    {
                        "id": f"p{batch}-{i}",
                        "text": f"星河汽车第{batch}批第{i}条：车机又死机了",
                        "author": f"u{i}",
                    }
                    for i in range(250)
                ]
                answer = client.post("/api/v1/posts", json={"source": "crm", "posts": posts})
                assert answer.status_code == 200, answer.text
                assert answer.json()["queued"] == answer.json()["accepted"] == 250
                total += 250
            deadline = time.monotonic() + 60
            while _stored(db) < total and time.monotonic() < deadline:
                assert worker.process is not None and worker.process.poll() is None, worker.log_tail()
                time.sleep(0.2)
            assert _stored(db) == total and _batches(db) == []
            # Collect-now through the API process: a worker runs it, the API answers with its summary.
            loopback_server.serve("/feed", FEED.read_bytes(), content_type="application/xml")
            source = client.post(
                "/api/v1/sources",
                json={
                    "name": "feed",
                    "kind": "rss",
                    "url": loopback_server.url("/feed"),
                    "interval_seconds": 3600,
                },
            ).json()
            summary = client.post(f"/api/v1/sources/{source['id']}/collect")
            assert summary.status_code == 200, summary.text
            assert summary.json()["status"] in ("ok", "not_modified") and summary.json()["source"] == "feed"
            collected = _stored(db) - total
            assert collected > 0
            api_metrics = client.get("/metrics").text
            worker_metrics = httpx.get(f"{worker.base_url}/metrics", headers=admin_headers).text
    assert 'yuqing_posts_queued_total{source="crm"} 1000.0' in api_metrics
    assert _metric(api_metrics, "yuqing_analysis_posts_total") == 0  # the API never analysed
    assert _metric(worker_metrics, "yuqing_analysis_posts_total") == total + collected


@pytest.mark.slow
@pytest.mark.serial
def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(  # type: ignore[no-untyped-def]
    settings: Settings, db, admin_headers, tmp_path: Path
) -> None:
    if settings.is_sqlite:
        pytest.skip("separate API and worker processes need PostgreSQL; SQLite is single-process")
    env = service_env(settings.database_url, YUQING_INGEST_LEASE_SECONDS="3")
    batches, size = 6, 1000
    with Server(env, tmp_path, role="api", name="kill") as api:
        with httpx.Client(base_url=api.base_url, headers=admin_headers, timeout=60) as client:
            for batch in range(batches):
                posts = [
                    {
                        "id": f"k{batch}-{i}",
                        "text": f"星河汽车第{batch}批第{i}条：车机黑屏，售后推诿",
                        "author": f"u{i}",
                    }
                    for i in range(size)
                ]
                answer = client.post("/api/v1/posts", json={"source": "crm", "posts": posts})
                assert answer.status_code == 200 and answer.json()["queued"] == size, answer.text
        doomed = Server(env, tmp_path, role="worker", name="doomed").start()
        # Kill the worker the moment it holds a lease on a batch it has not stored yet.
        deadline = time.monotonic() + 60
        killed: int | None = None
        while killed is None and time.monotonic() < deadline:
            with db.session() as session:
                leased = session.scalar(
                    select(IngestBatch.id).where(IngestBatch.lease_owner.is_not(None)).limit(1)
                )
            if leased is not None:
                doomed.process.kill()  # SIGKILL: no clean-up, the transaction dies with the process
                doomed.process.wait()
                killed = leased
            time.sleep(0.005)
        assert killed is not None, "the worker never claimed a batch"
        # It died holding a lease on a batch it had not stored (perhaps the next one, if it just
        # finished the one seen leased): that batch is still queued, leased to a dead process.
        orphaned = [b for b in _batches(db) if b.status == "pending" and b.lease_owner is not None]
        assert len(orphaned) == 1, [(b.id, b.status, b.lease_owner) for b in _batches(db)]
        stored_at_kill = _stored(db)
        assert stored_at_kill < batches * size
        with Server(env, tmp_path, role="worker", name="heir") as heir:
            deadline = time.monotonic() + 90
            while _stored(db) < batches * size and time.monotonic() < deadline:
                assert heir.process is not None and heir.process.poll() is None, heir.log_tail()
                time.sleep(0.2)
    assert _stored(db) == batches * size and _batches(db) == []
    with db.session() as session:
        distinct = session.scalar(select(func.count(func.distinct(Post.dedup_key))))
    assert distinct == batches * size  # every post exactly once
