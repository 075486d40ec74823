"""Channel building blocks: requests, delivery results, config models and the `ChannelProvider` base.

A channel is pure on one side and one-shot on the other:

    Notice ─render(notice, config, now=…)─► [ChannelRequest, …] ─send()─► DeliveryResult
                                                              └─ classify(kind, status, headers, body)

Retries, backoff and pacing belong to the outbox dispatcher; no channel loops on its own. Render at
each attempt (not once at enqueue time): DingTalk and Feishu signatures expire after one hour.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from app.channels.notice import (  # noqa: F401  (re-exported: the notice model is part of the base API)
    Notice,
    NoticePost,
    make_digest,
)
from app.channels.report_schedule import ReportSchedule

MENTION_PATTERN = re.compile(r"^(@all|\+?\d{5,20}|[A-Za-z0-9_.\-]{1,64})$")
MOBILE_PATTERN = re.compile(r"^\+?\d{5,20}$")


def dump_json(payload: Any) -> bytes:
    """Compact UTF-8 JSON, the exact bytes that are measured, signed and sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class ChannelRequest:
    """One HTTP request a channel wants sent; `content` (raw bytes) wins over `json`."""

    kind: str
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None

    def body_bytes(self) -> bytes:
        """The exact request body."""
        return self.content if self.content is not None else dump_json(self.json)

    @property
    def safe_url(self) -> str:
        """Scheme and host only: webhook URLs carry their credential in the path or query."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}/…"


class Outcome(StrEnum):
    """How a delivery attempt ended, as the dispatcher should act on it."""

    OK = "ok"
    RETRY = "retry"  # network error, timeout, 5xx, 429: back off and retry
    RATE_LIMITED = "rate_limited"  # vendor rate-limit code: wait at least retry_after, keep queued
    PERMANENT = "permanent"  # bad key / signature / config, other 4xx, 410: alert the operator
    TOO_LARGE = "too_large"  # vendor size code: render smaller (split/trim), never resend as-is


@dataclass(frozen=True)
class DeliveryResult:
    """The judged outcome of one attempt, with the vendor's own code and message."""

    outcome: Outcome
    retry_after: float | None = None
    vendor_code: int | str | None = None
    vendor_message: str | None = None
    http_status: int | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        """True when the vendor accepted the message."""
        return self.outcome is Outcome.OK

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict for the outbox attempt log."""
        return {
            "outcome": self.outcome.value,
            "retry_after": self.retry_after,
            "vendor_code": self.vendor_code,
            "vendor_message": self.vendor_message,
            "http_status": self.http_status,
            "detail": self.detail,
        }


VendorRules = Mapping[int, tuple[Outcome, float | None]]


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or HTTP date) or Feishu's `x-ogw-ratelimit-reset`."""
    lowered = {key.lower(): value for key, value in headers.items()}
    for name in ("retry-after", "x-ogw-ratelimit-reset"):
        value = lowered.get(name, "").strip()
        if not value:
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            continue
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return None


def classify_http(
    status_code: int, headers: Mapping[str, str], *, now: datetime | None = None
) -> DeliveryResult | None:
    """Judge the HTTP status alone; None for 2xx (the vendor body decides)."""
    if 200 <= status_code < 300:
        return None
    retry_after = parse_retry_after(headers, now=now)
    if status_code in (408, 425, 429) or status_code >= 500:
        return DeliveryResult(Outcome.RETRY, retry_after=retry_after, http_status=status_code)
    if status_code == 413:
        return DeliveryResult(Outcome.TOO_LARGE, http_status=status_code)
    return DeliveryResult(Outcome.PERMANENT, http_status=status_code)


def parse_json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def classify_code(
    status_code: int,
    headers: Mapping[str, str],
    code: int | None,
    message: str | None,
    rules: VendorRules,
    *,
    now: datetime | None = None,
) -> DeliveryResult:
    """Judge a chat vendor's reply: success is `code == 0` on 2xx, never the HTTP status alone."""
    if code is not None and code in rules:
        outcome, floor = rules[code]
        header_wait = parse_retry_after(headers, now=now)
        wait = None
        if outcome is Outcome.RATE_LIMITED:
            wait = max(w for w in (floor, header_wait, 0.0) if w is not None)
        return DeliveryResult(outcome, wait, code, message, status_code)
    judged = classify_http(status_code, headers, now=now)
    if judged is not None:
        return replace(judged, vendor_code=code, vendor_message=message)
    if code == 0:
        return DeliveryResult(Outcome.OK, vendor_code=0, vendor_message=message, http_status=status_code)
    if code is None:
        return DeliveryResult(Outcome.PERMANENT, http_status=status_code, detail="unexpected response body")
    return DeliveryResult(Outcome.PERMANENT, None, code, message, status_code, detail="unknown vendor code")


@dataclass(frozen=True)
class Pacing:
    """Client-side send budget for one destination."""

    per_minute: int
    per_second: int | None = None


class ChannelConfig(BaseModel):
    """Settings every channel shares; kinds subclass it with their own options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    secret: SecretStr | None = None
    mention: list[str] = Field(default_factory=list, max_length=20)
    rate_per_minute: int | None = Field(default=None, ge=1, le=6000)
    max_messages: int = Field(default=1, ge=1, le=5)
    max_posts: int = Field(default=5, ge=0, le=50)
    reports: ReportSchedule | None = None  # scheduled 舆情简报 (app/channels/report_schedule.py)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be an http(s) URL")
        return value

    @field_validator("mention")
    @classmethod
    def _mention_ids(cls, value: list[str]) -> list[str]:
        for item in value:
            if not MENTION_PATTERN.match(item):
                raise ValueError(f"mention {item!r} is not a user id, a mobile number or @all")
        return value

    def secret_value(self) -> str | None:
        """The secret in clear text (for signing), or None."""
        return self.secret.get_secret_value() if self.secret else None

    def to_storage(self) -> dict[str, Any]:
        """JSON-ready dict with the secret revealed, for the encrypted/config column."""
        data = self.model_dump(mode="json")
        data["secret"] = self.secret_value()
        return data


ConfigT = TypeVar("ConfigT", bound=ChannelConfig)


class ChannelProvider(ABC, Generic[ConfigT]):
    """One alert channel kind: a config model, a pure `render` and a vendor-aware `classify`."""

    kind: ClassVar[str]
    label: ClassVar[str]
    config_model: ClassVar[type[ChannelConfig]]
    rate_per_minute: ClassVar[int]
    rate_per_second: ClassVar[int | None] = None
    accepts_reports: ClassVar[bool] = True  # False: `options.reports` is refused, no report is queued

    def parse_config(self, raw: Mapping[str, Any]) -> ConfigT:
        """Validate a stored/API config dict into this kind's config model."""
        return self.config_model.model_validate(dict(raw))  # type: ignore[return-value]

    def address_url(self, config: ConfigT) -> str:
        """The URL whose host the address guard (SSRF check) judges when the channel is saved."""
        return config.url

    def pacing(self, config: ConfigT) -> Pacing:
        """Send budget for a destination: the config override or the vendor default."""
        return Pacing(config.rate_per_minute or self.rate_per_minute, self.rate_per_second)

    @abstractmethod
    def render(self, notice: Notice, config: ConfigT, *, now: datetime) -> list[ChannelRequest]:
        """Build the request(s) for a notice; pure (time comes from `now`)."""

    @abstractmethod
    def classify(
        self, status_code: int, headers: Mapping[str, str], body: bytes, *, now: datetime | None = None
    ) -> DeliveryResult:
        """Judge one response as this vendor means it."""
