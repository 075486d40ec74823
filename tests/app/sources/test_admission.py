"""Collected posts pass the same admission as pushed ones: a feed item dated in the future is stored at
the collection time and said so in the run's warnings; one older than the retention window is not
stored, and says why; the others are stored as they came."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from sqlalchemy import select

from app.posts.models import Post
from tests.support.loopback import LoopbackServer

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _feed(items: list[tuple[str, datetime]]) -> bytes:
    entries = "".join(
        f"<item><title>{title}</title><link>https://news.example.cn/{n}</link><guid>g{n}</guid>"
        f"<description>{title}，详情见正文</description><pubDate>{format_datetime(at)}</pubDate></item>"
        for n, (title, at) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>测试源</title>'
        f"<link>https://news.example.cn/</link><description>时间测试</description>{entries}</channel></rss>"
    ).encode()


def test_a_feed_is_admitted_by_the_same_rules_as_a_push(  # type: ignore[no-untyped-def]
    client, db, services, settings, write_headers, loopback_server: LoopbackServer
) -> None:
    services.pipeline.clock = lambda: NOW
    services.pipeline.settings = settings.model_copy(update={"retention_days": 90})
    future = NOW + timedelta(days=1)
    items = [
        ("某品牌门店今日开业", NOW - timedelta(hours=2)),
        ("发布时间写错成明天的新闻", future),
        ("五年前的旧闻", NOW - timedelta(days=5 * 365)),
    ]
    loopback_server.serve("/feed.xml", _feed(items), content_type="application/xml")
    source = client.post(
        "/api/v1/sources",
        headers=write_headers,
        json={"name": "times", "kind": "rss", "url": loopback_server.url("/feed.xml")},
    ).json()
    summary = client.post(f"/api/v1/sources/{source['id']}/collect", headers=write_headers).json()
    assert summary["status"] == "ok" and summary["new"] == 2, summary
    warnings = summary["warnings"]
    assert any("item 2" in w and "保留期" in w for w in warnings), warnings
    assert any("item 1" in w and "published_at" in w and "接收时间" in w for w in warnings), warnings
    with db.session() as session:
        stored = dict(session.execute(select(Post.title, Post.published_at)).all())
    assert stored == {items[0][0]: items[0][1], items[1][0]: NOW}
