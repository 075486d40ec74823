"""The 舆情简报 schedule a channel keeps in `options.reports`: daily and/or weekly, validated here with
the channel's options; when a report is due is `app/reports/schedule.py`."""

from __future__ import annotations

import re
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_WEEKLY = re.compile(r"^([A-Za-z]{3})\s+(\S+)$")


def parse_clock(value: str) -> time:
    """`HH:MM` (24-hour) as a time; a ValueError in Chinese otherwise."""
    match = _CLOCK.match(value.strip())
    if not match:
        raise ValueError(f"时间应为 HH:MM（24 小时制），例如 08:30，收到 {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def parse_weekly(value: str) -> tuple[int, time]:
    """`MON 09:00` as (weekday 0–6, time); a ValueError in Chinese otherwise."""
    match = _WEEKLY.match(value.strip())
    if not match or match.group(1).upper() not in DAYS:
        days = "/".join(DAYS)
        raise ValueError(f"每周时间应为「星期 HH:MM」，星期取 {days}，例如 MON 09:00，收到 {value!r}")
    return DAYS.index(match.group(1).upper()), parse_clock(match.group(2))


class ReportSchedule(BaseModel):
    """A channel's report schedule (`options.reports`): daily and/or weekly, for some or all topics."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    daily: str | None = Field(default=None, examples=["08:30"], description="HH:MM: yesterday's report")
    weekly: str | None = Field(
        default=None, examples=["MON 09:00"], description="DAY HH:MM: the previous week's report"
    )
    topics: list[int] | None = Field(
        default=None, max_length=50, description="topic ids; null: the channel's topics (all if none)"
    )
    timezone: str | None = Field(default=None, max_length=64, description="IANA zone; null: YUQING_TIMEZONE")

    @field_validator("daily")
    @classmethod
    def _daily(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parse_clock(value)
        return value.strip()

    @field_validator("weekly")
    @classmethod
    def _weekly(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        day, moment = parse_weekly(value)
        return f"{DAYS[day]} {moment:%H:%M}"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"未知的时区 {value!r}，例如 Asia/Shanghai") from None
        return value

    @field_validator("topics")
    @classmethod
    def _topic_ids(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(item < 1 for item in value):
            raise ValueError("简报话题应为正整数的话题 id")
        return value

    @model_validator(mode="after")
    def _something(self) -> ReportSchedule:
        if self.daily is None and self.weekly is None:
            raise ValueError("简报计划至少需要 daily（如 08:30）或 weekly（如 MON 09:00）之一")
        return self
