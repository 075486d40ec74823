"""Day one, late data and shared coordination, end to end through the pipeline and the engine.

- A new topic re-tagged over three days of stored posts alerts on its first burst through the volume
  detectors (not through coordination), and the alert says how much history its baseline rests on.
- A burst whose posts arrive 20-30 minutes after they were published opens an incident within two
  detection ticks and says the data arrived late and by how much; past the allowance it opens
  nothing, while the rollups still count every post in its own bucket.
- Two workers (two engines on one database) see one coordination episode as one, and a restarted
  worker remembers it.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from analysis.detectors.volume import STATE_VERSION as VOLUME_STATE_VERSION
from app.alerts import detection
from app.alerts.models import Alert, DetectorState, Incident, IncidentEvent
from app.runtime.container import Services
from app.stats.models import Rollup
from app.stats.rollups import bucket_start
from app.topics import service as topics
from app.topics.schemas import TopicCreate
from tests.app.alerts.test_alert_flow import NOW, Clock, _burst, _history, _push

VOLUME_DETECTORS = {"volume", "negative_volume"}


def _alerts(db) -> list[Alert]:  # type: ignore[no-untyped-def]
    with db.session() as session:
        alerts = list(session.scalars(select(Alert).order_by(Alert.id)))
        session.expunge_all()
    return alerts


def _tick(services, clock: Clock, at) -> None:  # type: ignore[no-untyped-def]
    clock.now = at
    with services.db.session() as session:
        services.engine.tick(session, at)


def test_a_new_topic_re_tagged_over_stored_history_alerts_on_its_first_burst_by_volume(services, db) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(NOW)
    services.pipeline.clock = clock
    _push(services, "weibo", _history(NOW))  # stored before any topic matches them
    with db.session() as session:
        topic_id = topics.create(session=session, data=TopicCreate(name="星河汽车", rule="星河汽车")).id
    _tick(services, clock, NOW)  # the tick judges the new topic before its re-tag: no history yet
    assert services.retag_pending() == 1
    with db.session() as session:
        assert session.scalar(select(func.sum(Rollup.total)).where(Rollup.topic_id == topic_id)) > 1000
    _tick(services, clock, NOW)
    assert _alerts(db) == []  # the history itself is calm

    _push(services, "weibo", _burst(NOW, 0, 80))
    alerts = _alerts(db)
    assert [a.detector for a in alerts][:1] and alerts[0].detector in VOLUME_DETECTORS
    hours = re.search(r"基线仅依据 (\d+) 小时历史", alerts[0].headline)
    assert hours is not None and 70 <= int(hours.group(1)) <= 72, alerts[0].headline


@pytest.mark.parametrize(("delay_minutes", "opens"), [(22, True), (30, True), (95, False)])
def test_a_burst_arriving_late_opens_an_incident_within_the_allowance(
    services, db, delay_minutes: int, opens: bool
) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(NOW)
    services.pipeline.clock = clock
    with db.session() as session:
        topic_id = topics.create(session=session, data=TopicCreate(name="星河汽车", rule="星河汽车")).id
    _push(services, "weibo", _history(NOW))
    _tick(services, clock, NOW)
    published = NOW + timedelta(minutes=7, seconds=20)  # 14:09:50: the burst fills the 14:05 bucket
    arrival = published + timedelta(minutes=delay_minutes)
    moment = NOW
    while moment + timedelta(seconds=30) < arrival:  # the ticks before the posts arrive see nothing
        moment += timedelta(seconds=30 if moment > arrival - timedelta(minutes=5) else 300)
        _tick(services, clock, min(moment, arrival - timedelta(seconds=1)))
    assert _alerts(db) == []

    clock.now = arrival
    burst = _burst(published, 0, 80)
    _push(services, "weibo", burst)
    for tick in range(2):  # at most two detection ticks after the posts arrived
        _tick(services, clock, arrival + timedelta(seconds=30 * (tick + 1)))
    alerts = _alerts(db)
    with db.session() as session:
        incidents = session.scalar(select(func.count(Incident.id)))
        stored = session.scalar(
            select(Rollup.total).where(
                Rollup.topic_id == topic_id, Rollup.bucket_start == bucket_start(published)
            )
        )
    assert stored == len(burst)  # every burst post counted in its own (event-time) bucket, late or not
    if not opens:
        assert alerts == [] and incidents == 0
        return
    assert incidents == 1 and alerts[0].detector in VOLUME_DETECTORS
    assert alerts[0].bucket_start == bucket_start(published)
    late = re.search(r"数据晚到约 (\d+) 分钟", alerts[0].headline)
    assert late is not None and abs(int(late.group(1)) - delay_minutes) <= 2, alerts[0].headline


def test_two_workers_see_one_coordination_episode_as_one(services, db, settings, analyzer) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        topics.create(session=session, data=TopicCreate(name="星河汽车", rule="星河汽车"))
    other = Services.create(settings, db=db, analyzer=analyzer)  # a second worker process
    text = "星河汽车门店拒绝退款还威胁顾客，大家一起转发让更多人看到"
    clock = Clock(NOW)
    for worker in (services, other):
        worker.pipeline.clock = clock

    def posts(start: int, count: int) -> list[dict]:  # type: ignore[type-arg]
        return [
            {
                "id": f"c{n}",
                "text": text,
                "author": f"acct{n}",
                "published_at": (clock.now - timedelta(seconds=20)).isoformat(),
            }
            for n in range(start, start + count)
        ]

    _push(services, "weibo", posts(0, 6))  # neither worker alone sees 10 posts
    clock.now = NOW + timedelta(seconds=40)
    _push(other, "weibo", posts(6, 6))  # 12 together: the episode, seen by the second worker
    assert [e.data["posts"] for e in _coordination_events(db)] == [12]
    clock.now = NOW + timedelta(seconds=80)
    _push(services, "weibo", posts(12, 3))  # the first worker knows it was reported
    restarted = Services.create(settings, db=db, analyzer=analyzer)  # a worker restarted mid-episode
    restarted.pipeline.clock = clock
    clock.now = NOW + timedelta(minutes=3)
    _push(restarted, "weibo", posts(15, 12))  # alone enough for an episode: it must remember this one
    events = _coordination_events(db)
    assert len(events) == 1 and events[0].data["posts"] == events[0].data["distinct_authors"] == 12
    with db.session() as session:
        assert session.scalar(select(func.count(Incident.id))) == 1


def _coordination_events(db) -> list[IncidentEvent]:  # type: ignore[no-untyped-def]
    with db.session() as session:
        events = list(session.scalars(select(IncidentEvent).where(IncidentEvent.kind == "coordination")))
        session.expunge_all()
    return events


def test_a_stored_state_of_an_older_version_is_rebuilt_from_rollups(services, db, caplog) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(NOW)
    services.pipeline.clock = clock
    with db.session() as session:
        topic_id = topics.create(session=session, data=TopicCreate(name="星河汽车", rule="星河汽车")).id
    _push(services, "weibo", _history(NOW))
    _tick(services, clock, NOW)
    with db.session() as session:
        rows = {r.detector: r for r in session.scalars(select(DetectorState))}
        warmed = rows["volume"].state["state"]["seen"]
        assert warmed > 800
        old_format = [name for name in rows if name.split("@")[0] in VOLUME_DETECTORS]
        assert len(old_format) == 4  # live and checkpoint states of both volume detectors
        for name in old_format:  # as a release before the two-horizon detector left them
            old = dict(rows[name].state)
            rows[name].state = {**old, "version": 1, "state": {"seen": 5, "level": 1.0}}
    with caplog.at_level("WARNING", logger="app.alerts.detection"):
        _tick(services, clock, NOW + timedelta(minutes=5))
    assert (
        sum(
            "version 1" in r.getMessage() and "rebuilt from rollups" in r.getMessage() for r in caplog.records
        )
        == 4
    )
    with db.session() as session:
        rows = {r.detector: r for r in session.scalars(select(DetectorState))}
        assert all(rows[name].state["version"] == VOLUME_STATE_VERSION for name in old_format)
        for name in ("volume", "negative_volume"):
            assert rows[name].state["state"]["seen"] == warmed + 1  # the whole history again, not a reset
        assert rows["volume"].last_bucket == bucket_start(NOW)
    clock.now = NOW + timedelta(minutes=5)
    _push(services, "weibo", _burst(clock.now, 0, 80))
    assert _alerts(db)[0].detector in VOLUME_DETECTORS
    assert topic_id


def test_a_replay_after_late_posts_starts_from_the_checkpoint_and_matches_a_full_replay(services, db) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(NOW)
    services.pipeline.clock = clock
    with db.session() as session:
        topic_id = topics.create(session=session, data=TopicCreate(name="星河汽车", rule="星河汽车")).id
    _push(services, "weibo", _history(NOW))
    _tick(services, clock, NOW + timedelta(minutes=30))
    with db.session() as session:
        settled_before = {
            r.detector: (r.last_bucket, r.state)
            for r in session.scalars(select(DetectorState))
            if r.detector.endswith(detection.CHECKPOINT)
        }
    published = NOW + timedelta(minutes=7, seconds=20)
    clock.now = published + timedelta(minutes=28)  # the burst arrives 28 minutes late
    _push(services, "weibo", _burst(published, 0, 80))
    current = bucket_start(clock.now)
    with db.session() as session:
        rows = {r.detector: r for r in session.scalars(select(DetectorState))}
        for name, (last_bucket, _) in settled_before.items():  # within the allowance: kept, moved on
            assert not rows[name].stale and rows[name].last_bucket > last_bucket
            assert rows[name].last_bucket < bucket_start(published)
        first = detection.earliest_bucket(session, topic_id)
        counts = detection.load_counts(session, topic_id, first, current)
        for spec in detection.SPECS:  # the same state as a replay of every bucket from rollups
            full = spec.build()
            moment = first
            while moment < current:
                spec.feed(full, moment, counts.get(moment, detection.Counts()))
                moment += timedelta(minutes=5)
            assert rows[spec.name].state == full.state_dict(), spec.name
    assert _alerts(db)[0].bucket_start == bucket_start(published)


def test_history_pushed_into_a_judged_new_topic_warms_it_before_the_next_tick(services, db) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(NOW)
    services.pipeline.clock = clock
    with db.session() as session:
        topics.create(session=session, data=TopicCreate(name="星河汽车", rule="星河汽车"))
    _tick(services, clock, NOW)  # judged with no history
    _push(services, "weibo", _history(NOW))  # back-filled with past times
    _push(services, "weibo", _burst(NOW, 0, 80))  # the burst comes before any tick
    alerts = _alerts(db)
    assert alerts and alerts[0].detector in VOLUME_DETECTORS
