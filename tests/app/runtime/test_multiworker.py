"""Several processes against one PostgreSQL: three workers and one scheduler share 30 loopback feeds;
each feed is fetched once per interval and every post is stored once. Then a burst of negative posts
on a warmed-up topic arrives through six feeds at once, collected concurrently by different workers:
it opens exactly one incident and each configured channel receives exactly one message."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.alerts.models import Incident
from app.channels.models import Delivery, NoticeRow
from app.core.config import Settings
from app.posts.models import Post
from app.sources import service as sources
from app.sources.models import Source
from app.sources.schemas import SourceCreate
from app.topics import service as topics
from app.topics.schemas import TopicCreate
from tests.app.alerts.test_alert_flow import ANGRY, _history
from tests.conftest import make_key
from tests.support.delivery import Receiver, make_channel
from tests.support.loopback import LoopbackServer, RecordedRequest, Reply
from tests.support.processes import Server, service_env

pytestmark = [pytest.mark.slow, pytest.mark.serial]
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


@pytest.fixture
def pg_settings(settings: Settings) -> Settings:
    """These tests need the shared database of several processes: PostgreSQL only."""
    if settings.is_sqlite:
        pytest.skip("several processes need PostgreSQL; SQLite is single-process")
    return settings


def _tail(cluster: list[Server], chars: int = 4000) -> str:
    return "\n".join(f"--- {server.role} {server.port}\n{server.log_tail(chars)}" for server in cluster)


def _poll(condition: Callable[[], Any], timeout: float, what: str, cluster: list[Server]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, (
            f"timed out waiting for {what}; processes' logs:\n{_tail(cluster)}"
        )
        time.sleep(0.1)


@pytest.fixture
def cluster(pg_settings: Settings, tmp_path: Path) -> Iterator[list[Server]]:
    """Three workers and one scheduler (each also serving the API on its port), stopped with SIGTERM."""
    env = service_env(pg_settings.database_url)
    with ExitStack() as stack:
        yield [
            stack.enter_context(Server(env, tmp_path, role=role, name="cluster"))
            for role in ("worker", "worker", "worker", "scheduler")
        ]


def test_three_workers_fetch_each_feed_once_per_interval_and_a_burst_alerts_once(  # type: ignore[no-untyped-def]
    pg_settings, db, cluster, tmp_path
) -> None:
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
        with httpx.Client(base_url=cluster[0].base_url, headers=headers, timeout=60) as api:
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
                lambda: len(arrivals) == FEEDS and min(map(len, arrivals.values())) >= 4,
                60,
                "4 rounds",
                cluster,
            )
            steady = {path: list(times) for path, times in arrivals.items()}

            now = datetime.now(UTC)  # the burst: six feeds at once grow 25 angry posts each
            burst["items"] = {f"/feed/{index}": _burst_items(index, now) for index in range(BURST_FEEDS)}

            def delivered() -> bool:
                with db.session() as session:
                    stmt = select(func.count(Delivery.id)).where(Delivery.status == "delivered")
                    return session.scalar(stmt) == 2

            _poll(delivered, 60, "one delivered message per channel", cluster)
            seen = dict(burst["served"])  # then every burst feed is collected once more (all duplicates)
            _poll(
                lambda: all(burst["served"][p] > seen.get(p, 0) for p in burst["items"]),
                30,
                "a round",
                cluster,
            )
            for server in cluster:
                assert server.process is not None and server.process.poll() is None, _tail(cluster)
    finally:
        receiver.stop()

    for path, times in steady.items():  # each feed fetched exactly once per interval
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert min(gaps) >= INTERVAL * 0.85, (path, gaps)
    with db.session() as session:
        incidents = session.scalars(select(Incident)).all()
        assert [(i.topic_id, i.grade) for i in incidents] == [(topic_id, "severe")]  # one, 严重 at once
        assert session.scalar(select(func.count(NoticeRow.id))) == 1
        assert session.scalar(select(func.count(Delivery.id))) == 2  # nothing else waiting to go out
        feed_posts = select(func.count(Post.id)).join(Source).where(Source.kind == "rss")
        assert session.scalar(feed_posts) == FEEDS * 3 + BURST_FEEDS * BURST_POSTS
        keys = select(func.count(func.distinct(func.concat(Post.source_id, ":", Post.dedup_key))))
        assert session.scalar(keys) == session.scalar(select(func.count(Post.id)))  # every post stored once
    assert len(receiver.accepted("webhook")) == 1 and len(receiver.accepted("dingtalk")) == 1
