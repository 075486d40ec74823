"""An incident's story through the API: trend with alert moments, first posts (首发), the posts that
carried it (paged, most engagement first), top accounts and sources, spread across platforms."""

from __future__ import annotations

from datetime import timedelta

from app.stats.rollups import bucket_start
from tests.support.seed import create_topic, iso, now, open_incident, post, push


def _seed(client, headers, db):  # type: ignore[no-untyped-def]
    moment = now()
    topic = create_topic(client, headers, "青禾牛奶", "青禾牛奶")
    calm = [post(f"c{h}", "青禾牛奶的新包装挺好看", moment - timedelta(hours=5 + h)) for h in range(3)]
    first_at = moment - timedelta(minutes=50)
    wave = [
        post(
            f"w{i}",
            f"喝了青禾牛奶后腹泻，第{i}位网友说孩子也不舒服",
            first_at + timedelta(minutes=i),
            author="维权妈妈" if i % 3 == 0 else f"网友{i}",
            platform="weibo" if i % 2 else "douyin",
            engagement={"reposts": i * 10},
        )
        for i in range(12)
    ]
    push(client, headers, "weibo", calm)
    push(client, headers, "complaints", wave)
    incident_id = open_incident(db, topic["id"], at=moment - timedelta(minutes=30))
    return topic, incident_id, first_at


def test_the_story_says_what_where_and_who(client, db, write_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    topic, incident_id, first_at = _seed(client, write_headers, db)
    response = client.get(f"/api/v1/incidents/{incident_id}/story", headers=read_headers, params={"limit": 5})
    assert response.status_code == 200, response.text
    story = response.json()
    assert story["topic_id"] == topic["id"] and story["grain"] == "5m" and story["bucket_minutes"] == 5
    assert story["posts_total"] == 12  # the calm posts are older than the story window
    assert story["first_posts"][0]["text"].startswith("喝了青禾牛奶后腹泻，第0位")
    assert story["first_posts"][0]["published_at"].startswith(iso(first_at)[:16])
    assert story["first_posts"][0]["source"] == "complaints"
    engagement = [p["engagement"] for p in story["posts"]]
    assert engagement == sorted(engagement, reverse=True) and engagement[0] == 110 and len(engagement) == 5
    more = client.get(
        f"/api/v1/incidents/{incident_id}/story", headers=read_headers, params={"limit": 5, "offset": 5}
    ).json()
    assert {p["id"] for p in more["posts"]}.isdisjoint({p["id"] for p in story["posts"]})
    accounts = {a["author"]: a for a in story["accounts"]}
    assert story["accounts"][0]["author"] == "维权妈妈" and accounts["维权妈妈"]["posts"] == 4
    assert [(s["source"], s["posts"]) for s in story["sources"]] == [("complaints", 12)]
    spread = {}
    for row in story["spread"]:
        spread[row["platform"]] = spread.get(row["platform"], 0) + row["posts"]
    assert spread == {"weibo": 6, "douyin": 6}
    assert len(story["alerts"]) == 1 and story["alerts"][0]["detector"] == "volume"
    wave_bucket = iso(bucket_start(first_at))[:16]
    by_start = {b["bucket_start"][:16]: b for b in story["trend"]}
    assert by_start[wave_bucket]["total"] >= 1
    assert sum(b["total"] for b in story["trend"]) >= 12
    assert client.get("/api/v1/incidents/999999/story", headers=read_headers).status_code == 404
