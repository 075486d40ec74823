"""Push ingest and file import: bad rows are rejected alone, good rows kept, re-sends add nothing."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.posts.models import Post
from app.sources.models import Source

GOOD = [
    {
        "id": "a1",
        "text": "某品牌新车刹车失灵，太吓人了[怒]",
        "author": "用户A",
        "url": "https://weibo.com/1/a1",
        "published_at": "2026-11-23T08:00:00+08:00",
        "engagement": {"reposts": 3, "likes": 10},
    },
    {"id": 2, "text": "這家店的服務真的很好，推薦！", "author": "用户B"},
    {"text": "没有 id 也没有链接，用内容哈希去重", "author": "用户C"},
]
BAD = [
    "not an object",
    {"id": "b1", "text": ""},
    {"id": "b2", "text": "时间格式错误", "published_at": "yesterday-ish"},
    {"id": "b3"},
]


def _count(db, source_name: str) -> int:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return session.scalar(
            select(func.count(Post.id))
            .join(Source, Source.id == Post.source_id)
            .where(Source.name == source_name)
        )


def test_push_keeps_good_posts_and_rejects_bad_ones_alone(client, db, write_headers) -> None:  # type: ignore[no-untyped-def]
    body = {"source": "crm", "posts": [GOOD[0], BAD[0], GOOD[1], BAD[1], BAD[2], GOOD[2], BAD[3]]}
    response = client.post("/api/v1/posts", json=body, headers=write_headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == 3 and result["duplicates"] == 0
    assert [r["index"] for r in result["rejected"]] == [1, 3, 4, 6]
    assert "published_at" in result["rejected"][2]["error"]
    assert "text" in result["rejected"][3]["error"]
    assert _count(db, "crm") == 3
    again = client.post("/api/v1/posts", json={"source": "crm", "posts": GOOD}, headers=write_headers).json()
    assert again == {"accepted": 0, "duplicates": 3, "rejected": [], "queued": 0, "adjusted": []}
    assert _count(db, "crm") == 3


def test_pushed_posts_are_analysed_and_times_are_utc(client, db, write_headers) -> None:  # type: ignore[no-untyped-def]
    client.post("/api/v1/posts", json={"source": "crm", "posts": GOOD[:2]}, headers=write_headers)
    with db.session() as session:
        first = session.scalar(select(Post).where(Post.external_id == "a1"))
        second = session.scalar(select(Post).where(Post.external_id == "2"))
        assert first.published_at.isoformat() == "2026-11-23T00:00:00+00:00"
        assert first.sentiment == "negative" and first.sentiment_score < 0.5
        assert first.engagement_total == 13 and first.keywords
        assert "这家店" in second.text  # traditional → simplified for analysis, raw kept
        assert "這家店" in second.raw


def test_push_source_is_created_on_first_use_and_kinds_are_checked(
    client, write_headers, read_headers
) -> None:  # type: ignore[no-untyped-def]
    assert (
        client.post(
            "/api/v1/posts", json={"source": "new", "posts": GOOD[:1]}, headers=read_headers
        ).status_code
        == 403
    )
    client.post("/api/v1/posts", json={"source": "new", "posts": GOOD[:1]}, headers=write_headers)
    sources = client.get("/api/v1/sources", headers=read_headers).json()
    assert [(s["name"], s["kind"]) for s in sources] == [("new", "push")]
    client.post(
        "/api/v1/sources",
        json={"name": "feed", "kind": "rss", "url": "http://127.0.0.1:9/feed"},
        headers=write_headers,
    )
    clash = client.post("/api/v1/posts", json={"source": "feed", "posts": GOOD[:1]}, headers=write_headers)
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "conflict"


def test_push_refuses_more_than_1000_posts(client, write_headers) -> None:  # type: ignore[no-untyped-def]
    posts = [{"id": str(i), "text": f"第 {i} 条"} for i in range(1001)]
    response = client.post("/api/v1/posts", json={"source": "bulk", "posts": posts}, headers=write_headers)
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"


def test_oversized_body_is_refused(client, write_headers, settings) -> None:  # type: ignore[no-untyped-def]
    big = "长" * (settings.max_body_bytes // 2)
    response = client.post(
        "/api/v1/posts", json={"source": "big", "posts": [{"text": big}]}, headers=write_headers
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"


def test_import_jsonl_and_csv_with_per_row_errors(services, db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from app.importer import import_posts

    jsonl = tmp_path / "posts.jsonl"
    lines = [
        json.dumps(GOOD[0], ensure_ascii=False),
        "{broken json",
        json.dumps(BAD[1]),
        "",
        json.dumps(GOOD[1], ensure_ascii=False),
    ]
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_posts(services.pipeline, jsonl, "files", batch_size=2, progress=False)
    assert (report.accepted, report.duplicates) == (2, 0)
    assert [(r.index, "JSON" in r.error) for r in report.rejected] == [(2, True), (3, False)]

    table = tmp_path / "posts.csv"
    with table.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "author", "published_at", "engagement.likes"])
        writer.writerow(["c1", "CSV 导入的第一条：服务很差", "用户D", "2026-11-20T10:00:00Z", "5"])
        writer.writerow(["c2", "", "用户E", "", ""])
        writer.writerow(["c3", "第三条", "用户F", "not a date", ""])
        writer.writerow(["a1", "与 JSONL 同 id 的重复", "用户A", "", ""])
    report = import_posts(services.pipeline, table, "files", batch_size=10, progress=False)
    assert (report.accepted, report.duplicates) == (1, 1)
    assert [r.index for r in report.rejected] == [3, 4]
    assert _count(db, "files") == 3


NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def clocked(services, settings):  # type: ignore[no-untyped-def]
    """The pipeline on a fixed clock with the default 90-day retention window."""
    services.pipeline.clock = lambda: NOW
    services.pipeline.settings = settings.model_copy(update={"retention_days": 90})
    return services


def _stored(db, external_id: str) -> Post | None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        post = session.scalar(select(Post).where(Post.external_id == external_id))
        if post is not None:
            session.expunge(post)
        return post


def test_times_that_overflow_in_utc_are_rejected_alone_with_a_reason(
    clocked, client, db, write_headers
) -> None:  # type: ignore[no-untyped-def]
    posts = [
        {"id": "ok1", "text": "正常的一条", "published_at": "2026-11-30T08:00:00+08:00"},
        {"id": "late", "text": "时间溢出（西八区）", "published_at": "9999-12-31T23:00:00-08:00"},
        {"id": "early", "text": "时间溢出（东八区）", "published_at": "0001-01-01T00:00:00+08:00"},
        {"id": "ok2", "text": "正常的另一条"},
    ]
    response = client.post("/api/v1/posts", json={"source": "times", "posts": posts}, headers=write_headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == 2
    assert [r["index"] for r in result["rejected"]] == [1, 2]
    assert all("published_at" in r["error"] and "UTC" in r["error"] for r in result["rejected"])
    assert _stored(db, "ok1") is not None and _stored(db, "late") is None


def test_future_times_are_adjusted_and_said_so_and_expired_ones_rejected(clocked, db) -> None:  # type: ignore[no-untyped-def]
    future = NOW + timedelta(days=2)
    posts = [
        {
            "id": "soon",
            "text": "五分钟后的时间在容差内",
            "published_at": (NOW + timedelta(minutes=5)).isoformat(),
        },
        {"id": "future", "text": "发布时间在两天以后", "published_at": future.isoformat()},
        {"id": "ancient", "text": "公元一年的帖子", "published_at": "0001-01-02T00:00:00Z"},
        {"id": "expired", "text": "一百天前的帖子", "published_at": (NOW - timedelta(days=100)).isoformat()},
        {"id": "kept", "text": "八十九天前的帖子", "published_at": (NOW - timedelta(days=89)).isoformat()},
    ]
    result = clocked.pipeline.push("times", posts)
    assert result.accepted == 3
    assert [(r.index, "保留期" in r.error) for r in result.rejected] == [(2, True), (3, True)]
    assert [(a.index, a.field, a.original, a.value) for a in result.adjusted] == [
        (1, "published_at", future.isoformat(), NOW.isoformat())
    ]
    assert "接收时间" in result.adjusted[0].reason
    answer = result.model_dump(mode="json")["adjusted"][0]
    assert answer["from"] == future.isoformat() and answer["to"] == NOW.isoformat()
    assert _stored(db, "future").published_at == NOW
    assert _stored(db, "soon").published_at == NOW + timedelta(minutes=5)
    assert _stored(db, "ancient") is None and _stored(db, "expired") is None
    again = clocked.pipeline.push(
        "times", [{"text": "无 id 的未来帖", "published_at": future.isoformat()}] * 2
    )
    assert (again.accepted, again.duplicates, len(again.adjusted)) == (1, 1, 2)


def test_engagement_beyond_32_bits_is_stored_and_absurd_counts_are_rejected_alone(clocked, db) -> None:  # type: ignore[no-untyped-def]
    posts = [
        {
            "id": "viral",
            "text": "转发量超过 2^31 的帖子",
            "engagement": {"reposts": 3_000_000_000, "likes": 2**33},
        },
        {"id": "absurd", "text": "互动数大得离谱", "engagement": {"likes": 2**64}},
        {"id": "negative", "text": "互动数为负", "engagement": {"likes": -1}},
        {"id": "normal", "text": "普通帖子", "engagement": {"likes": 3}},
    ]
    result = clocked.pipeline.push("counts", posts)
    assert result.accepted == 2
    assert [(r.index, "互动数" in r.error) for r in result.rejected] == [(1, True), (2, True)]
    viral = _stored(db, "viral")
    assert viral.engagement_total == 3_000_000_000 + 2**33
    assert viral.engagement == {"reposts": 3_000_000_000, "likes": 2**33}


def test_import_reports_adjusted_and_rejected_rows_by_line(clocked, db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from app.importer import import_posts

    future = (NOW + timedelta(hours=3)).isoformat()
    table = tmp_path / "posts.csv"
    with table.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "published_at", "engagement.likes"])
        writer.writerow(["i1", "未来时间的一行", future, "5"])
        writer.writerow(["i2", "溢出的一行", "9999-12-31T23:00:00-08:00", ""])
        writer.writerow(["i3", "过期的一行", "2001-01-01T00:00:00Z", ""])
        writer.writerow(["i4", "正常的一行", "2026-11-30T00:00:00Z", "4000000000"])
    report = import_posts(clocked.pipeline, table, "csv-times", batch_size=10, progress=False)
    assert report.accepted == 2
    assert [r.index for r in report.rejected] == [3, 4]
    assert [(a.index, a.field, a.original) for a in report.adjusted] == [(2, "published_at", future)]
    assert _stored(db, "i4").engagement_total == 4_000_000_000
