"""竞品对比 and the overview's splits: 2–5 topics on one axis (volume, negative share, share of voice),
each topic's sentiment, platform and source split over the last day, incidents by grade."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.seed import create_topic, iso, now, open_incident, post, push


def _seed(client, headers):  # type: ignore[no-untyped-def]
    moment = now().replace(minute=30, second=0)
    ours = create_topic(client, headers, "星河汽车", "星河汽车")
    rival = create_topic(client, headers, "蓝海汽车", "蓝海汽车")
    at = moment - timedelta(hours=2)
    posts = [post(f"x{i}", f"星河汽车刹车失灵第{i}例", at, platform="weibo") for i in range(6)]
    posts += [post(f"y{i}", f"星河汽车新车好看{i}", at, platform="douyin") for i in range(2)]
    posts += [post(f"z{i}", f"蓝海汽车降价促销{i}", at, platform="weibo") for i in range(2)]
    push(client, headers, "weibo", posts)
    return ours, rival, moment, at


def test_two_topics_on_one_axis(client, write_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    ours, rival, moment, at = _seed(client, write_headers)
    params = {
        "topic_ids": f"{ours['id']},{rival['id']}",
        "start": iso(moment - timedelta(hours=6)),
        "end": iso(moment),
        "interval": "1h",
    }
    response = client.get("/api/v1/compare", params=params, headers=read_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["buckets"]) == 6 or len(body["buckets"]) == 7
    first, second = body["topics"]
    assert (first["name"], first["volume"], second["volume"]) == ("星河汽车", 8, 2)
    assert first["overall_share_of_voice"] == pytest.approx(0.8)
    busy = [n for n, total in enumerate(first["total"]) if total]
    assert len(busy) == 1
    n = busy[0]
    assert first["share_of_voice"][n] + second["share_of_voice"][n] == pytest.approx(1.0)
    assert 0 <= first["negative_share"][n] <= 1
    for n, total in enumerate(first["total"]):
        if not total and not second["total"][n]:
            assert first["share_of_voice"][n] == second["share_of_voice"][n] == 0
    one = client.get("/api/v1/compare", params={**params, "topic_ids": str(ours["id"])}, headers=read_headers)
    assert one.status_code == 400
    missing = client.get(
        "/api/v1/compare", params={**params, "topic_ids": f"{ours['id']},999"}, headers=read_headers
    )
    assert missing.status_code == 404
    bad = client.get("/api/v1/compare", params={**params, "topic_ids": "a,b"}, headers=read_headers)
    assert bad.status_code == 422


def test_overview_shows_each_topics_makeup(client, db, write_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    ours, _, moment, _ = _seed(client, write_headers)
    open_incident(db, ours["id"])
    body = client.get("/api/v1/overview", headers=read_headers).json()
    topic = next(t for t in body["topics"] if t["topic_id"] == ours["id"])
    makeup = topic["makeup"]
    assert {s["name"]: s["posts"] for s in makeup["platforms"]} == {"weibo": 6, "douyin": 2}
    assert sum(s["posts"] for s in makeup["sentiment"]) == 8
    assert makeup["top_sources"] == [{"name": "weibo", "posts": 8}]
    assert makeup["incidents_7d"]["severe"] == 1 and set(makeup["incidents_7d"]) == {
        "general",
        "persistent",
        "influential",
        "severe",
    }
