"""Notification policy, decided when a notice is written: `decide` is the one place that says whether
a notice goes to a channel, and when.

In order:
  1. routing: the channel is enabled and follows the notice's topic;
  2. silence: a silence covers the topic and the notice's grade at this moment. Nothing is sent and
     nothing is kept on the incident: its next notice (an escalation, the resolution, a reminder) is
     judged against the silences of that notice's own moment;
  3. grade filter: the grade reaches the channel's `min_grade`, except that a resolution always
     reaches a channel that heard about the incident;
  4. repetition: a reminder is not queued while earlier news of the incident still waits there;
  5. timing: quiet hours postpone all but 严重 to the end of the window; the minimum interval per
     incident and channel postpones all but escalations.

The outbox (app/channels/outbox.py) writes what `decide` says; reminders (app/channels/reminders.py)
are written through the outbox, so they are judged the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analysis.grading import Grade, grade_rank
from app.alerts.models import Silence
from app.alerts.silences import covering_silence
from app.channels.models import ChannelRow
from app.core.vocab import DeliveryStatus, NoticeKind

log = logging.getLogger(__name__)


class Verdict(StrEnum):
    """What the policy says about one notice on one channel."""

    SEND = "send"
    NOT_ROUTED = "not_routed"  # channel disabled or not following the topic
    SILENCED = "silenced"
    BELOW_GRADE = "below_grade"
    REPEAT = "repeat"  # a reminder while earlier news still waits


@dataclass(frozen=True)
class Earlier:
    """An earlier delivery of the same incident on the same channel, as the policy sees it.

    `replaceable`: a pending reminder nobody is sending, which news about to be queued replaces.
    """

    status: DeliveryStatus
    at: datetime  # delivered at, or due at while pending
    replaceable: bool = False


@dataclass(frozen=True)
class Decision:
    """The verdict for one channel; `due` when it is sent, `silence` when one holds."""

    verdict: Verdict
    due: datetime | None = None
    silence: Silence | None = None

    @property
    def send(self) -> bool:
        """True when the notice is queued for the channel."""
        return self.verdict is Verdict.SEND


def quiet_until(quiet_hours: Mapping[str, Any] | None, now: datetime) -> datetime | None:
    """End of the quiet window that contains `now` (UTC), or None outside quiet hours."""
    if not quiet_hours:
        return None
    zone = ZoneInfo(quiet_hours.get("timezone") or "Asia/Shanghai")
    start, end = time.fromisoformat(quiet_hours["start"]), time.fromisoformat(quiet_hours["end"])
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start == end:
        return None
    if start < end:
        inside, end_day = start <= clock < end, local.date()
    else:
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(now.tzinfo)


def routed(channel: ChannelRow, *, topic_id: int | None) -> bool:
    """Whether the channel is enabled and follows the topic."""
    return channel.enabled and (channel.topics is None or topic_id in channel.topics)


def _quiet_due(channel: ChannelRow, now: datetime) -> datetime:
    try:
        return quiet_until(channel.quiet_hours, now) or now
    except (KeyError, ValueError, ZoneInfoNotFoundError):  # a hand-edited window must not block alerts
        log.warning("channel %s has unusable quiet hours %r; ignored", channel.id, channel.quiet_hours)
        return now


def decide(
    *,
    kind: NoticeKind,
    grade: str,
    topic_id: int | None,
    channel: ChannelRow,
    silences: Sequence[Silence],
    informed: bool,
    earlier: Sequence[Earlier],
    now: datetime,
    min_interval: timedelta,
) -> Decision:
    """Whether and when a notice of this kind and grade goes to `channel`, judged at `now`."""
    if not routed(channel, topic_id=topic_id):
        return Decision(Verdict.NOT_ROUTED)
    silence = covering_silence(silences, topic_id=topic_id, grade=grade, now=now)
    if silence is not None:
        return Decision(Verdict.SILENCED, silence=silence)
    resolution_for_informed = kind == NoticeKind.RESOLVED and informed
    if not resolution_for_informed and grade_rank(grade) < grade_rank(channel.min_grade or Grade.GENERAL):
        return Decision(Verdict.BELOW_GRADE)
    if kind == NoticeKind.REMINDER and any(e.status == DeliveryStatus.PENDING for e in earlier):
        return Decision(Verdict.REPEAT)
    due = now if grade == Grade.SEVERE else _quiet_due(channel, now)
    kept = [e for e in earlier if not e.replaceable]
    if kind != NoticeKind.ESCALATED and kept and min_interval:
        due = max(due, max(e.at for e in kept) + min_interval)
    return Decision(Verdict.SEND, due=due)
