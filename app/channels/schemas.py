"""Request and response bodies for channels, channel tests and the delivery log."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from analysis.grading import Grade
from app.core.vocab import DeliveryStatus

CLOCK_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"


class QuietHours(BaseModel):
    """A daily window (local time) in which notices below 严重 wait until the window ends."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(pattern=CLOCK_PATTERN, examples=["22:00"])
    end: str = Field(pattern=CLOCK_PATTERN, examples=["08:00"])
    timezone: str = Field(default="Asia/Shanghai", max_length=64)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"未知的时区 {value!r}，例如 Asia/Shanghai") from None
        return value

    @model_validator(mode="after")
    def _non_empty(self) -> QuietHours:
        if time.fromisoformat(self.start) == time.fromisoformat(self.end):
            raise ValueError("免打扰的开始和结束时间不能相同")
        return self


class ChannelCreate(BaseModel):
    """A new channel; `options` holds kind-specific settings (style, keyword, max_messages…) and the
    report schedule `reports` ({"daily": "08:30", "weekly": "MON 09:00", "topics": [..]})."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "公关部企业微信群",
                    "kind": "wecom",
                    "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=xxxxxxxx",
                    "min_grade": "persistent",
                    "quiet_hours": {"start": "22:00", "end": "08:00", "timezone": "Asia/Shanghai"},
                    "mention": ["@all"],
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=20)
    url: str = Field(min_length=1, max_length=2000)
    secret: str | None = Field(default=None, max_length=500)
    topics: list[int] | None = Field(default=None, description="topic ids; null means every topic")
    min_grade: Grade = Grade.GENERAL
    quiet_hours: QuietHours | None = None
    mention: list[str] = Field(default_factory=list, max_length=20)
    options: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


class ChannelUpdate(BaseModel):
    """Fields that may change on a channel (the kind may not); `secret: null` removes the secret."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    secret: str | None = Field(default=None, max_length=500)
    topics: list[int] | None = None
    min_grade: Grade | None = None
    quiet_hours: QuietHours | None = None
    mention: list[str] | None = Field(default=None, max_length=20)
    options: dict[str, Any] | None = None
    enabled: bool | None = None


class ChannelRead(BaseModel):
    """A channel as the API shows it: the secret never, credentials in the URL masked."""

    id: int
    name: str
    kind: str
    label: str
    url: str = Field(description="the URL with credentials masked")
    has_secret: bool
    topics: list[int] | None
    min_grade: str
    quiet_hours: dict[str, Any] | None
    mention: list[str]
    options: dict[str, Any]
    enabled: bool
    healthy: bool
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class ChannelTestResult(BaseModel):
    """The vendor's answer to a test message."""

    ok: bool
    outcome: str = Field(description="ok, retry, rate_limited, permanent or too_large")
    http_status: int | None
    vendor_code: str | None
    vendor_message: str | None
    detail: str | None = None
    requests: int = Field(description="HTTP requests sent")
    message: str = Field(description="the answer in one Chinese line")


class AttemptRead(BaseModel):
    """One HTTP attempt of a delivery with the vendor's answer."""

    model_config = ConfigDict(from_attributes=True)

    at: datetime
    outcome: str
    http_status: int | None
    vendor_code: str | None
    vendor_message: str | None
    duration_ms: int


class DeliveryRead(BaseModel):
    """A notice on its way to one channel, with every attempt."""

    id: int
    notice_id: str
    notice_kind: str
    grade: str
    headline: str
    channel_id: int
    incident_id: int | None
    status: DeliveryStatus = Field(description="pending, delivered, failed or superseded")
    attempt_count: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    digest_of: list[int] | None
    attempts: list[AttemptRead]
