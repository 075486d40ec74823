"""Silences decided when a notice is written: an incident that opens during a silence is not muted
forever. After the silence ends its escalation, its reminders and its resolution reach the channel —
alert → outbox → policy → dispatcher → a loopback Slack emulator, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.alerts import incidents
from app.alerts.models import Alert, Incident, IncidentEvent, Silence
from app.alerts.service import incident_read
from app.channels.models import NoticeRow
from app.channels.outbox import Outbox
from app.channels.reminders import write_reminders
from app.posts.models import Topic
from tests.support.delivery import (
    Clock,
    Receiver,
    make_channel,
    make_topic,
    outbox_settings,
    raise_alert,
    run_ticks,
)


@pytest.fixture
def fast(settings):  # type: ignore[no-untyped-def]
    """No minimum interval and no digest: every notice that the policy lets through goes at once."""
    return outbox_settings(
        settings, outbox_digest_threshold=50, outbox_min_interval_minutes=0, reminder_interval_minutes=30
    )


TITLES = {
    "舆情预警": "incident_opened",
    "舆情升级": "escalated",
    "舆情提醒": "reminder",
    "舆情已解除": "resolved",
}


def _received(receiver: Receiver) -> list[str]:
    """Notice kinds the Slack emulator accepted, read from the message titles (Slack checks no clock,
    so the test clock may run ahead of real time)."""
    kinds = []
    for request in receiver.accepted("slack"):
        text = json.dumps(request.json(), ensure_ascii=False)
        kinds += [kind for title, kind in TITLES.items() if title in text]
    return kinds


def _silence(session, topic_id: int, clock: Clock, minutes: float, max_grade: str | None = None) -> None:  # type: ignore[no-untyped-def]
    session.add(
        Silence(
            topic_id=topic_id,
            max_grade=max_grade,
            starts_at=clock() - timedelta(minutes=1),
            ends_at=clock() + timedelta(minutes=minutes),
            reason="新品发布会，预期声量上升",
            created_by="test",
        )
    )


def test_an_incident_opened_during_a_silence_escalates_reminds_and_resolves_after_it(  # type: ignore[no-untyped-def]
    db, fast, receiver
) -> None:
    clock, outbox = Clock(), Outbox(fast)
    with db.session() as session:
        make_channel(session, receiver, "slack")
        topic = make_topic(session)
        _silence(session, topic.id, clock, minutes=30)
        incident = raise_alert(session, topic, "influential", clock(), outbox)  # opens during the silence
        incident_id, topic_id = incident.id, topic.id
    run_ticks(db, fast, clock, ticks=1)
    assert _received(receiver) == []
    with db.session() as session:
        assert session.scalars(select(Alert.status)).all() == ["silenced"]
        held = session.scalars(select(IncidentEvent).where(IncidentEvent.kind == "silenced")).one()
        assert "新品发布会" in held.message and "舆情预警" in held.message
        assert incident_read(session.get(Incident, incident_id), session=session, now=clock()).silenced

    clock.advance(minutes=35)  # the silence is over
    with db.session() as session:
        assert not incident_read(session.get(Incident, incident_id), session=session, now=clock()).silenced
        raise_alert(session, session.get(Topic, topic_id), "severe", clock(), outbox)
    run_ticks(db, fast, clock, ticks=1)
    assert _received(receiver) == ["escalated"]

    clock.advance(minutes=31)  # unacknowledged 严重: reminded
    with db.session() as session:
        assert write_reminders(session, clock(), outbox) == [incident_id]
    run_ticks(db, fast, clock, ticks=1)
    assert _received(receiver) == ["escalated", "reminder"]

    clock.advance(minutes=5)
    with db.session() as session:
        incidents.resolve(session, incident_id, actor="张三", now=clock(), write_notice=outbox)
    run_ticks(db, fast, clock, ticks=1)
    assert _received(receiver) == ["escalated", "reminder", "resolved"]
    assert not receiver.state.rejected


def test_reminders_held_by_a_silence_resume_when_it_ends(db, fast, receiver) -> None:  # type: ignore[no-untyped-def]
    clock, outbox = Clock(), Outbox(fast)
    with db.session() as session:
        make_channel(session, receiver, "slack")
        topic = make_topic(session)
        _silence(session, topic.id, clock, minutes=60)
        incident_id = raise_alert(session, topic, "severe", clock(), outbox).id
    for minutes in (31, 45, 59):  # due, but the silence holds: nothing written, nothing remembered
        with db.session() as session:
            assert write_reminders(session, clock() + timedelta(minutes=minutes), outbox) == []
    with db.session() as session:
        assert session.scalars(select(NoticeRow.kind)).all() == []
        assert session.get(Incident, incident_id).last_reminded_at is None
        assert session.scalars(select(IncidentEvent.kind).where(IncidentEvent.kind == "silenced")).all() == [
            "silenced"  # the opening only: held reminders are retried, not logged every tick
        ]
    clock.advance(minutes=61)
    with db.session() as session:
        assert write_reminders(session, clock(), outbox) == [incident_id]
    run_ticks(db, fast, clock, ticks=1)
    assert _received(receiver) == ["reminder"]
    clock.advance(minutes=130)
    with db.session() as session:
        resolved = incidents.auto_resolve(
            session, now=clock(), quiet_for=timedelta(minutes=120), write_notice=outbox
        )
        assert [i.id for i in resolved] == [incident_id]
    run_ticks(db, fast, clock, ticks=1)
    assert _received(receiver) == ["reminder", "resolved"]


def test_a_silence_up_to_a_grade_lets_higher_grades_through(db, fast, receiver) -> None:  # type: ignore[no-untyped-def]
    clock, outbox = Clock(), Outbox(fast)
    with db.session() as session:
        make_channel(session, receiver, "slack")
        topic = make_topic(session)
        _silence(session, topic.id, clock, minutes=60, max_grade="influential")
        incident = raise_alert(session, topic, "general", clock(), outbox)
        clock.advance(minutes=5)
        raise_alert(session, session.get(Topic, topic.id), "severe", clock(), outbox)  # above the silence
        clock.advance(minutes=5)
        incidents.resolve(session, incident.id, actor="张三", now=clock(), write_notice=outbox)
    run_ticks(db, fast, clock, ticks=2)  # one notice of an incident per channel and tick, in order
    assert _received(receiver) == [
        "escalated",
        "resolved",
    ]  # the resolution of a 严重 incident is above it too
