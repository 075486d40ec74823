"""Hot lists (热搜/热榜): ranked snapshots in a ledger, and a 影响类 alert when a topic reaches the list.

The feed is shaped like RSSHub's `/weibo/search/hot` output (entries in rank order, a search link
per entry, no publication time) and served by a loopback HTTP server that changes between runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from sqlalchemy import select

from app.alerts.models import Alert, Incident, IncidentEvent
from app.posts.models import Post
from app.sources.hotlist import HotListMove, SnapshotItem, record_snapshot
from app.sources.models import Source
from tests.support.loopback import LoopbackServer

CHATTER = [
    "演唱会门票开售",
    "某地迎来初雪",
    "新剧定档",
    "高铁新线开通",
    "冬至吃饺子",
    "球队夺冠",
    "天文奇观今晚可见",
    "新款手机发布",
    "考研倒计时",
    "年终奖话题",
    "网友晒年夜饭菜单",
    "城市马拉松",
]
CRISIS = "青禾牛奶喝出异物 多地消费者投诉"


def hot_feed(words: list[str]) -> str:
    """An RSS 2.0 hot list as RSSHub renders 微博热搜榜: one item per entry, in rank order."""
    items = "".join(
        f"<item><title>{word}</title><description>{word}</description>"
        f"<link>https://s.weibo.com/weibo?q=%23{quote(word)}%23</link></item>"
        for word in words
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>微博热搜榜</title>'
        f"<link>https://s.weibo.com/top/summary</link><description>实时热搜</description>{items}"
        "</channel></rss>"
    )


def test_the_ledger_records_entries_rises_and_departures(db) -> None:  # type: ignore[no-untyped-def]
    t0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    with db.session() as session:
        source = Source(name="热搜", kind="rss", url="http://127.0.0.1:9/hot", options={}, state={})
        source.hotlist = True
        session.add(source)
        session.flush()

        def snap(words: list[str], at: datetime) -> list[tuple[str, str, int, int, int]]:
            items = [
                SnapshotItem(rank=i + 1, key=f"k:{w}", title=w, url=None, post_id=None)
                for i, w in enumerate(words)
            ]
            return [
                (c.move.value, c.title, c.rank, c.best_rank, c.minutes_on_list)
                for c in record_snapshot(session, source.id, items, at)
            ]

        first = snap([*CHATTER[:11], "甲"], t0)
        assert ("entered", "甲", 12, 12, 0) in first and len(first) == 12
        assert snap([*CHATTER[:11], "甲"], t0 + timedelta(minutes=5)) == []  # nothing moved
        assert snap(["乙", "甲", *CHATTER[:10]], t0 + timedelta(minutes=10)) == [
            ("entered", "乙", 1, 1, 0),
            ("rose", "甲", 2, 2, 10),  # past top 10 and top 3 at once: one move
            ("left", CHATTER[10], 11, 11, 10),
        ]
        moved = snap(["甲", *CHATTER[:10]], t0 + timedelta(minutes=40))
        assert ("rose", "甲", 1, 1, 40) in moved and ("left", "乙", 1, 1, 30) in moved
        gone = snap(CHATTER[:10], t0 + timedelta(minutes=70))
        assert gone == [("left", "甲", 1, 1, 70)]
        back = snap([*CHATTER[:10], "甲"], t0 + timedelta(minutes=90))
        assert back == [("entered", "甲", 11, 11, 0)]
        assert {c.move for c in record_snapshot(session, source.id, [], t0 + timedelta(minutes=95))} == {
            HotListMove.LEFT
        }


def test_a_topic_on_the_hot_list_raises_an_influential_alert(  # type: ignore[no-untyped-def]
    client, db, write_headers, admin_headers, loopback_server: LoopbackServer
) -> None:
    topic = client.post("/api/v1/topics", json={"name": "青禾", "rule": "青禾"}, headers=admin_headers)
    assert topic.status_code == 201, topic.text
    other = client.post(
        "/api/v1/topics", json={"name": "别的品牌", "rule": "星河汽车"}, headers=admin_headers
    )
    assert other.status_code == 201
    source = client.post(
        "/api/v1/sources",
        json={
            "name": "微博热搜榜",
            "kind": "rss",
            "url": loopback_server.url("/weibo/search/hot"),
            "hotlist": True,
        },
        headers=admin_headers,
    )
    assert source.status_code == 201, source.text
    assert source.json()["hotlist"] is True
    source_id, topic_id = source.json()["id"], topic.json()["id"]

    def collect(words: list[str]) -> None:
        loopback_server.serve("/weibo/search/hot", hot_feed(words))
        run = client.post(f"/api/v1/sources/{source_id}/collect", headers=write_headers)
        assert run.status_code == 200 and run.json()["status"] == "ok", run.text

    collect(CHATTER)  # the list without the brand: no incident
    with db.session() as session:
        assert session.scalars(select(Incident)).all() == []
        platforms = set(session.scalars(select(Post.platform).where(Post.source_id == source_id)))
    assert platforms == {"hotlist"}

    collect([*CHATTER[:11], CRISIS])  # the brand enters at 12th place
    with db.session() as session:
        (incident,) = session.scalars(select(Incident)).all()
        assert incident.topic_id == topic_id and incident.grade == "influential"
        assert f"「{CRISIS}」登上微博热搜榜第 12 位" in incident.title
        (alert,) = session.scalars(select(Alert)).all()
        assert alert.detector == "hotlist" and alert.inputs["rank"] == 12
        assert alert.rules == ["influential.hotlist"]

    collect([CHATTER[0], CRISIS, *CHATTER[1:10]])  # rises to 2nd place
    with db.session() as session:
        alerts = session.scalars(select(Alert).order_by(Alert.id)).all()
        assert [a.inputs["rank"] for a in alerts] == [12, 2]
        assert "升至第 2 位" in alerts[-1].headline
    listed = client.get(f"/api/v1/sources/{source_id}/hotlist", headers=write_headers).json()
    assert listed[1]["title"] == CRISIS and listed[1]["rank"] == 2 and listed[1]["best_rank"] == 2

    collect(CHATTER[:10])  # off the list: the incident's timeline says so, no new alert
    with db.session() as session:
        assert len(session.scalars(select(Alert)).all()) == 2
        left = session.scalars(select(IncidentEvent).where(IncidentEvent.kind == "hotlist_left")).all()
        assert len(left) == 1 and "已从微博热搜榜下榜" in left[0].message and "最高第 2 位" in left[0].message
    listed = client.get(f"/api/v1/sources/{source_id}/hotlist", headers=write_headers).json()
    crisis = next(entry for entry in listed if entry["title"] == CRISIS)
    assert crisis["on_list"] is False and crisis["left_at"] is not None

    plain = client.post(
        "/api/v1/sources",
        json={"name": "普通订阅", "kind": "rss", "url": loopback_server.url("/plain.xml")},
        headers=admin_headers,
    )
    refused = client.get(f"/api/v1/sources/{plain.json()['id']}/hotlist", headers=write_headers)
    assert refused.status_code == 400 and "不是热榜来源" in refused.json()["error"]["message"]


def test_hot_list_presets_are_flagged(client, read_headers) -> None:  # type: ignore[no-untyped-def]
    listed = {p["id"]: p for p in client.get("/api/v1/source-presets", headers=read_headers).json()}
    assert {pid for pid, p in listed.items() if p["hotlist"]} >= {"weibo_hot", "zhihu_hot", "baidu_hot"}
    assert listed["weibo_keyword"]["hotlist"] is False
