"""Incident lifecycle: open → acknowledged → resolved, escalation, and the notices they ask for.

Alerts on one topic group into its open incident (the story is the topic's current episode; the
near-duplicate clusters involved are listed on the incident). Every change that should reach people
asks the `NoticeWriter` for a notice in the same transaction (see app/channels/outbox.py); whether a
silence, quiet hours or a grade filter holds is decided there, when the notice is written, never here
and never kept on the incident.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.grading import GRADE_LABELS, Grading, escalate
from analysis.playbook import checklist
from app.alerts.models import Alert, Incident, IncidentEvent
from app.core import locks
from app.core.errors import Conflict, NotFound
from app.core.locks import LockKey
from app.core.vocab import ACTIVE_STATUSES, AlertStatus, IncidentStatus, NoticeKind
from app.posts.models import Topic

ACTIVE = ACTIVE_STATUSES


@dataclass(frozen=True)
class NoticeOutcome:
    """What a `NoticeWriter` did: the notice written and the channels queued, or the silence that held it."""

    notice_id: str | None = None
    channels: tuple[int, ...] = ()
    silenced_by: str | None = None


NoticeWriter = Callable[[Session, Incident, NoticeKind, datetime], NoticeOutcome | None]


def _no_notice(session: Session, incident: Incident, kind: NoticeKind, now: datetime) -> NoticeOutcome | None:
    return None


def active_incident(session: Session, topic_id: int) -> Incident | None:
    """The topic's open or acknowledged incident, if any."""
    stmt = (
        select(Incident)
        .where(Incident.topic_id == topic_id, Incident.status.in_(ACTIVE))
        .order_by(Incident.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def _lock_opening(session: Session, topic_id: int) -> bool:
    """Serialise opening an incident per topic until commit (PostgreSQL; SQLite has one writer).

    Two transactions judging the same topic at once (a push and the scheduler's tick, or pushes whose
    posts fall in different buckets) would each find no active incident and open one. Returns True
    when the lock was taken, so the caller looks again after any transaction it waited for.
    """
    if session.get_bind().dialect.name != "postgresql":
        return False
    locks.xact_lock(session, LockKey.INCIDENT, topic_id)
    return True


def incident_title(grade: str, topic_name: str, headline: str) -> str:
    """【分级】话题：headline — the headline leads with the strongest signal (volume or negativity)."""
    return f"【{GRADE_LABELS[grade]}】{topic_name}：{headline}"


def add_event(
    session: Session,
    incident: Incident,
    kind: str,
    message: str,
    *,
    at: datetime,
    actor: str = "system",
    data: dict[str, Any] | None = None,
) -> None:
    """Add an entry to the incident's timeline (the one place timeline rows are made)."""
    session.add(
        IncidentEvent(
            incident_id=incident.id, at=at, kind=kind, actor=actor, message=message, data=data or {}
        )
    )


def _checklist_state(grade: str, previous: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    done = {item["code"]: item for item in previous or []}
    return [
        {
            "code": step.code,
            "text": step.text,
            "done": bool(done.get(step.code, {}).get("done")),
            "done_by": done.get(step.code, {}).get("done_by"),
            "done_at": done.get(step.code, {}).get("done_at"),
        }
        for step in checklist(grade)
    ]


def record_alert(
    session: Session,
    *,
    topic: Topic,
    detector: str,
    grading: Grading,
    headline: str,
    observed: float,
    baseline: float,
    ratio: float,
    score: float,
    bucket: datetime,
    now: datetime,
    cluster_ids: list[int] | None = None,
    write_notice: NoticeWriter = _no_notice,
) -> tuple[Alert, Incident]:
    """Store a graded alert and open, update or escalate the topic's incident (notices as needed)."""
    incident = active_incident(session, topic.id)
    if incident is None and _lock_opening(session, topic.id):
        incident = active_incident(session, topic.id)  # opened by a transaction we waited for
    inputs = grading.inputs.to_dict() if grading.inputs else {}
    reasons = [hit.reason for hit in grading.hits]
    kind: NoticeKind | None
    if incident is None:
        incident = _open(session, topic, grading, headline, inputs, reasons, now)
        kind = NoticeKind.INCIDENT_OPENED
    else:
        kind = _update(session, incident, grading, headline, inputs, reasons, now)
    if cluster_ids:
        incident.cluster_ids = sorted(set(incident.cluster_ids or []) | set(cluster_ids))[-20:]
    alert = Alert(
        topic_id=topic.id,
        incident_id=incident.id,
        detector=detector,
        fired_at=now,
        bucket_start=bucket,
        grade=grading.grade,
        status=AlertStatus.ACTIVE,
        observed=observed,
        baseline=baseline,
        ratio=ratio,
        score=score,
        headline=headline,
        inputs=inputs,
        rules=grading.rules,
    )
    session.add(alert)
    outcome = write_notice(session, incident, kind, now) if kind else None
    if outcome is not None and outcome.silenced_by is not None:
        alert.status = AlertStatus.SILENCED
    return alert, incident


def _open(
    session: Session,
    topic: Topic,
    grading: Grading,
    headline: str,
    inputs: dict[str, Any],
    reasons: list[str],
    now: datetime,
) -> Incident:
    incident = Incident(
        topic_id=topic.id,
        status=IncidentStatus.OPEN,
        grade=grading.grade,
        headline=headline,
        title=incident_title(grading.grade, topic.name, headline),
        inputs=inputs,
        rules=grading.rules,
        checklist=_checklist_state(grading.grade),
        opened_at=now,
        last_signal_at=now,
        cluster_ids=[],
    )
    session.add(incident)
    session.flush()
    add_event(
        session,
        incident,
        "opened",
        f"事件开启，分级 {GRADE_LABELS[grading.grade]}：{headline}",
        at=now,
        data={"grade": grading.grade, "rules": grading.rules, "reasons": reasons, "inputs": inputs},
    )
    return incident


def _update(
    session: Session,
    incident: Incident,
    grading: Grading,
    headline: str,
    inputs: dict[str, Any],
    reasons: list[str],
    now: datetime,
) -> NoticeKind | None:
    incident.last_signal_at = now
    new_grade = escalate(incident.grade, grading.grade)
    if new_grade == incident.grade:
        add_event(
            session,
            incident,
            "alert",
            headline,
            at=now,
            data={"grade": grading.grade, "rules": grading.rules},
        )
        return None
    old = incident.grade
    incident.grade = new_grade
    incident.headline = headline
    incident.inputs = inputs
    incident.rules = grading.rules
    topic = session.get(Topic, incident.topic_id)
    incident.title = incident_title(new_grade, topic.name if topic else "", headline)
    incident.checklist = _checklist_state(new_grade, incident.checklist)
    add_event(
        session,
        incident,
        "escalated",
        f"分级由 {GRADE_LABELS[old]} 升级为 {GRADE_LABELS[new_grade]}：{headline}",
        at=now,
        data={"from": old, "to": new_grade, "rules": grading.rules, "reasons": reasons, "inputs": inputs},
    )
    return NoticeKind.ESCALATED


def signal(incident: Incident, now: datetime) -> None:
    """The signal is still above baseline: postpone auto-resolve."""
    incident.last_signal_at = max(incident.last_signal_at, now)


def get(session: Session, incident_id: int) -> Incident:
    """An incident by id, or NotFound."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} not found")
    return incident


def acknowledge(
    session: Session, incident_id: int, *, actor: str, now: datetime, note: str | None = None
) -> Incident:
    """Acknowledge an open incident (stops reminders)."""
    incident = get(session, incident_id)
    if incident.status == IncidentStatus.RESOLVED:
        raise Conflict("incident is already resolved")
    if incident.status == IncidentStatus.OPEN:
        incident.status = IncidentStatus.ACKNOWLEDGED
        incident.acknowledged_at = now
        incident.acknowledged_by = actor
        add_event(session, incident, "acknowledged", note or f"{actor} 已确认", at=now, actor=actor)
    return incident


def resolve(
    session: Session,
    incident_id: int,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
    write_notice: NoticeWriter = _no_notice,
) -> Incident:
    """Resolve an incident by hand."""
    incident = get(session, incident_id)
    if incident.status == IncidentStatus.RESOLVED:
        raise Conflict("incident is already resolved")
    _close(session, incident, actor=actor, now=now, message=note or f"{actor} 标记为已解除")
    write_notice(session, incident, NoticeKind.RESOLVED, now)
    return incident


def _close(session: Session, incident: Incident, *, actor: str, now: datetime, message: str) -> None:
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = now
    incident.resolved_by = actor
    add_event(session, incident, "resolved", message, at=now, actor=actor)


def add_note(session: Session, incident_id: int, *, actor: str, text: str, now: datetime) -> IncidentEvent:
    """Add a note to an incident's timeline."""
    incident = get(session, incident_id)
    event = IncidentEvent(incident_id=incident.id, at=now, kind="note", actor=actor, message=text, data={})
    session.add(event)
    return event


def set_checklist_item(
    session: Session, incident_id: int, *, code: str, done: bool, actor: str, now: datetime
) -> Incident:
    """Tick or untick a playbook step."""
    incident = get(session, incident_id)
    items = [dict(item) for item in incident.checklist]
    text = code
    for item in items:
        if item["code"] == code:
            text = item.get("text", code)
            item.update(done=done, done_by=actor if done else None, done_at=now.isoformat() if done else None)
            break
    else:
        raise NotFound(f"checklist step {code!r} not found on incident {incident_id}")
    incident.checklist = items
    add_event(
        session,
        incident,
        "checklist",
        f"{'完成' if done else '取消完成'}：{text}",
        at=now,
        actor=actor,
        data={"code": code, "done": done},
    )
    return incident


def auto_resolve(
    session: Session, *, now: datetime, quiet_for: timedelta, write_notice: NoticeWriter = _no_notice
) -> list[Incident]:
    """Resolve incidents whose signal has stayed at baseline for `quiet_for`."""
    stmt = select(Incident).where(Incident.status.in_(ACTIVE), Incident.last_signal_at < now - quiet_for)
    resolved = []
    for incident in session.scalars(stmt):
        minutes = int(quiet_for.total_seconds() // 60)
        _close(
            session, incident, actor="system", now=now, message=f"信号已回落至基线 {minutes} 分钟，自动解除"
        )
        write_notice(session, incident, NoticeKind.RESOLVED, now)
        resolved.append(incident)
    return resolved


def recurrences(session: Session, topic_id: int, now: datetime, days: int = 7) -> int:
    """How many earlier incidents the topic had in the last `days` days."""
    stmt = select(Incident.id).where(
        Incident.topic_id == topic_id, Incident.opened_at >= now - timedelta(days=days)
    )
    return len(session.scalars(stmt).all())


def coordination_event(session: Session, incident: Incident, evidence: Any, now: datetime) -> None:
    """Add coordinated-posting evidence to the timeline: facts for a person to judge, not a verdict."""
    data: dict[str, Any] = {
        "cluster_id": getattr(evidence, "cluster_id", None),
        "posts": getattr(evidence, "posts", None),
        "distinct_authors": getattr(evidence, "distinct_authors", None),
        "window_seconds": getattr(evidence, "window_seconds", None),
        "authors_sample": list(getattr(evidence, "authors_sample", []) or [])[:10],
        # among accounts whose follower count a source gave, the share with few (None: none gave one)
        "share_low_follower_authors": getattr(evidence, "share_low_follower_authors", None),
    }
    low = data["share_low_follower_authors"]
    followers = f"已知粉丝数的账号中低粉丝账号占 {low:.0%}；" if low is not None else ""
    message = (
        f"相似内容在短时间内由多个账号发布：{data['posts']} 条近似帖子，{data['distinct_authors']} 个账号，"
        f"{int(data['window_seconds'] or 0) // 60} 分钟内。{followers}仅供人工研判，不构成结论。"
    )
    add_event(session, incident, "coordination", message, at=now, data=data)
