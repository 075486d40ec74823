"""Browser-captured posts (Zeeschuimer NDJSON) imported with authors, engagement and times mapped;
lines without a usable post rejected with a Chinese reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from app.importer import import_posts
from app.posts.models import Post

CAPTURES = Path(__file__).resolve().parents[2] / "fixtures" / "imports" / "zeeschuimer.ndjson"


def test_captured_posts_are_mapped(services, db) -> None:  # type: ignore[no-untyped-def]
    report = import_posts(services.pipeline, CAPTURES, "browser-capture", progress=False)
    assert report.accepted == 5
    assert {r.index: r.error for r in report.rejected}.keys() == {5, 7}
    assert "缩略卡片" in report.rejected[0].error and "不支持的平台" in report.rejected[1].error
    with db.session() as session:
        posts = {p.external_id: p for p in session.scalars(select(Post))}
    douyin = posts["7441000000000000001"]
    assert douyin.platform == "douyin" and douyin.author == "车主小王"
    assert douyin.engagement == {"likes": 1520, "comments": 233, "shares": 41, "collects": 12}
    assert douyin.published_at == datetime.fromtimestamp(1764740460, UTC)
    assert douyin.url == "https://www.douyin.com/video/7441000000000000001"
    assert (douyin.author_id, douyin.author_followers, douyin.author_verified) == ("100", 2_300_000, None)
    embedded = posts["7441000000000000002"]
    assert embedded.author == "星河汽车官方" and embedded.engagement["likes"] == 88
    assert (embedded.author_id, embedded.author_followers) == (None, None)  # the embed carries neither
    note = posts["6751a0000000000001000001"]
    assert note.platform == "xiaohongshu" and note.title == "提车一个月，刹车异响"
    assert note.engagement == {"likes": 12000, "comments": 356}
    assert note.author_id == "5f0a1b2c000000000101" and note.author_followers is None
    assert posts["6751a0000000000001000002"].author == "避雷小能手"
    weibo = posts["5107000000000001"]
    assert weibo.platform == "weibo" and weibo.author == "路人甲"
    assert weibo.published_at == datetime(2026, 12, 3, 6, 5, tzinfo=UTC)
    assert weibo.engagement == {"reposts": 12, "comments": 35, "likes": 1024}
    assert weibo.url == "https://weibo.com/5555/Pq9rS"
    assert (weibo.author_id, weibo.author_followers, weibo.author_verified) == ("5555", 1200, False)
    again = import_posts(services.pipeline, CAPTURES, "browser-capture", progress=False)
    assert (again.accepted, again.duplicates) == (0, 5)
