"""Several processes against one PostgreSQL: three workers and one scheduler share 30 loopback feeds;
each feed is fetched once per interval and every post is stored once. Then a burst of negative posts
on a warmed-up topic arrives through six feeds at once, collected concurrently by different workers:
it opens exactly one incident and each configured channel receives exactly one message."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.alerts.models import Incident
from app.channels.models import Delivery, Notice
from app.core.config import Settings
from app.posts.models import Post
from app.sources import service as sources
from app.sources.models import Source
from app.sources.schemas import SourceCreate
from app.topics import service as topics
from app.topics.schemas import TopicCreate
from tests.app.test_alert_flow import ANGRY, _history
from tests.app.test_delivery_helpers import Receiver, make_channel
from tests.conftest import make_key
from tests.support.loopback import LoopbackServer, RecordedRequest, Reply

pytestmark = pytest.mark.slow
INTERVAL = 4
FEEDS = 30
BURST_FEEDS = 6  # feeds that carry the burst, collected by whichever workers claim them
BURST_POSTS = 25  # per burst feed: enough for the first batch alone to be judged 严重
BRAND = "云帆电池"


def _feed(index: int, extra: str = "") -> bytes:
    items = "".join(
        f"<item><guid>f{index}-{n}</guid><title>第 {index} 号源的第 {n} 条</title>"
        f"<description>星河汽车 第 {n} 条新闻</description>"
        f"<pubDate>Mon, 23 Nov 2026 08:0{n}:00 +0800</pubDate></item>"
        for n in range(3)
    )
    head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0">'
    return f"{head}<channel><title>源{index}</title>{items}{extra}</channel></rss>".encode()


def _burst_items(index: int, now: datetime) -> str:
    """Angry posts about the brand with critical terms, from distinct authors, in the last minute."""
    return "".join(
        f"<item><guid>burst-{index}-{n}</guid><author>u{index}-{n}@example.org (网友{index}-{n})</author>"
        f"<description>{ANGRY[n % len(ANGRY)].replace('星河汽车', BRAND)}，电池起火了，要求召回 第{n}条"
        f"</description><pubDate>{format_datetime(now - timedelta(seconds=n))}</pubDate></item>"
        for n in range(BURST_POSTS)
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def pg_settings(settings: Settings) -> Settings:
    """These tests need the shared database of several processes: PostgreSQL only."""
    if settings.is_sqlite:
        pytest.skip("several processes need PostgreSQL; SQLite is single-process")
    return settings


def _start(role: str, settings: Settings, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    env = {
        **os.environ,
        "YUQING_DATABASE_URL": settings.database_url,
        "YUQING_URL_ALLOWLIST": "127.0.0.0/8",
        "YUQING_COLLECT_HOST_INTERVAL_SECONDS": "0",
        "YUQING_LOG_LEVEL": "WARNING",
    }
    port = _free_port()
    with log.open("ab") as sink:  # a file, not a pipe: a chatty process must never block on its log
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--role", role, "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    return process, port


def _wait_ready(started: list[tuple[subprocess.Popen[bytes], int]], log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    for process, port in started:
        while True:
            assert process.poll() is None, _tail(log)
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"process on port {port} did not become ready"
            time.sleep(0.3)


def _tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def _poll(condition: Callable[[], Any], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}; processes' log:\n{_tail(log)}"
        time.sleep(0.1)


@pytest.fixture
def cluster(pg_settings: Settings, tmp_path: Path) -> Iterator[list[tuple[subprocess.Popen[bytes], int]]]:
    """Three workers and one scheduler (each also serving the API on its port), stopped with SIGTERM."""
    log = tmp_path / "cluster.log"
    started = [_start("worker", pg_settings, log) for _ in range(3)] + [_start("scheduler", pg_settings, log)]
    _wait_ready(started, log)
    yield started
    for process, _ in started:
        process.send_signal(signal.SIGTERM)
    for process, _ in started:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def test_three_workers_fetch_each_feed_once_per_interval_and_a_burst_alerts_once(  # type: ignore[no-untyped-def]
    pg_settings, db, cluster, tmp_path
) -> None:
    log = tmp_path / "cluster.log"
    arrivals: dict[str, list[float]] = defaultdict(list)
    burst: dict[str, Any] = {"items": {}, "served": defaultdict(int)}  # path -> extra items; burst fetches
    receiver = Receiver().start()
    try:
        with db.session() as session:
            topic_id = topics.create(session=session, data=TopicCreate(name=BRAND, rule=BRAND)).id
            make_channel(session, receiver, "webhook", name="ops-webhook")
            make_channel(session, receiver, "dingtalk", name="pr-dingtalk")
        history = [
            {**post, "text": post["text"].replace("星河汽车", BRAND)} for post in _history(datetime.now(UTC))
        ]
        headers = {"Authorization": f"Bearer {make_key(db, 'multiworker', 'write')}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{cluster[0][1]}", headers=headers, timeout=60) as api:
            for start in range(0, len(history), 1000):  # three calm days: the detectors' baseline
                response = api.post(
                    "/api/v1/posts", json={"source": "weibo", "posts": history[start : start + 1000]}
                )
                assert response.status_code == 200 and not response.json()["rejected"], response.text

        with LoopbackServer() as server:
            with db.session() as session:
                for index in range(FEEDS):
                    path = f"/feed/{index}"

                    def respond(request: RecordedRequest, index: int = index, path: str = path) -> Reply:
                        arrivals[path].append(time.monotonic())
                        extra = burst["items"].get(path, "")
                        if extra:
                            burst["served"][path] += 1
                        return Reply(200, _feed(index, extra), "application/xml")

                    server.handle(path, respond)
                    sources.create(
                        session=session,
                        allowlist=["127.0.0.0/8"],
                        data=SourceCreate(
                            name=f"feed-{index}", kind="rss", url=server.url(path), interval_seconds=INTERVAL
                        ),
                    )
            _poll(
                lambda: len(arrivals) == FEEDS and min(map(len, arrivals.values())) >= 4, 60, "4 rounds", log
            )
            steady = {path: list(times) for path, times in arrivals.items()}

            now = datetime.now(UTC)  # the burst: six feeds at once grow 25 angry posts each
            burst["items"] = {f"/feed/{index}": _burst_items(index, now) for index in range(BURST_FEEDS)}

            def delivered() -> bool:
                with db.session() as session:
                    stmt = select(func.count(Delivery.id)).where(Delivery.status == "delivered")
                    return session.scalar(stmt) == 2

            _poll(delivered, 60, "one delivered message per channel", log)
            seen = dict(burst["served"])  # then every burst feed is collected once more (all duplicates)
            _poll(
                lambda: all(burst["served"][p] > seen.get(p, 0) for p in burst["items"]), 30, "a round", log
            )
            for process, _ in cluster:
                assert process.poll() is None, _tail(log)
    finally:
        receiver.stop()

    for path, times in steady.items():  # each feed fetched exactly once per interval
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert min(gaps) >= INTERVAL * 0.85, (path, gaps)
    with db.session() as session:
        incidents = session.scalars(select(Incident)).all()
        assert [(i.topic_id, i.grade) for i in incidents] == [(topic_id, "severe")]  # one, 严重 at once
        assert session.scalar(select(func.count(Notice.id))) == 1
        assert session.scalar(select(func.count(Delivery.id))) == 2  # nothing else waiting to go out
        feed_posts = select(func.count(Post.id)).join(Source).where(Source.kind == "rss")
        assert session.scalar(feed_posts) == FEEDS * 3 + BURST_FEEDS * BURST_POSTS
        keys = select(func.count(func.distinct(func.concat(Post.source_id, ":", Post.dedup_key))))
        assert session.scalar(keys) == session.scalar(select(func.count(Post.id)))  # every post stored once
    assert len(receiver.accepted("webhook")) == 1 and len(receiver.accepted("dingtalk")) == 1
