"""Request and response bodies for sources."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.masking import redact


class SourceCreate(BaseModel):
    """A new source; `options` depend on the kind (see docs/SOURCES.md)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "微博关键词-某品牌",
                    "kind": "rss",
                    "url": "https://rsshub.example.org/weibo/keyword/某品牌",
                    "interval_seconds": 300,
                    "options": {},
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=20)
    url: str | None = Field(default=None, max_length=2000)
    interval_seconds: int = Field(default=300, ge=1, le=7 * 86400)
    options: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


class SourceUpdate(BaseModel):
    """Fields that may change on an existing source."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    url: str | None = Field(default=None, max_length=2000)
    interval_seconds: int | None = Field(default=None, ge=1, le=7 * 86400)
    options: dict[str, Any] | None = None
    enabled: bool | None = None


class SourceRead(BaseModel):
    """A source with its health; credentials inside options are never returned."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    url: str | None
    interval_seconds: int
    options: dict[str, Any]
    enabled: bool
    demo: bool
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_status: str | None
    last_error: str | None
    consecutive_failures: int
    next_run_at: datetime | None
    created_at: datetime

    @field_validator("options", mode="after")
    @classmethod
    def _redact(cls, value: dict[str, Any]) -> dict[str, Any]:
        return redact(value)  # type: ignore[no-any-return]


class RunSummary(BaseModel):
    """The outcome of one collection run."""

    source_id: int
    source: str
    status: str = Field(description="ok, not_modified or error")
    new: int = 0
    duplicates: int = 0
    not_modified: bool = False
    error: str | None = None
    warnings: list[str] = Field(default_factory=list)
    duration_ms: int = 0
