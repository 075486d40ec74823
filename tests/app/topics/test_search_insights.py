"""Topic keywords and burst terms, near-duplicate clusters, trend export, overview and audit."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

from app.sources import service as sources
from app.sources.models import Source
from app.stats.insights import burst_terms
from app.stats.rollups import bucket_start
from tests.support.seed import create_topic, iso, now, open_incident, post, push

CALM = ["某品牌新车外观设计很漂亮", "某品牌的价格比较合理", "某品牌车展现场人很多"]


def _seed_burst(client, headers, moment):  # type: ignore[no-untyped-def]
    """Eight calm hours, then a recall story bursting 10 to 15 minutes before `moment`, its 12 posts
    inside one 5-minute bucket whatever the clock says."""
    topic = create_topic(client, headers, "某品牌", "某品牌")
    calm = [
        post(f"calm{h}-{i}", text, moment - timedelta(hours=h))
        for h in range(1, 9)
        for i, text in enumerate(CALM)
    ]
    burst_at = bucket_start(moment - timedelta(minutes=10)) + timedelta(seconds=30)
    burst = [
        post(f"recall{i}", f"某品牌宣布召回问题车辆，第{i}批车主要求赔偿", burst_at + timedelta(seconds=i))
        for i in range(12)
    ]
    push(client, headers, "weibo", calm + burst)
    return topic, burst_at


def test_keywords_rank_window_terms_and_find_the_burst(client, write_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    moment = now()
    topic, burst_at = _seed_burst(client, write_headers, moment)
    params = {
        "start": iso(moment - timedelta(minutes=50)),
        "end": iso(moment + timedelta(seconds=1)),
        "k": 10,
    }
    response = client.get(f"/api/v1/topics/{topic['id']}/keywords", params=params, headers=read_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["posts"] == 12 and body["background_posts"] == 36
    terms = [item["term"] for item in body["keywords"]]
    assert "召回" in terms[:5]
    assert "某品牌" not in terms  # the topic's own rule term says nothing new
    recall = next(item for item in body["keywords"] if item["term"] == "召回")
    assert recall["posts"] == 12 and recall["score"] > 0
    bursts = {item["term"]: item for item in body["burst_terms"]}
    assert "召回" in bursts and bursts["召回"]["count"] == 12
    assert bursts["召回"]["bucket_start"].startswith(bucket_start(burst_at).isoformat()[:16])
    quiet = client.get(
        f"/api/v1/topics/{topic['id']}/keywords",
        headers=read_headers,
        params={"start": iso(moment - timedelta(hours=6)), "end": iso(moment - timedelta(hours=3))},
    )
    assert quiet.json()["burst_terms"] == [] and quiet.json()["posts"] == 9


def test_burst_terms_report_only_recent_buckets() -> None:
    start = bucket_start(now()) - timedelta(hours=2)
    rows = [(start + timedelta(minutes=5 * b), ["价格", "外观"]) for b in range(8) for _ in range(5)]
    spike = start + timedelta(minutes=45)
    rows += [(spike, ["召回", "价格"]) for _ in range(12)]
    assert [b.term for b in burst_terms(rows, spike + timedelta(minutes=5), recent_buckets=1)] == ["召回"]
    assert burst_terms(rows, spike + timedelta(minutes=15), recent_buckets=2) == []


def test_clusters_group_near_duplicates(client, write_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    topic = create_topic(client, write_headers, "某品牌", "某品牌")
    moment = now() - timedelta(hours=2)
    story = "某品牌4S店拒绝退款，车主维权无门，请大家帮忙转发扩散"
    copies = [post(f"s{i}", story, moment + timedelta(minutes=i), author=f"转发者{i % 4}") for i in range(5)]
    singles = [post("x1", "某品牌发布会定在下周", moment), post("x2", "某品牌销量公布", moment)]
    push(client, write_headers, "weibo", copies + singles)
    url = f"/api/v1/topics/{topic['id']}/clusters"
    body = client.get(url, headers=read_headers).json()
    assert len(body["clusters"]) == 1
    cluster = body["clusters"][0]
    assert cluster["size"] == 5 and cluster["authors"] == 4 and cluster["sources"] == 1
    assert cluster["sample_text"] == story
    assert cluster["first_seen"].startswith(iso(moment)[:19]) and cluster["last_seen"] > cluster["first_seen"]
    members = client.get(
        "/api/v1/posts", params={"cluster_id": cluster["head_id"]}, headers=read_headers
    ).json()
    assert len(members["items"]) == 5
    assert client.get(url, params={"min_size": 6}, headers=read_headers).json()["clusters"] == []
    assert len(client.get(url, params={"min_size": 1}, headers=read_headers).json()["clusters"]) == 3
    early = {"end": iso(moment - timedelta(minutes=1))}
    assert client.get(url, params=early, headers=read_headers).json()["clusters"] == []
    missing = client.get("/api/v1/topics/9999/clusters", headers=read_headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_trend_export(client, write_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    topic = create_topic(client, write_headers, "某品牌", "某品牌")
    end = bucket_start(now(), timedelta(hours=1))
    push(
        client,
        write_headers,
        "weibo",
        [post(f"t{i}", f"某品牌新闻{i}", end - timedelta(minutes=30 + 20 * i)) for i in range(6)],
    )
    url = f"/api/v1/topics/{topic['id']}/trend/export"
    params = {"start": iso(end - timedelta(hours=4)), "end": iso(end), "interval": "1h", "format": "csv"}
    response = client.get(url, params=params, headers=read_headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 4 and sum(int(row["total"]) for row in rows) == 6
    jsonl = client.get(url, params={**params, "format": "jsonl"}, headers=read_headers)
    assert [json.loads(line)["total"] for line in jsonl.text.splitlines()] == [int(r["total"]) for r in rows]
    too_fine = {"start": iso(end - timedelta(days=30)), "end": iso(end), "interval": "5m"}
    assert client.get(url, params=too_fine, headers=read_headers).status_code == 400
    assert client.get("/api/v1/topics/9999/trend/export", headers=read_headers).status_code == 404


def test_overview_shows_volume_incidents_and_failing_sources(client, db, write_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    hot = create_topic(client, write_headers, "某品牌", "某品牌")
    calm = create_topic(client, write_headers, "另一品牌", "另一品牌")
    moment = now()
    fresh = [post(f"n{i}", f"某品牌刹车失灵投诉{i}", moment) for i in range(3)]
    older = [post(f"o{i}", f"某品牌旧闻{i}", moment - timedelta(hours=2)) for i in range(2)]
    push(client, write_headers, "weibo", fresh + older)
    incident_id = open_incident(db, hot["id"])
    feed = client.post(
        "/api/v1/sources",
        json={"name": "坏掉的源", "kind": "rss", "url": "http://127.0.0.1:9/feed"},
        headers=write_headers,
    ).json()
    with db.session() as session:
        sources.record_run(
            session=session,
            source=session.get(Source, feed["id"]),
            started_at=moment,
            finished_at=moment,
            status="error",
            error="HTTP 503",
        )
    body = client.get("/api/v1/overview", headers=read_headers).json()
    topics = {t["topic_id"]: t for t in body["topics"]}
    assert set(topics) == {hot["id"], calm["id"]}
    row = topics[hot["id"]]
    if datetime.fromisoformat(body["bucket_start"]) == bucket_start(moment):
        assert row["volume_last_5m"] == 3 and row["volume_last_hour"] == 3
    assert row["volume_24h"] == 5 and sum(row["hourly_24h"]) == 5 and len(row["hourly_24h"]) == 24
    assert 0 <= row["negative_share_last_hour"] <= 1
    assert row["open_incidents"] == 1 and row["highest_open_grade"] == "severe"
    assert row["highest_open_grade_label"] == "严重"
    assert topics[calm["id"]]["volume_24h"] == 0 and topics[calm["id"]]["open_incidents"] == 0
    assert body["sources"]["total"] == 2
    assert [(s["name"], s["last_error"]) for s in body["sources"]["failing"]] == [("坏掉的源", "HTTP 503")]
    client.post(f"/api/v1/incidents/{incident_id}/resolve", json={}, headers=write_headers)
    after = client.get("/api/v1/overview", headers=read_headers).json()
    assert next(t for t in after["topics"] if t["topic_id"] == hot["id"])["open_incidents"] == 0


def test_audit_log_is_admin_only(client, admin_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    create_topic(client, admin_headers, "某品牌", "某品牌")
    response = client.get("/api/v1/audit", headers=admin_headers)
    assert response.status_code == 200
    entry = response.json()[0]
    assert (entry["actor"], entry["action"], entry["entity"]) == ("test-admin", "create", "topic")
    assert entry["details"]["name"] == "某品牌"
    assert client.get("/api/v1/audit", params={"entity": "source"}, headers=admin_headers).json() == []
    denied = client.get("/api/v1/audit", headers=read_headers)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
