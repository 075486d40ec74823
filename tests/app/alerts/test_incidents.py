"""Incident lifecycle with a controllable clock: grouping, escalation, inhibition, silences,
acknowledge, resolve and auto-resolve — and which changes write notices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from analysis.grading import GradingInputs, grade
from app.alerts import incidents
from app.alerts.models import IncidentEvent, Silence
from app.core.errors import Conflict
from app.topics import service as topics
from app.topics.schemas import TopicCreate

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
LEVELS = {
    "general": GradingInputs(observed=12, baseline=3, ratio=4, negative=6, negative_share=0.5),
    "influential": GradingInputs(
        observed=12, baseline=3, ratio=4, negative=6, negative_share=0.5, media_sources=1
    ),
    "severe": GradingInputs(observed=80, baseline=3, ratio=26, negative=70, negative_share=0.9),
}


class Notices:
    """Records (incident id, kind) for every notice the lifecycle asks for."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    def __call__(self, session, incident, kind, now) -> None:  # type: ignore[no-untyped-def]
        self.sent.append((incident.id, kind))


def _alert(session, topic, level: str, now: datetime, notices: Notices):  # type: ignore[no-untyped-def]
    grading = grade(LEVELS[level])
    return incidents.record_alert(
        session,
        topic=topic,
        detector="volume",
        grading=grading,
        headline=f"{level} 测试",
        observed=1,
        baseline=1,
        ratio=1,
        score=1,
        bucket=now,
        now=now,
        write_notice=notices,
    )


@pytest.fixture
def topic(db):  # type: ignore[no-untyped-def]
    with db.session() as session:
        return topics.create(session=session, data=TopicCreate(name="某品牌", rule="某品牌")).id


def test_alerts_group_escalate_and_lower_grades_are_inhibited(db, topic) -> None:  # type: ignore[no-untyped-def]
    from app.posts.models import Topic

    notices = Notices()
    with db.session() as session:
        t = session.get(Topic, topic)
        _, first = _alert(session, t, "general", T0, notices)
        _alert(session, t, "general", T0 + timedelta(minutes=5), notices)
        _, same = _alert(session, t, "influential", T0 + timedelta(minutes=10), notices)
        _alert(session, t, "general", T0 + timedelta(minutes=15), notices)
        _alert(session, t, "severe", T0 + timedelta(minutes=20), notices)
        _alert(session, t, "influential", T0 + timedelta(minutes=25), notices)
        assert first.id == same.id and same.grade == "severe"
        assert same.title == "【严重】某品牌：severe 测试"  # an escalation retitles with its own headline
        kinds = [
            e.kind
            for e in session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == first.id))
        ]
    assert notices.sent == [(first.id, "incident_opened"), (first.id, "escalated"), (first.id, "escalated")]
    assert kinds.count("escalated") == 2 and kinds.count("alert") == 3


def test_the_lifecycle_asks_for_every_notice_and_keeps_no_silence_state(db, topic) -> None:  # type: ignore[no-untyped-def]
    """Silences are the notice writer's decision (app/channels/policy.py): the lifecycle asks for a
    notice at every change, whatever silences exist, and nothing on the incident remembers one."""
    from app.posts.models import Topic

    notices = Notices()
    with db.session() as session:
        session.add(
            Silence(
                topic_id=topic,
                max_grade=None,
                starts_at=T0 - timedelta(hours=1),
                ends_at=T0 + timedelta(hours=1),
                reason="新品发布会",
                created_by="test",
            )
        )
        t = session.get(Topic, topic)
        alert, incident = _alert(session, t, "general", T0, notices)
        assert alert.status == "active"  # the recorder wrote the notice: nothing held it
        _alert(session, t, "severe", T0 + timedelta(minutes=5), notices)
        incidents.resolve(
            session, incident.id, actor="x", now=T0 + timedelta(minutes=10), write_notice=notices
        )
        assert not hasattr(incident, "silenced")
    assert notices.sent == [
        (incident.id, "incident_opened"),
        (incident.id, "escalated"),
        (incident.id, "resolved"),
    ]


def test_acknowledge_resolve_and_auto_resolve(db, topic) -> None:  # type: ignore[no-untyped-def]
    from app.posts.models import Topic

    notices = Notices()
    with db.session() as session:
        _, incident = _alert(session, session.get(Topic, topic), "general", T0, notices)
        incidents.acknowledge(session, incident.id, actor="分析师", now=T0 + timedelta(minutes=3))
        assert incident.status == "acknowledged" and incident.acknowledged_by == "分析师"
        assert (
            incidents.auto_resolve(
                session,
                now=T0 + timedelta(minutes=119),
                quiet_for=timedelta(minutes=120),
                write_notice=notices,
            )
            == []
        )
        incidents.signal(incident, T0 + timedelta(minutes=60))
        assert (
            incidents.auto_resolve(
                session,
                now=T0 + timedelta(minutes=179),
                quiet_for=timedelta(minutes=120),
                write_notice=notices,
            )
            == []
        )
        resolved = incidents.auto_resolve(
            session, now=T0 + timedelta(minutes=181), quiet_for=timedelta(minutes=120), write_notice=notices
        )
        assert [i.id for i in resolved] == [incident.id] and incident.resolved_by == "system"
        with pytest.raises(Conflict):
            incidents.resolve(session, incident.id, actor="x", now=T0 + timedelta(hours=4))
        _, second = _alert(session, session.get(Topic, topic), "general", T0 + timedelta(hours=5), notices)
        assert second.id != incident.id
    assert notices.sent == [
        (incident.id, "incident_opened"),
        (incident.id, "resolved"),
        (second.id, "incident_opened"),
    ]


def test_api_ack_notes_checklist_and_resolve(client, db, topic, write_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    from app.posts.models import Topic

    with db.session() as session:
        _, incident = _alert(session, session.get(Topic, topic), "severe", T0, Notices())
        incident_id = incident.id
    base = f"/api/v1/incidents/{incident_id}"
    assert client.post(f"{base}/ack", headers=read_headers).status_code == 403
    assert client.post(f"{base}/ack", headers=write_headers).json()["status"] == "acknowledged"
    note = client.post(f"{base}/notes", json={"text": "已联系法务核实"}, headers=write_headers)
    assert note.status_code == 201
    ticked = client.post(
        f"{base}/checklist", json={"code": "verify", "done": True}, headers=write_headers
    ).json()
    assert next(i for i in ticked["checklist"] if i["code"] == "verify")["done"] is True
    detail = client.get(base, headers=read_headers).json()
    assert detail["grade_label"] == "严重" and detail["reasons"]
    assert [e["kind"] for e in detail["timeline"]][:2] == ["opened", "acknowledged"]
    assert any("核实事实" in e["message"] for e in detail["timeline"] if e["kind"] == "checklist")
    assert client.post(f"{base}/resolve", headers=write_headers).json()["status"] == "resolved"
    assert client.post(f"{base}/resolve", headers=write_headers).status_code == 409
    assert client.get("/api/v1/incidents/99999999999", headers=read_headers).status_code == 422
