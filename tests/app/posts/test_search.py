"""Post search, cursor paging, single posts and streamed exports, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from app.posts.search import decode_cursor, encode_cursor
from tests.support.seed import create_topic, iso, now, post, push

SEARCH = "/api/v1/posts"


@pytest.fixture
def corpus(client, write_headers):  # type: ignore[no-untyped-def]
    """A topic and ten posts from two sources; two share a timestamp to exercise the id tie-break."""
    topic = create_topic(client, write_headers, "某品牌", "某品牌")
    base = now() - timedelta(hours=3)
    weibo = [
        post("w1", "某品牌新车刹车失灵，太吓人了[怒]", base),
        post("w2", "某品牌客服态度很好，推荐", base + timedelta(minutes=10)),
        post("w3", "某品牌发布会在上海举行", base + timedelta(minutes=20)),
        post(
            "w4",
            '某品牌 =HYPERLINK("http://evil") 测试',
            base + timedelta(minutes=30),
            author="=cmd|' /C calc'!A0",
        ),
        post("w5", "和本话题无关的一条消息", base + timedelta(minutes=40)),
        post("w6", "這家店的服務真的很好，某品牌值得推薦", base + timedelta(minutes=50)),
    ]
    forum = [
        post("f1", "某品牌召回事件持续发酵", base + timedelta(minutes=60), platform="forum"),
        post("f2", "某品牌召回：车主投诉无门", base + timedelta(minutes=60), platform="forum"),
        post("f3", "某品牌 Brand X 新款 SUV 上市", base + timedelta(minutes=70), platform="forum"),
        post("f4", "另一个品牌的消息", base + timedelta(minutes=80), platform="forum"),
    ]
    push(client, write_headers, "weibo-push", weibo)
    push(client, write_headers, "forum-push", forum)
    sources = {s["name"]: s["id"] for s in client.get("/api/v1/sources", headers=write_headers).json()}
    return {"topic": topic, "base": base, "sources": sources}


def _ids(client, headers, **params) -> list[str]:  # type: ignore[no-untyped-def]
    response = client.get(SEARCH, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["external_id"] for item in response.json()["items"]]


def test_topic_search_lists_matching_posts_newest_first(client, read_headers, corpus) -> None:  # type: ignore[no-untyped-def]
    ids = _ids(client, read_headers, topic_id=corpus["topic"]["id"])
    assert set(ids) == {"w1", "w2", "w3", "w4", "w6", "f1", "f2", "f3"}
    assert ids[0] == "f3" and ids[-1] == "w1"
    assert ids.index("f2") < ids.index("f1")  # same time: higher id first


def test_cursor_pages_cover_every_post_once(client, read_headers, corpus) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = client.get(SEARCH, params=params, headers=read_headers).json()
        seen += [item["external_id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 4 and len(seen) == 10 and len(set(seen)) == 10
    assert seen == _ids(client, read_headers, limit=50)


TEXT_QUERIES = {"召回": {"f1", "f2"}, "brand x": {"f3"}, "這家店": {"w6"}, "50%_": set()}


def test_text_and_sentiment_filters(client, read_headers, corpus) -> None:  # type: ignore[no-untyped-def]
    topic_id = corpus["topic"]["id"]
    for q, expected in TEXT_QUERIES.items():
        assert set(_ids(client, read_headers, topic_id=topic_id, q=q)) == expected, q
    negative = client.get(
        SEARCH, params={"topic_id": topic_id, "sentiment": "negative"}, headers=read_headers
    )
    items = negative.json()["items"]
    assert "w1" in {item["external_id"] for item in items}
    assert all(item["sentiment"] == "negative" for item in items)


def test_source_and_time_filters(client, read_headers, corpus) -> None:  # type: ignore[no-untyped-def]
    forum_id = corpus["sources"]["forum-push"]
    assert set(_ids(client, read_headers, source_id=forum_id)) == {"f1", "f2", "f3", "f4"}
    base = corpus["base"]
    window = {"start": iso(base + timedelta(minutes=20)), "end": iso(base + timedelta(minutes=60))}
    assert set(_ids(client, read_headers, **window)) == {"w3", "w4", "w5", "w6"}
    naive = (base + timedelta(minutes=70)).replace(tzinfo=None).isoformat()
    assert _ids(client, read_headers, start=naive) == ["f4", "f3"]


def test_cluster_filter_returns_head_and_copies(client, read_headers, write_headers) -> None:  # type: ignore[no-untyped-def]
    moment = now() - timedelta(hours=1)
    text = "某品牌 4S 店拒绝退款，车主维权无门，大家帮忙转发"
    push(
        client,
        write_headers,
        "copies",
        [post(f"c{i}", text, moment + timedelta(minutes=i)) for i in range(4)],
    )
    source_id = client.get("/api/v1/sources", headers=read_headers).json()[0]["id"]
    items = client.get(SEARCH, params={"source_id": source_id}, headers=read_headers).json()["items"]
    head = min(item["id"] for item in items)
    assert all(item["cluster_id"] in (None, head) for item in items)
    assert len(_ids(client, read_headers, cluster_id=head)) == 4


def test_limits_and_bad_input_use_the_error_shape(client, read_headers, settings, corpus) -> None:  # type: ignore[no-untyped-def]
    too_big = client.get(SEARCH, params={"limit": settings.max_page_size + 1}, headers=read_headers)
    assert too_big.status_code == 422 and too_big.json()["error"]["code"] == "validation_error"
    assert too_big.json()["error"]["details"][0]["loc"] == ["query", "limit"]
    assert (
        client.get(SEARCH, params={"limit": settings.max_page_size}, headers=read_headers).status_code == 200
    )
    assert client.get(SEARCH, params={"limit": 0}, headers=read_headers).status_code == 422
    bad_cursor = client.get(SEARCH, params={"cursor": "not-a-cursor"}, headers=read_headers)
    assert bad_cursor.status_code == 400 and bad_cursor.json()["error"]["code"] == "bad_request"
    inverted = {"start": iso(now()), "end": iso(now() - timedelta(hours=1))}
    assert client.get(SEARCH, params=inverted, headers=read_headers).status_code == 400
    assert client.get(SEARCH, params={"sentiment": "angry"}, headers=read_headers).status_code == 422
    assert client.get(SEARCH, headers={}).status_code == 401


def test_cursor_round_trip() -> None:
    moment = now()
    assert decode_cursor(encode_cursor(moment, 42)) == (moment, 42)


def test_get_one_post(client, read_headers, corpus) -> None:  # type: ignore[no-untyped-def]
    first = client.get(SEARCH, params={"limit": 1}, headers=read_headers).json()["items"][0]
    response = client.get(f"{SEARCH}/{first['id']}", headers=read_headers)
    assert response.status_code == 200 and response.json() == first
    missing = client.get(f"{SEARCH}/999999", headers=read_headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_csv_export_streams_filtered_posts_with_formulas_defused(client, read_headers, corpus) -> None:  # type: ignore[no-untyped-def]
    params = {"topic_id": corpus["topic"]["id"], "format": "csv"}
    response = client.get(f"{SEARCH}/export", params=params, headers=read_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 8 and rows[0]["external_id"] == "f3"
    risky = next(row for row in rows if row["external_id"] == "w4")
    assert risky["author"].startswith("'=")
    assert "刹车" in next(row for row in rows if row["external_id"] == "w1")["text"]


def test_jsonl_export_and_row_cap(client, read_headers, corpus) -> None:  # type: ignore[no-untyped-def]
    response = client.get(f"{SEARCH}/export", params={"format": "jsonl"}, headers=read_headers)
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert len(lines) == 10 and lines[0]["external_id"] == "f4"
    assert lines[0]["published_at"].endswith("+00:00")
    capped = client.get(f"{SEARCH}/export", params={"format": "jsonl", "limit": 3}, headers=read_headers)
    assert len(capped.text.splitlines()) == 3
    assert client.get(f"{SEARCH}/export", params={"format": "xml"}, headers=read_headers).status_code == 422
