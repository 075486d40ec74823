"""Request and response bodies for topics (监测方案), the overview and the side-by-side comparison."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_HOURLY_EXAMPLE: list[Any] = [40] * 23 + [160]
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


class TopicOverview(BaseModel):
    """A topic at a glance: current volume, negative share and open incidents."""

    topic_id: int
    name: str
    enabled: bool
    volume_last_5m: int = Field(description="posts in the current 5-minute bucket (still filling)")
    volume_last_hour: int = Field(description="posts in the current bucket and the 11 before it")
    negative_last_hour: int
    negative_share_last_hour: float
    volume_24h: int
    negative_share_24h: float
    hourly_24h: list[int] = Field(description="24 hourly totals, oldest first, ending with the current hour")
    open_incidents: int = Field(description="open or acknowledged incidents")
    highest_open_grade: str | None
    highest_open_grade_label: str | None
    makeup: TopicMakeup | None = Field(
        default=None, description="the last day's sentiment, platform and source splits"
    )


class FailingSource(BaseModel):
    """An enabled source whose last collection failed."""

    id: int
    name: str
    kind: str
    consecutive_failures: int
    last_error: str | None
    last_run_at: datetime | None
    last_success_at: datetime | None
    next_run_at: datetime | None


class SourceHealth(BaseModel):
    """Source health summary."""

    total: int
    enabled: int
    failing: list[FailingSource]


class Overview(BaseModel):
    """Every topic with its current volume and incidents, plus source health."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "generated_at": "2026-11-23T08:02:11Z",
                    "bucket_start": "2026-11-23T08:00:00Z",
                    "topics": [
                        {
                            "topic_id": 1,
                            "name": "某品牌汽车",
                            "enabled": True,
                            "volume_last_5m": 14,
                            "volume_last_hour": 160,
                            "negative_last_hour": 92,
                            "negative_share_last_hour": 0.575,
                            "volume_24h": 1302,
                            "negative_share_24h": 0.31,
                            "hourly_24h": _HOURLY_EXAMPLE,
                            "open_incidents": 1,
                            "highest_open_grade": "influential",
                            "highest_open_grade_label": "影响类",
                        }
                    ],
                    "sources": {
                        "total": 4,
                        "enabled": 4,
                        "failing": [
                            {
                                "id": 2,
                                "name": "微博关键词-某品牌",
                                "kind": "rss",
                                "consecutive_failures": 3,
                                "last_error": "HTTP 503",
                                "last_run_at": "2026-11-23T08:00:00Z",
                                "last_success_at": "2026-11-23T07:45:00Z",
                                "next_run_at": "2026-11-23T08:20:00Z",
                            }
                        ],
                    },
                }
            ]
        }
    )

    generated_at: datetime
    bucket_start: datetime
    topics: list[TopicOverview]
    sources: SourceHealth


class Split(BaseModel):
    """Posts of one part of a whole (a sentiment, a platform, a source)."""

    name: str
    posts: int


class TopicMakeup(BaseModel):
    """A topic over the last day: sentiment, platform and top-source splits; incidents by grade."""

    sentiment: list[Split]
    platforms: list[Split]
    top_sources: list[Split]
    incidents_7d: dict[str, int] = Field(description="incidents opened in the last 7 days, per grade")


class ComparedTopic(BaseModel):
    """One topic's series in a comparison, aligned with `Comparison.buckets`."""

    topic_id: int
    name: str
    total: list[int]
    negative: list[int]
    negative_share: list[float]
    share_of_voice: list[float] = Field(
        description="this topic's share of the compared topics' posts per bucket"
    )
    volume: int
    overall_share_of_voice: float


class Comparison(BaseModel):
    """2–5 topics on one time axis (竞品对比): volume, negative share and share of voice."""

    start: datetime
    end: datetime
    interval: str
    buckets: list[datetime]
    topics: list[ComparedTopic]


TopicOverview.model_rebuild()
