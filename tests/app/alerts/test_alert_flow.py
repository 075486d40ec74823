"""End to end: three days of history raise nothing; a negative burst now opens exactly one graded
incident with its inputs and playbook; more of the burst escalates it; quiet resolves it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.alerts.models import Alert, Incident, IncidentEvent
from app.topics import service as topics
from app.topics.schemas import TopicCreate

NOW = datetime(2026, 11, 20, 6, 2, 30, tzinfo=UTC)  # 14:02 China time
CALM = [
    "星河汽车今天去店里看了新款，外观还行",
    "星河汽车的续航到底怎么样？有车主说说吗",
    "路上看到一辆星河汽车，颜色挺好看",
    "星河汽车周末有试驾活动",
    "朋友买了星河汽车，说开着很舒服",
    "星河汽车客服回复挺快的，点赞",
]
ANGRY = [
    "星河汽车刹车失灵，差点出事，太可怕了[怒]",
    "星河汽车高速上刹车突然失灵，必须给个说法！",
    "星河汽车刹车问题这么严重还不给解决？气死了",
    "又一起星河汽车刹车失灵事故，投诉无门[怒][怒]",
]


class Clock:
    """A controllable clock for the pipeline and the engine."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _history(now: datetime) -> list[dict]:  # type: ignore[type-arg]
    rng = random.Random(7)
    posts = []
    moment = now - timedelta(days=3)
    index = 0
    while moment < now - timedelta(minutes=15):
        hour = (moment.hour + 8) % 24
        rate = 0.6 if hour < 7 else 2.5 if hour in (12, 13, 20, 21) else 1.6
        for _ in range(min(rng.randint(0, 3) + int(rate) - 1, 5) if rate > 1 else rng.randint(0, 1)):
            posts.append(
                {
                    "id": f"h{index}",
                    "text": rng.choice(CALM) + f" #{index}",
                    "author": f"u{rng.randint(1, 400)}",
                    "published_at": (moment + timedelta(seconds=rng.randint(0, 299))).isoformat(),
                }
            )
            index += 1
        moment += timedelta(minutes=5)
    return posts


def _burst(now: datetime, start: int, count: int, extra: str = "") -> list[dict]:  # type: ignore[type-arg]
    return [
        {
            "id": f"b{start + i}",
            "text": f"{ANGRY[i % len(ANGRY)]}{extra} 第{start + i}条",
            "author": f"a{start + i}",
            "published_at": (now - timedelta(seconds=i % 120)).isoformat(),
            "engagement": {"reposts": 20},
        }
        for i in range(count)
    ]


def _push(services, source: str, posts: list[dict]) -> None:  # type: ignore[no-untyped-def,type-arg]
    for start in range(0, len(posts), 1000):
        result = services.pipeline.push(source, posts[start : start + 1000])
        assert not result.rejected


def test_burst_opens_one_incident_that_escalates_and_resolves(services, db) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(NOW)
    services.pipeline.clock = clock
    with db.session() as session:
        topic = topics.create(session=session, data=TopicCreate(name="星河汽车", rule="星河汽车"))
        topic_id = topic.id

    _push(services, "weibo", _history(NOW))
    with db.session() as session:
        assert session.scalar(select(func.count(Alert.id))) == 0
        assert session.scalar(select(func.count(Incident.id))) == 0

    _push(services, "weibo", _burst(NOW, 0, 25))
    with db.session() as session:
        incident = session.scalars(select(Incident)).one()
        assert incident.topic_id == topic_id and incident.status == "open"
        first_grade = incident.grade
        alert = session.scalars(select(Alert).order_by(Alert.id)).first()
        assert alert.incident_id == incident.id and alert.rules
        for key in ("observed", "baseline", "ratio", "negative_share", "distinct_sources", "critical_terms"):
            assert key in alert.inputs
        assert alert.inputs["negative_share"] > 0.5 and alert.ratio > 3
        assert [item["code"] for item in incident.checklist][0] == "verify"
        assert "5 分钟内" in incident.headline and "负面" in incident.headline

    clock.now = NOW + timedelta(minutes=4)
    more = _burst(clock.now, 1000, 250, extra="，已经有人死亡，要求召回")
    for index, post in enumerate(more):
        post["platform"] = ("weibo", "douyin", "zhihu")[index % 3]
    _push(services, "news-and-social", more)
    with db.session() as session:
        incidents = session.scalars(select(Incident)).all()
        assert len(incidents) == 1
        incident = incidents[0]
        assert incident.grade == "severe" and first_grade != "severe"
        kinds = [
            e.kind
            for e in session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id))
        ]
        assert kinds[0] == "opened" and "escalated" in kinds
        assert any(item["code"] == "leadership" for item in incident.checklist)

    clock.now = NOW + timedelta(hours=3)
    with db.session() as session:
        services.engine.tick(session, clock.now)
    with db.session() as session:
        incident = session.scalars(select(Incident)).one()
        assert incident.status == "resolved" and incident.resolved_by == "system"


def test_full_path_delivers_one_message_per_channel_per_change(services, db, settings) -> None:  # type: ignore[no-untyped-def]
    """History, then a burst through push: each subscribed channel gets the opening notice once,
    then the escalation once, through the real engine, outbox and dispatcher."""
    from tests.support.delivery import Clock as OutboxClock
    from tests.support.delivery import Receiver, make_channel, notice_ids, run_ticks

    receiver = Receiver().start()
    now = datetime.now(UTC).replace(microsecond=0)  # vendors check signature timestamps against real time
    try:
        clock = Clock(now)
        services.pipeline.clock = clock
        with db.session() as session:
            topics.create(session=session, data=TopicCreate(name="星河汽车", rule="星河汽车"))
            make_channel(session, receiver, "webhook", name="ops-webhook")
            make_channel(session, receiver, "dingtalk", name="pr-dingtalk")
        _push(services, "weibo", _history(now))
        _push(services, "weibo", _burst(now, 0, 25))
        outbox_clock = OutboxClock(now + timedelta(seconds=1))
        run_ticks(db, settings, outbox_clock, ticks=3, step=1)
        opened = notice_ids(receiver.accepted("webhook"))
        assert len(opened) == 1 and len(receiver.accepted("dingtalk")) == 1

        clock.now = now + timedelta(minutes=4)
        _push(services, "social", _burst(clock.now, 1000, 250, extra="，已经有人死亡，要求召回"))
        outbox_clock.now = now + timedelta(minutes=4, seconds=5)
        run_ticks(db, settings, outbox_clock, ticks=3, step=1)
        ids = notice_ids(receiver.accepted("webhook"))
        assert len(ids) == 2 and len(set(ids)) == 2 and ids[0] == opened[0]
        assert len(receiver.accepted("dingtalk")) == 2
        run_ticks(db, settings, outbox_clock, ticks=2, step=1)
        assert len(receiver.accepted("webhook")) == 2
    finally:
        receiver.stop()
