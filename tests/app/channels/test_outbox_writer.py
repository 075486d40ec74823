"""The outbox writer: the notice payload comes from the database, deliveries are routed and timed
(topic filter, min_grade, quiet hours, minimum interval, reminders) with a controllable `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.alerts import incidents
from app.alerts.models import Incident, Silence
from app.channels import service
from app.channels.models import ChannelRow, Delivery, NoticeRow
from app.channels.outbox import Outbox
from app.channels.reminders import write_reminders
from app.channels.schemas import ChannelCreate
from app.posts.models import Post, PostTopic, Topic
from app.sources.models import Source
from app.stats.models import Rollup
from app.stats.rollups import bucket_start
from tests.support.delivery import make_topic, outbox_settings, raise_alert

T0 = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)  # 23:30 in Beijing
WHSEC = "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
QUIET = {"start": "22:00", "end": "08:00", "timezone": "Asia/Shanghai"}


def _channel(session, name: str, **fields) -> int:  # type: ignore[no-untyped-def]
    data = ChannelCreate(name=name, kind="webhook", url=f"http://127.0.0.1:9/{name}", secret=WHSEC, **fields)
    return service.create(session=session, data=data, allowlist=["127.0.0.0/8"]).id


def _deliveries(session, channel_id: int) -> list[tuple[str, datetime, str]]:  # type: ignore[no-untyped-def]
    stmt = (
        select(NoticeRow.kind, Delivery.next_attempt_at, Delivery.status)
        .join(NoticeRow, NoticeRow.id == Delivery.notice_id)
        .where(Delivery.channel_id == channel_id)
        .order_by(Delivery.id)
    )
    return [tuple(row) for row in session.execute(stmt)]


def _post(
    session,
    source: Source,
    index: int,
    *,
    minutes_ago: float,
    sentiment: str,
    score: float,  # type: ignore[no-untyped-def]
    keywords: list[str],
    engagement: int = 0,
    topic_id: int,
) -> None:
    published = T0 - timedelta(minutes=minutes_ago)
    post = Post(
        source_id=source.id,
        dedup_key=f"p{index}",
        url=f"https://weibo.com/1/{index}",
        text=f"帖子{index} 太坑了",
        author=f"用户{index}",
        published_at=published,
        sentiment=sentiment,
        sentiment_score=score,
        keywords=keywords,
        engagement_total=engagement,
    )
    session.add(post)
    session.flush()
    session.add(PostTopic(topic_id=topic_id, post_id=post.id, published_at=published, sentiment=sentiment))


def test_notice_payload_is_built_from_the_database(db, settings) -> None:  # type: ignore[no-untyped-def]
    outbox = Outbox(settings)
    with db.session() as session:
        topic = make_topic(session)
        source = Source(name="微博-关键词", kind="push", options={}, state={})
        session.add(source)
        session.flush()
        for index, (ago, sentiment, score, words, engagement) in enumerate(
            [
                (5, "negative", 0.02, ["拉肚子", "退款"], 10),
                (10, "negative", 0.30, ["拉肚子"], 500),
                (15, "negative", 0.01, ["拉肚子", "客服"], 900),
                (20, "positive", 0.95, ["好喝"], 0),
                (90, "negative", 0.00, ["旧闻"], 0),
                (25, "negative", 0.12, ["退款"], 0),
                (30, "negative", 0.2, [], 0),
                (40, "negative", 0.25, [], 0),
                (45, "negative", 0.28, [], 0),
            ]
        ):
            _post(
                session,
                source,
                index,
                minutes_ago=ago,
                sentiment=sentiment,
                score=score,
                keywords=words,
                engagement=engagement,
                topic_id=topic.id,
            )
        current = bucket_start(T0)
        session.add(Rollup(topic_id=topic.id, bucket_start=current, total=312))
        session.add(Rollup(topic_id=topic.id, bucket_start=current - timedelta(minutes=5), total=30))
        session.add(Rollup(topic_id=topic.id, bucket_start=current - timedelta(hours=3), total=999))
        _channel(session, "all")
        incident = raise_alert(session, topic, "severe", T0, outbox)
        incident_id = incident.id
    with db.session() as session:
        payload = session.scalars(select(NoticeRow.payload)).one()
    assert (
        payload["kind"] == "incident_opened"
        and payload["topic"] == "某乳业品牌"
        and payload["grade"] == "severe"
    )
    assert payload["reasons"] == ["负面声量为基线 8.4 倍（阈值 3 倍）"]
    assert len(payload["trend"]) == 24 and payload["trend"][-2:] == [30, 312] and 999 not in payload["trend"]
    posts = payload["top_posts"]
    assert len(posts) == 5 and all(post["source"] == "微博-关键词" for post in posts)
    assert [post["text"] for post in posts[:2]] == [
        "帖子2 太坑了",
        "帖子0 太坑了",
    ]  # same band: engagement first
    assert "帖子4 太坑了" not in [post["text"] for post in posts]  # older than an hour
    assert payload["keywords"][:2] == ["拉肚子", "退款"]
    assert payload["checklist"] and payload["checklist"][0].startswith("核实事实")
    assert payload["incident_url"] == f"http://testserver/#/incidents/{incident_id}"
    assert payload["api_url"] == f"http://testserver/api/v1/incidents/{incident_id}"
    assert payload["status"] == "open"


def test_routing_quiet_hours_and_min_interval(db, settings) -> None:  # type: ignore[no-untyped-def]
    outbox = Outbox(outbox_settings(settings, outbox_min_interval_minutes=10))
    with db.session() as session:
        topic, other = make_topic(session), make_topic(session, "别的话题")
        ids = {
            "all": _channel(session, "all"),
            "other-topic": _channel(session, "other-topic", topics=[other.id]),
            "this-topic": _channel(session, "this-topic", topics=[topic.id]),
            "min-severe": _channel(session, "min-severe", min_grade="severe"),
            "min-influential": _channel(session, "min-influential", min_grade="influential"),
            "disabled": _channel(session, "disabled", enabled=False),
            "quiet": _channel(session, "quiet", quiet_hours=QUIET),
            "quiet-by-day": _channel(
                session, "quiet-by-day", quiet_hours={**QUIET, "start": "09:00", "end": "18:00"}
            ),
        }
        incident = raise_alert(session, topic, "influential", T0, outbox)
    morning = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)  # 08:00 Beijing
    opened = {
        "all": [("incident_opened", T0, "pending")],
        "other-topic": [],
        "this-topic": [("incident_opened", T0, "pending")],
        "min-severe": [],
        "min-influential": [("incident_opened", T0, "pending")],
        "disabled": [],
        "quiet": [("incident_opened", morning, "pending")],
        "quiet-by-day": [("incident_opened", T0, "pending")],
    }
    with db.session() as session:
        assert {name: _deliveries(session, cid) for name, cid in ids.items()} == opened

    t1 = T0 + timedelta(minutes=4)  # escalation to 严重: goes now everywhere, pulls earlier notices forward
    with db.session() as session:
        raise_alert(session, session.get(Topic, topic.id), "severe", t1, outbox)
    with db.session() as session:
        assert _deliveries(session, ids["quiet"]) == [
            ("incident_opened", t1, "pending"),
            ("escalated", t1, "pending"),
        ]
        assert _deliveries(session, ids["min-severe"]) == [("escalated", t1, "pending")]
        assert _deliveries(session, ids["all"])[-1] == ("escalated", t1, "pending")

    t2 = T0 + timedelta(minutes=6)  # resolution within the minimum interval: postponed, never dropped
    with db.session() as session:
        incidents.resolve(session, incident.id, actor="张三", now=t2, write_notice=outbox)
    with db.session() as session:
        for name in ("all", "quiet", "min-severe", "this-topic"):
            assert _deliveries(session, ids[name])[-1] == ("resolved", t1 + timedelta(minutes=10), "pending")
        assert _deliveries(session, ids["other-topic"]) == [] and _deliveries(session, ids["disabled"]) == []


def test_resolution_reaches_channels_that_heard_of_the_incident(db, settings) -> None:  # type: ignore[no-untyped-def]
    outbox = Outbox(outbox_settings(settings, outbox_min_interval_minutes=0))
    with db.session() as session:
        topic = make_topic(session)
        early = _channel(session, "early")
        incident = raise_alert(session, topic, "general", T0, outbox)
        session.get(ChannelRow, early).min_grade = "severe"  # raised later: it still hears the end
        late = _channel(session, "late", min_grade="severe")
    with db.session() as session:
        incidents.resolve(
            session, incident.id, actor="张三", now=T0 + timedelta(minutes=1), write_notice=outbox
        )
    with db.session() as session:
        assert [kind for kind, *_ in _deliveries(session, early)] == ["incident_opened", "resolved"]
        assert _deliveries(session, late) == []


REMINDER_CASES = [  # status, grade, minutes since opening, silenced, reminders expected
    ("open", "severe", 10, False, 0),
    ("open", "severe", 30, False, 1),
    ("acknowledged", "severe", 90, False, 0),
    ("open", "influential", 90, False, 0),
    ("open", "severe", 90, True, 0),
    ("resolved", "severe", 90, False, 0),
]


def test_reminders_table(db, settings) -> None:  # type: ignore[no-untyped-def]
    outbox = Outbox(outbox_settings(settings, reminder_interval_minutes=30))
    with db.session() as session:
        _channel(session, "all")
    for index, (status, grade, minutes, silenced, expected) in enumerate(REMINDER_CASES):
        opened = T0 + timedelta(days=index)
        now = opened + timedelta(minutes=minutes)
        with db.session() as session:
            incident = raise_alert(session, make_topic(session, f"话题{index}"), grade, opened, outbox)
            incident.status = status
            if silenced:  # a silence that starts after the opening and still holds now
                session.add(
                    Silence(
                        topic_id=incident.topic_id,
                        starts_at=opened + timedelta(minutes=1),
                        ends_at=now + timedelta(minutes=1),
                        reason="演练",
                        created_by="test",
                    )
                )
        with db.session() as session:
            assert write_reminders(session, now, outbox) == ([incident.id] if expected else []), index
        with db.session() as session:
            stmt = select(NoticeRow.kind).where(NoticeRow.incident_id == incident.id)
            assert session.scalars(stmt).all().count("reminder") == expected, index
            assert session.get(Incident, incident.id).last_reminded_at == (now if expected else None), index
            session.get(Incident, incident.id).status = "resolved"  # out of the way of the next case


def test_reminders_repeat_and_never_pile_up(db, settings) -> None:  # type: ignore[no-untyped-def]
    outbox = Outbox(outbox_settings(settings, reminder_interval_minutes=30, outbox_min_interval_minutes=10))
    with db.session() as session:
        topic = make_topic(session)
        channel_id = _channel(session, "all")
        incident = raise_alert(session, topic, "severe", T0, outbox)
        session.execute(Delivery.__table__.update().values(status="delivered", delivered_at=T0))
    for minutes, written in ((29, 0), (30, 1), (45, 0), (61, 1), (95, 1)):
        with db.session() as session:
            assert len(write_reminders(session, T0 + timedelta(minutes=minutes), outbox)) == written
    with db.session() as session:
        # the 61-minute reminder found the 30-minute one still pending: no second delivery queued;
        # at 95 minutes the same holds.
        assert _deliveries(session, channel_id) == [
            ("incident_opened", T0, "delivered"),
            ("reminder", T0 + timedelta(minutes=30), "pending"),
        ]
        incidents.resolve(
            session, incident.id, actor="张三", now=T0 + timedelta(minutes=96), write_notice=outbox
        )
    with db.session() as session:
        kinds = [(kind, status) for kind, _, status in _deliveries(session, channel_id)]
        assert kinds == [
            ("incident_opened", "delivered"),
            ("reminder", "superseded"),
            ("resolved", "pending"),
        ]


def test_a_broken_quiet_hours_window_never_blocks_an_alert(db, settings) -> None:  # type: ignore[no-untyped-def]
    outbox = Outbox(settings)
    with db.session() as session:
        channel_id = _channel(session, "hand-edited")
        session.get(ChannelRow, channel_id).quiet_hours = {
            "start": "soon",
            "end": "08:00",
            "timezone": "Mars/Base",
        }
        raise_alert(session, make_topic(session), "general", T0, outbox)
    with db.session() as session:
        assert _deliveries(session, channel_id) == [("incident_opened", T0, "pending")]
