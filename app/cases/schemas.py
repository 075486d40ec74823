"""Bodies for the case library."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

Tag = str


def _clean_tags(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    tags = [" ".join(tag.split()) for tag in value]
    if any(not tag or len(tag) > 50 for tag in tags):
        raise ValueError("每个标签应为 1–50 个字符")
    return list(dict.fromkeys(tags))


class CaseCreate(BaseModel):
    """Turn a resolved incident into a case."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "outcome": "2 小时内发布声明并启动检测，负面占比 6 小时后回落到 10% 以下",
                    "lessons": "首次声明应更早；客服口径需与公关同步",
                    "summary": "某车型刹车失灵传闻在微博集中扩散，媒体跟进报道",
                    "tags": ["刹车", "产品质量", "微博"],
                }
            ]
        },
    )

    outcome: str = Field(min_length=1, max_length=20_000)
    lessons: str = Field(min_length=1, max_length=20_000)
    summary: str | None = Field(default=None, max_length=20_000)
    title: str | None = Field(default=None, min_length=1, max_length=500)
    tags: list[Tag] = Field(default_factory=list, max_length=30)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return _clean_tags(value) or []


class CaseUpdate(BaseModel):
    """Fields of a case that may change."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=500)
    summary: str | None = Field(default=None, max_length=20_000)
    outcome: str | None = Field(default=None, min_length=1, max_length=20_000)
    lessons: str | None = Field(default=None, min_length=1, max_length=20_000)
    tags: list[Tag] | None = Field(default=None, max_length=30)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return _clean_tags(value)


class CaseSummary(BaseModel):
    """A case in a list."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: int | None
    topic_id: int | None
    title: str
    grade: str
    grade_label: str = ""
    summary: str
    outcome: str
    lessons: str
    tags: list[str]
    created_by: str
    created_at: datetime
    updated_at: datetime


class CaseRead(CaseSummary):
    """A case with its timeline snapshot."""

    timeline: dict[str, Any]
