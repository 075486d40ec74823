"""Several processes against one PostgreSQL: three workers and one scheduler share 30 loopback feeds;
each feed is fetched once per interval and every post is stored once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from app.core.config import Settings
from app.posts.models import Post
from app.sources import service as sources
from app.sources.schemas import SourceCreate
from tests.support.loopback import LoopbackServer, Reply

pytestmark = pytest.mark.slow
INTERVAL = 4
FEEDS = 30


def _feed(index: int) -> bytes:
    items = "".join(
        f"<item><guid>f{index}-{n}</guid><title>第 {index} 号源的第 {n} 条</title>"
        f"<description>星河汽车 第 {n} 条新闻</description>"
        f"<pubDate>Mon, 23 Nov 2026 08:0{n}:00 +0800</pubDate></item>"
        for n in range(3)
    )
    head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0">'
    return f"{head}<channel><title>源{index}</title>{items}</channel></rss>".encode()


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


def _start(role: str, settings: Settings) -> tuple[subprocess.Popen[bytes], int]:
    env = {
        **os.environ,
        "YUQING_DATABASE_URL": settings.database_url,
        "YUQING_URL_ALLOWLIST": "127.0.0.0/8",
        "YUQING_COLLECT_HOST_INTERVAL_SECONDS": "0",
        "YUQING_LOG_LEVEL": "WARNING",
    }
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--role", role, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return process, port


def _wait_ready(started: list[tuple[subprocess.Popen[bytes], int]], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    for process, port in started:
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else "exited"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"process on port {port} did not become ready"
            time.sleep(0.3)


@pytest.fixture
def cluster(pg_settings: Settings) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Three workers and one scheduler, stopped with SIGTERM at the end."""
    started = [_start("worker", pg_settings) for _ in range(3)] + [_start("scheduler", pg_settings)]
    _wait_ready(started)
    processes = [process for process, _ in started]
    yield processes
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def test_three_workers_fetch_each_feed_once_per_interval(pg_settings, db, cluster) -> None:  # type: ignore[no-untyped-def]
    arrivals: dict[str, list[float]] = defaultdict(list)
    with LoopbackServer() as server:
        with db.session() as session:
            for index in range(FEEDS):
                body = _feed(index)
                path = f"/feed/{index}"

                def respond(request, body=body, path=path):  # type: ignore[no-untyped-def]
                    arrivals[path].append(time.monotonic())
                    return Reply(200, body, "application/xml")

                server.handle(path, respond)
                sources.create(
                    session=session,
                    allowlist=["127.0.0.0/8"],
                    data=SourceCreate(
                        name=f"feed-{index}", kind="rss", url=server.url(path), interval_seconds=INTERVAL
                    ),
                )
        time.sleep(INTERVAL * 4 + 3)
        for process in cluster:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
    assert len(arrivals) == FEEDS
    for path, times in arrivals.items():
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert len(times) >= 3, (path, times)
        assert min(gaps) >= INTERVAL * 0.85, (path, gaps)
    with db.session() as session:
        assert session.scalar(select(func.count(Post.id))) == FEEDS * 3
        assert session.scalar(select(func.count(func.distinct(Post.dedup_key)))) == FEEDS * 3
