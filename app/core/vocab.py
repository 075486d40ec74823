"""The app's vocabularies, one `StrEnum` each; the stored strings are the values.

The crisis grade is `analysis.grading.Grade` (the pure grading code needs it). Everything else that
is stored as a word — an incident's status, an alert's status, a notice's kind, a delivery's status —
is defined here and imported wherever it is written or compared: alerts, channels, schemas and the
vendor renderers.
"""

from __future__ import annotations

from enum import StrEnum


class IncidentStatus(StrEnum):
    """An incident's lifecycle: open → acknowledged → resolved."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"

    @property
    def label(self) -> str:
        """未处理 / 已确认 / 已解除: the words the dashboard shows (app/web/static/js/format.js `STATUS`)."""
        return _INCIDENT_LABELS[self]


_INCIDENT_LABELS = {
    IncidentStatus.OPEN: "未处理",
    IncidentStatus.ACKNOWLEDGED: "已确认",
    IncidentStatus.RESOLVED: "已解除",
}
ACTIVE_STATUSES: tuple[IncidentStatus, ...] = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED)


class AlertStatus(StrEnum):
    """What became of an alert's notice: sent on (`active`) or held by a silence (`silenced`)."""

    ACTIVE = "active"
    SILENCED = "silenced"


class NoticeKind(StrEnum):
    """Why a notice is written."""

    INCIDENT_OPENED = "incident_opened"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    REMINDER = "reminder"
    TEST = "test"
    DIGEST = "digest"
    REPORT = "report"  # a scheduled 舆情简报 (app/reports/delivery.py), not about one incident

    @property
    def label(self) -> str:
        """The message title in Chinese (舆情预警, 舆情升级…)."""
        return _NOTICE_LABELS[self]


_NOTICE_LABELS = {
    NoticeKind.INCIDENT_OPENED: "舆情预警",
    NoticeKind.ESCALATED: "舆情升级",
    NoticeKind.RESOLVED: "舆情已解除",
    NoticeKind.REMINDER: "舆情提醒",
    NoticeKind.TEST: "预警通道测试",
    NoticeKind.DIGEST: "舆情汇总",
    NoticeKind.REPORT: "舆情简报",
}


class DeliveryStatus(StrEnum):
    """A delivery: pending → delivered | failed | superseded (a reminder overtaken by newer news)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPERSEDED = "superseded"
