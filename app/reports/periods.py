"""Report periods: a day or a week in China time (Asia/Shanghai, UTC+8, no daylight saving)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

from app.core.errors import BadRequest

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
PERIODS = ("day", "week")
WEEKDAYS = "一二三四五六日"
EARLIEST, LATEST = date(1970, 1, 1), date(2999, 12, 31)


@dataclass(frozen=True)
class Window:
    """A report window: [start, end) in UTC, its China-time label and its chart step."""

    period: str
    start: datetime
    end: datetime
    step: timedelta
    label: str

    def china(self, moment: datetime) -> datetime:
        """A UTC moment in China time."""
        return moment.astimezone(CHINA_TZ)

    def buckets(self) -> list[datetime]:
        """Chart bucket starts (UTC) from start to end."""
        count = int((self.end - self.start) / self.step)
        return [self.start + self.step * index for index in range(count)]


def china_today(now: datetime) -> date:
    """Today's date in China."""
    return now.astimezone(CHINA_TZ).date()


def parse_date(value: str | None) -> date | None:
    """`YYYY-MM-DD` as a date, or None; a bad value is a BadRequest."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"日期格式应为 YYYY-MM-DD，收到 {value!r}") from None
    if not EARLIEST <= day <= LATEST:
        raise BadRequest(f"日期应在 {EARLIEST} 与 {LATEST} 之间")
    return day


def window(period: str, day: date | None, *, now: datetime) -> Window:
    """The report window for `period` containing China-time `day` (default: today in China).

    A day runs 00:00–24:00 China time with hourly bars; a week runs Monday 00:00 to the next
    Monday 00:00 China time with daily bars.
    """
    if period not in PERIODS:
        raise BadRequest(f"周期只能是 {'、'.join(PERIODS)}，收到 {period!r}")
    day = day or china_today(now)
    if period == "day":
        start_local = datetime.combine(day, time(), CHINA_TZ)
        label = f"{day.isoformat()}（星期{WEEKDAYS[day.weekday()]}）"
        return Window(
            "day",
            start_local.astimezone(UTC),
            (start_local + timedelta(days=1)).astimezone(UTC),
            timedelta(hours=1),
            label,
        )
    monday = day - timedelta(days=day.weekday())
    start_local = datetime.combine(monday, time(), CHINA_TZ)
    sunday = monday + timedelta(days=6)
    label = f"{monday.isoformat()} 至 {sunday.isoformat()}"
    return Window(
        "week",
        start_local.astimezone(UTC),
        (start_local + timedelta(days=7)).astimezone(UTC),
        timedelta(days=1),
        label,
    )
