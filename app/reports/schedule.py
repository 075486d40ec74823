"""When a channel's 舆情简报 are due: the pure arithmetic of "which report is due now" over the schedule
a channel keeps in `options.reports` (`app/channels/report_schedule.py`).

A schedule says `daily: "08:30"` and/or `weekly: "MON 09:00"` in the channel's time zone (the
schedule's `timezone`, else the deployment's `YUQING_TIMEZONE`, China time by default). At each
scheduled moment the channel gets the report of the *previous complete* period: the daily report at
08:30 on 12-03 covers 12-02, the weekly report on Monday covers the week (Monday–Sunday) before.
`latest_due(...)` returns only the latest moment at or before now, so a scheduler that missed ticks
(a restart, a long outage) catches up once with the newest report, never once per missed day. The
stable notice id of each (channel, topic, period, day) is what makes the send idempotent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.channels.report_schedule import ReportSchedule, parse_clock, parse_weekly


@dataclass(frozen=True)
class DueReport:
    """One report that is due: its period, the China-time day it covers and its scheduled moment."""

    period: str  # "day" | "week"
    day: date  # a day inside the covered period (the day itself, or the week's Monday)
    scheduled_at: datetime  # the scheduled moment (aware)


def _latest_daily(clock: time, local_now: datetime) -> datetime:
    moment = datetime.combine(local_now.date(), clock, local_now.tzinfo)
    return moment if moment <= local_now else moment - timedelta(days=1)


def _latest_weekly(weekday: int, clock: time, local_now: datetime) -> datetime:
    days_back = (local_now.weekday() - weekday) % 7
    moment = datetime.combine(local_now.date() - timedelta(days=days_back), clock, local_now.tzinfo)
    return moment if moment <= local_now else moment - timedelta(days=7)


def latest_due(schedule: ReportSchedule, *, now: datetime, default_zone: str) -> list[DueReport]:
    """The latest scheduled report of each period at or before `now` (aware), with what it covers."""
    zone = ZoneInfo(schedule.timezone or default_zone)
    local_now = now.astimezone(zone)
    due = []
    if schedule.daily:
        moment = _latest_daily(parse_clock(schedule.daily), local_now)
        due.append(DueReport("day", moment.date() - timedelta(days=1), moment))
    if schedule.weekly:
        weekday, clock = parse_weekly(schedule.weekly)
        moment = _latest_weekly(weekday, clock, local_now)
        previous = moment.date() - timedelta(days=7)
        due.append(DueReport("week", previous - timedelta(days=previous.weekday()), moment))
    return due


def report_notice_id(*, channel_id: int, topic_id: int, period: str, day: date) -> str:
    """The stable notice id of one channel's report of one topic and period: the idempotency key."""
    name = f"yuqing-report:{channel_id}:{topic_id}:{period}:{day.isoformat()}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))
