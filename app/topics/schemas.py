"""Request and response bodies for topics (监测方案)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

RULE_DESCRIPTION = (
    "Either a rule string such as `(蔚来 OR NIO) AND (刹车 OR 失灵) NOT 广告`, or the structured form "
    '`{"subject": [主体词], "region": [地域词], "event": [事件词], "exclude": [排除词]}`.'
)


class TopicCreate(BaseModel):
    """A new monitored topic."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "某品牌汽车", "rule": '(某品牌 OR "Brand X") AND (刹车 OR 召回 OR 自燃) NOT 广告'},
                {
                    "name": "某品牌-上海",
                    "rule": {
                        "subject": ["某品牌"],
                        "region": ["上海"],
                        "event": ["投诉"],
                        "exclude": ["招聘"],
                    },
                },
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    rule: str | dict[str, Any] = Field(description=RULE_DESCRIPTION)
    description: str = Field(default="", max_length=2000)
    enabled: bool = True
    critical_terms: list[str] = Field(default_factory=list, max_length=200)
    settings: dict[str, Any] = Field(default_factory=dict)


class TopicUpdate(BaseModel):
    """Fields that may change; a new rule re-tags stored posts in the background."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    rule: str | dict[str, Any] | None = Field(default=None, description=RULE_DESCRIPTION)
    description: str | None = Field(default=None, max_length=2000)
    enabled: bool | None = None
    critical_terms: list[str] | None = Field(default=None, max_length=200)
    settings: dict[str, Any] | None = None


class TopicRead(BaseModel):
    """A topic with its canonical rule."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    rule: Any
    rule_text: str = ""
    enabled: bool
    demo: bool
    critical_terms: list[str]
    settings: dict[str, Any]
    retag_pending: bool = False
    created_at: datetime
    updated_at: datetime


class PreviewRequest(BaseModel):
    """A rule to try against stored posts before saving it."""

    rule: str | dict[str, Any] = Field(description=RULE_DESCRIPTION)
    days: int = Field(default=7, ge=1, le=365)
    sample: int = Field(default=20, ge=0, le=200)


class PreviewPost(BaseModel):
    """A post the previewed rule matches."""

    id: int
    text: str
    published_at: datetime
    sentiment: str | None
    url: str | None


class PreviewResult(BaseModel):
    """How many stored posts of the last `days` days the rule matches, with a sample."""

    rule_text: str
    scanned: int
    matched: int
    sample: list[PreviewPost]
