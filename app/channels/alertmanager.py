"""Prometheus Alertmanager: POST postable alerts to `<url>/api/v2/alerts`.

Identity: Alertmanager identifies an alert by its label set, and the labels include the grade and
severity, so an incident has one alert per grade. Every post therefore carries the current grade's
alert (firing, `endsAt = now + alert_ttl_minutes`) plus the incident's other grades ended at `now`,
so an escalation closes the alert of the previous grade. A resolved notice ends all of them. We do
not re-send like Prometheus does, so firing alerts carry an explicit `endsAt` (default 24 h,
refreshed by reminders) instead of Alertmanager's 5-minute `resolve_timeout`.
Size: the description annotation is plain text trimmed to 4000 bytes.
Reports: a scheduled 舆情简报 is not an alert (it would fire and page like one), so an Alertmanager
channel refuses `options.reports` and the report job never queues one for it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field, field_validator

from analysis.grading import Grade
from app.channels.base import (
    ChannelConfig,
    ChannelProvider,
    ChannelRequest,
    DeliveryResult,
    Notice,
    Outcome,
    classify_http,
    dump_json,
)
from app.channels.markup import PlainMarkup, safe_url
from app.channels.message import compose, paginate, utf8_len
from app.core.vocab import IncidentStatus, NoticeKind

DESCRIPTION_LIMIT = 4000
SEVERITY = {
    Grade.GENERAL: "info",
    Grade.PERSISTENT: "warning",
    Grade.INFLUENTIAL: "warning",
    Grade.SEVERE: "critical",
}
FIRING_KINDS = (NoticeKind.INCIDENT_OPENED, NoticeKind.ESCALATED, NoticeKind.REMINDER, NoticeKind.TEST)


class AlertmanagerConfig(ChannelConfig):
    """Alertmanager base URL; `secret` is a bearer token, or the basic-auth password with `username`."""

    username: str | None = None
    alert_ttl_minutes: int = Field(default=24 * 60, ge=5, le=7 * 24 * 60)

    @field_validator("reports")
    @classmethod
    def _no_reports(cls, value: object) -> None:
        if value is not None:
            raise ValueError("Alertmanager 只接收告警，不能定时发送舆情简报，请改用聊天或邮件通道")
        return None


def rfc3339(moment: datetime) -> str:
    """UTC timestamp as Alertmanager expects it."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def labels(notice: Notice, grade: str) -> dict[str, str]:
    """The identifying label set of a notice's alert for one grade."""
    test = notice.incident_id is None
    return {
        "alertname": "YuqingTest" if test else "YuqingIncident",
        "incident_id": notice.id if test else str(notice.incident_id),
        "topic": PlainMarkup().text(notice.topic, 100),
        "grade": grade,
        "severity": SEVERITY[Grade(grade)],
        "service": "yuqing",
    }


def alert_annotations(notice: Notice) -> dict[str, str]:
    """Summary (the headline), a plain-text description ≤ 4000 bytes, and the incident links."""
    markup = PlainMarkup()
    composed = compose(notice, markup)
    frame = [composed.title, *composed.head]
    pages = paginate(
        composed.body,
        size=lambda page: utf8_len("\n".join(frame + page)),
        limit=DESCRIPTION_LIMIT,
    )
    result = {
        "summary": markup.text(notice.headline) or composed.title,
        "title": composed.title,
        "description": "\n".join(frame + pages[0]),
        "grade_label": notice.grade_label,
    }
    for key, url in (("incident_url", notice.incident_url), ("api_url", notice.api_url)):
        if safe_url(url):
            result[key] = safe_url(url) or ""
    return result


def postable_alerts(notice: Notice, *, now: datetime, ttl: timedelta) -> list[dict[str, Any]]:
    """The alerts one notice posts: its grade firing (or ended) and the other grades ended."""
    if notice.kind == NoticeKind.DIGEST:
        return [alert for item in notice.items for alert in postable_alerts(item, now=now, ttl=ttl)]
    if notice.kind == NoticeKind.REPORT:  # a report is not an alert (and is never queued here)
        return []
    firing = notice.kind in FIRING_KINDS and notice.status != IncidentStatus.RESOLVED
    full = alert_annotations(notice)
    superseded = {**full, "summary": f"已调整为{notice.grade_label}级", "description": full["title"]}
    alerts = []
    for grade in Grade:
        current = firing and grade == notice.grade
        if not current and notice.incident_id is None:
            continue
        alert: dict[str, Any] = {
            "labels": labels(notice, grade),
            "annotations": full if current or not firing else superseded,
            "startsAt": rfc3339(min(notice.created_at, now)),
            "endsAt": rfc3339(now + ttl if current else now),
        }
        if safe_url(notice.incident_url):
            alert["generatorURL"] = safe_url(notice.incident_url)
        alerts.append(alert)
    return alerts


def _auth_headers(config: AlertmanagerConfig) -> dict[str, str]:
    secret = config.secret_value()
    if not secret:
        return {}
    if config.username:
        token = base64.b64encode(f"{config.username}:{secret}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}
    return {"Authorization": f"Bearer {secret}"}


class AlertmanagerChannel(ChannelProvider[AlertmanagerConfig]):
    """Prometheus Alertmanager (API v2)."""

    kind = "alertmanager"
    label = "Alertmanager"
    config_model = AlertmanagerConfig
    rate_per_minute = 600
    accepts_reports = False  # reports are not alerts: `options.reports` is refused

    def render(self, notice: Notice, config: AlertmanagerConfig, *, now: datetime) -> list[ChannelRequest]:
        """One POST of the notice's postable alerts."""
        alerts = postable_alerts(notice, now=now, ttl=timedelta(minutes=config.alert_ttl_minutes))
        headers = {"Content-Type": "application/json", **_auth_headers(config)}
        url = config.url.rstrip("/") + "/api/v2/alerts"
        return [ChannelRequest(self.kind, "POST", url, headers, json=alerts, content=dump_json(alerts))]

    def classify(
        self, status_code: int, headers: Mapping[str, str], body: bytes, *, now: datetime | None = None
    ) -> DeliveryResult:
        """2xx ok (Alertmanager answers 200 with an empty body); 400 permanent; 5xx/429 retry."""
        judged = classify_http(status_code, headers, now=now)
        if judged is None:
            return DeliveryResult(Outcome.OK, http_status=status_code)
        message = body.decode("utf-8", errors="replace").strip()[:300] or None
        return DeliveryResult(judged.outcome, judged.retry_after, None, message, status_code)
