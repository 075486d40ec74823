"""A 50,000-item feed (about 4.6 MB) is collected within the budget: its newest `max_items` entries
are parsed and stored, and the run records a warning, readable through the API."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.posts.models import Post
from tests.support.loopback import LoopbackServer

ITEMS = 50_000
KEEP = 2000
BUDGET_SECONDS = 40.0


def _big_feed(now: datetime) -> tuple[bytes, list[int]]:
    """An RSS 2.0 feed of ITEMS short entries in shuffled date order; returns it and the newest ids."""
    order = list(range(ITEMS))  # entry i was published i minutes ago
    random.Random(11).shuffle(order)
    items = []
    for i in order:
        published = (now - timedelta(minutes=i)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        items.append(
            f'<item><title>第{i}条</title><guid isPermaLink="false">b{i}</guid>'
            f"<pubDate>{published}</pubDate><description>车主投诉{i}</description></item>"
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>大</title>'
        "<link>https://big.example/</link>" + "\n".join(items) + "</channel></rss>"
    )
    return body.encode(), list(range(KEEP))


def test_a_50000_item_feed_keeps_its_newest_entries_within_the_budget(
    client, db, write_headers, loopback_server: LoopbackServer
) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC).replace(microsecond=0)
    body, newest = _big_feed(now)
    assert len(body) > 4_000_000
    loopback_server.serve("/big", body, content_type="application/rss+xml")
    source = client.post(
        "/api/v1/sources",
        headers=write_headers,
        json={
            "name": "big",
            "kind": "rss",
            "url": loopback_server.url("/big"),
            "options": {"max_items": KEEP},
        },
    ).json()
    summary = client.post(f"/api/v1/sources/{source['id']}/collect", headers=write_headers).json()
    assert summary["status"] == "ok", summary
    assert summary["new"] == KEEP and summary["duration_ms"] < BUDGET_SECONDS * 1000, summary
    assert any(f"50000 entries; kept the newest {KEEP}" in w for w in summary["warnings"]), summary
    with db.session() as session:
        stored = set(session.scalars(select(Post.external_id)))
        assert session.scalar(select(func.count(Post.id))) == KEEP
    assert stored == {f"b{i}" for i in newest}  # the newest, not the first in document order
    runs = client.get(f"/api/v1/sources/{source['id']}/runs", headers=write_headers).json()
    assert runs[0]["status"] == "ok" and runs[0]["new"] == KEEP
    assert runs[0]["warnings"][0].startswith("the feed has 50000 entries"), runs[0]
