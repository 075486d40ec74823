"""Authors and reach (issue 16 item 6): the author's account id, follower count and 认证 status kept
from a push or a file, shown on the post, in the export and in an incident's story (accounts by reach),
and values that are not counts or flags refused alone with a Chinese reason — on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from app.alerts.models import IncidentEvent
from app.importer import import_posts
from app.posts.models import IngestBatch, Post
from app.topics import service as topics
from app.topics.schemas import TopicCreate
from tests.app.alerts.test_alert_flow import NOW, Clock, _push
from tests.support.seed import create_topic, now, open_incident, post, push


def _wave(moment):  # type: ignore[no-untyped-def]
    start = moment - timedelta(minutes=40)
    reach = {
        "大V财经": {"author_id": "1001", "author_followers": 3_200_000, "author_verified": True},
        "本地生活号": {"author_id": "1002", "author_followers": 45_000, "author_verified": False},
        "认证律师": {"author_id": "1003", "author_verified": True},
        "路人": {},
    }
    posts = []
    for i, (name, fields) in enumerate([*reach.items(), ("路人", {}), ("路人", {})]):
        posts.append(
            post(f"r{i}", f"青禾牛奶被曝变质，第{i}条", start + timedelta(minutes=i), author=name, **fields)
        )
    return posts


def test_pushed_reach_is_stored_shown_and_exported(client, db, write_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    moment = now()
    topic = create_topic(client, write_headers, "青禾牛奶", "青禾牛奶")
    push(client, write_headers, "weibo-api", _wave(moment))
    with db.session() as session:
        stored = {p.author: p for p in session.scalars(select(Post)) if p.external_id in ("r0", "r1", "r3")}
        assert (stored["大V财经"].author_id, stored["大V财经"].author_followers) == ("1001", 3_200_000)
        assert stored["大V财经"].author_verified is True and stored["本地生活号"].author_verified is False
        assert (
            stored["路人"].author_id,
            stored["路人"].author_followers,
            stored["路人"].author_verified,
        ) == (
            None,
            None,
            None,
        )
        big_id = stored["大V财经"].id
    shown = client.get(f"/api/v1/posts/{big_id}", headers=read_headers).json()
    assert (shown["author_id"], shown["author_followers"], shown["author_verified"]) == (
        "1001",
        3_200_000,
        True,
    )

    incident_id = open_incident(db, topic["id"], at=moment - timedelta(minutes=30))
    story = client.get(f"/api/v1/incidents/{incident_id}/story", headers=read_headers).json()
    accounts = [
        (a["author"], a["author_id"], a["followers"], a["verified"], a["posts"]) for a in story["accounts"]
    ]
    assert accounts == [  # by reach where known, then the rest by posts
        ("大V财经", "1001", 3_200_000, True, 1),
        ("本地生活号", "1002", 45_000, False, 1),
        ("路人", None, None, None, 3),
        ("认证律师", "1003", None, True, 1),
    ]
    first = story["first_posts"][0]
    assert (first["author"], first["author_followers"], first["author_verified"]) == (
        "大V财经",
        3_200_000,
        True,
    )

    jsonl = client.get(
        "/api/v1/posts/export", params={"format": "jsonl", "topic_id": topic["id"]}, headers=read_headers
    )
    rows = {row["author"]: row for row in map(json.loads, jsonl.text.splitlines())}
    assert (rows["大V财经"]["author_id"], rows["大V财经"]["author_followers"]) == ("1001", 3_200_000)
    assert rows["大V财经"]["author_verified"] is True and rows["路人"]["author_followers"] is None
    table = client.get(
        "/api/v1/posts/export", params={"format": "csv", "topic_id": topic["id"]}, headers=read_headers
    )
    lines = list(csv.DictReader(io.StringIO(table.text.lstrip("\ufeff"))))
    by_author = {line["author"]: line for line in lines}
    assert (by_author["本地生活号"]["author_id"], by_author["本地生活号"]["author_followers"]) == (
        "1002",
        "45000",
    )
    assert (
        by_author["本地生活号"]["author_verified"] == "False" and by_author["路人"]["author_followers"] == ""
    )


def test_bad_reach_values_are_refused_alone_in_chinese(client, db, write_headers) -> None:  # type: ignore[no-untyped-def]
    at = now() - timedelta(minutes=5)
    posts = [
        post("n1", "粉丝数为负", at, author_followers=-5),
        post("n2", "粉丝数是小数", at, author_followers=12.5),
        post("n3", "认证状态不明", at, author_verified="也许"),
        post("n4", "正常的一条", at, author_id=778899, author_followers=0, author_verified=False),
    ]
    result = client.post(
        "/api/v1/posts", json={"source": "reach-check", "posts": posts}, headers=write_headers
    )
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["accepted"] == 1 and body["adjusted"] == []
    errors = {r["index"]: r["error"] for r in body["rejected"]}
    assert "粉丝数不能为负数，收到 -5" in errors[0]
    assert "粉丝数须为非负整数" in errors[1] and "认证状态须为 true 或 false" in errors[2]
    with db.session() as session:
        kept = session.scalars(select(Post).where(Post.external_id == "n4")).one()
        assert (kept.author_id, kept.author_followers, kept.author_verified) == ("778899", 0, False)


def test_csv_import_reads_author_columns_with_chinese_headers(services, db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    table = tmp_path / "accounts.csv"
    with table.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "author", "作者ID", "粉丝数", "是否认证"])
        writer.writerow(["k1", "导入：售后太慢", "官方客服", "2001", "12.3万", "是"])
        writer.writerow(["k2", "导入：质量一般", "普通用户", "2002", "310", "否"])
        writer.writerow(["k3", "导入：粉丝数写错了", "写错的人", "2003", "很多", ""])
        writer.writerow(["k4", "导入：没有账号信息", "匿名", "", "", ""])
    report = import_posts(services.pipeline, table, "excel-export", progress=False)
    assert report.accepted == 3
    assert [r.index for r in report.rejected] == [4] and "粉丝数须为非负整数" in report.rejected[0].error
    with db.session() as session:
        posts = {p.external_id: p for p in session.scalars(select(Post))}
    assert (posts["k1"].author_id, posts["k1"].author_followers, posts["k1"].author_verified) == (
        "2001",
        123_000,
        True,
    )
    assert (posts["k2"].author_followers, posts["k2"].author_verified) == (310, False)
    assert (posts["k4"].author_id, posts["k4"].author_followers, posts["k4"].author_verified) == (
        None,
        None,
        None,
    )


def test_coordination_evidence_uses_the_real_follower_counts(services, db) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        topics.create(session=session, data=TopicCreate(name="星河汽车", rule="星河汽车"))
    services.pipeline.clock = Clock(NOW)
    text = "星河汽车门店拒绝退款还威胁顾客，大家一起转发让更多人看到"
    posts = [
        {
            "id": f"c{n}",
            "text": text,
            "author": f"acct{n}",
            "published_at": (NOW - timedelta(seconds=20)).isoformat(),
            # 9 accounts with a handful of followers, 3 large ones; no count for the rest
            **({"author_followers": 3 if n < 9 else 50_000} if n < 12 else {}),
        }
        for n in range(14)
    ]
    _push(services, "weibo", posts)
    with db.session() as session:
        event = session.scalars(select(IncidentEvent).where(IncidentEvent.kind == "coordination")).one()
    assert event.data["share_low_follower_authors"] == 0.75  # 9 of the 12 accounts whose count is known
    assert "已知粉丝数的账号中低粉丝账号占 75%" in event.message


def test_queued_push_keeps_the_reach_until_a_worker_stores_it(services, db) -> None:  # type: ignore[no-untyped-def]
    pipeline = services.pipeline
    pipeline.queue_pushes = True
    at = now() - timedelta(minutes=5)
    sent = [
        post("q1", "排队入库的一条", at, author_id="3001", author_followers=77_000, author_verified=True),
        post("q2", "旧格式：没有作者字段", at),
    ]
    result = pipeline.push("queued-reach", sent)
    assert (result.accepted, result.queued) == (2, 2)
    with db.session() as session:
        batch = session.scalars(select(IngestBatch)).one()
        queued = {p["external_id"]: p for p in batch.posts}
        assert (queued["q1"]["author_id"], queued["q1"]["author_followers"]) == ("3001", 77_000)
        # q2 as a batch queued before these fields existed holds it: without the keys, still read
        old = {k: v for k, v in queued["q2"].items() if not k.startswith("author_")}
        batch.posts = [queued["q1"], old]
    while pipeline.ingest_queued("test-worker") is not None:
        pass
    with db.session() as session:
        stored = {p.external_id: p for p in session.scalars(select(Post))}
    assert (stored["q1"].author_id, stored["q1"].author_followers, stored["q1"].author_verified) == (
        "3001",
        77_000,
        True,
    )
    assert (stored["q2"].author_id, stored["q2"].author_followers, stored["q2"].author_verified) == (
        None,
        None,
        None,
    )


def test_xlsx_import_reads_numeric_author_cells(services, db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["id", "text", "author", "用户ID", "followers", "verified"])
    sheet.append(["x1", "表格：门店关门了", "门店观察", 4001, 52000, True])
    sheet.append(["x2", "表格：数字存成小数", "小数账号", 4002.0, 1300.0, 0])
    path = tmp_path / "accounts.xlsx"
    book.save(path)
    report = import_posts(services.pipeline, path, "xlsx-export", progress=False)
    assert (report.accepted, report.rejected) == (2, [])
    with db.session() as session:
        posts = {p.external_id: p for p in session.scalars(select(Post))}
    assert (posts["x1"].author_id, posts["x1"].author_followers, posts["x1"].author_verified) == (
        "4001",
        52000,
        True,
    )
    assert (posts["x2"].author_id, posts["x2"].author_followers, posts["x2"].author_verified) == (
        "4002",
        1300,
        False,
    )
