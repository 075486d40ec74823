"""Response bodies of the analysts' read API: post pages, keywords, clusters, overview, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.posts.schemas import PostRead

_HOURLY_EXAMPLE: list[Any] = [40] * 23 + [160]
_POST_EXAMPLE: dict[str, Any] = {
    "id": 4211,
    "source_id": 3,
    "external_id": "4890123",
    "url": "https://weibo.com/1234567890/N1a2b3c",
    "title": None,
    "text": "某品牌新车刹车失灵，太吓人了[怒]",
    "author": "用户A",
    "platform": "weibo",
    "published_at": "2026-11-23T00:00:00Z",
    "collected_at": "2026-11-23T00:01:12Z",
    "engagement": {"reposts": 12, "comments": 30, "likes": 88},
    "sentiment": "negative",
    "sentiment_score": 0.08,
    "keywords": ["刹车", "失灵", "新车"],
    "cluster_id": None,
}


class ErrorDetail(BaseModel):
    """The inner part of the one error shape."""

    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["topic 7 not found"])
    details: Any = None


class ErrorResponse(BaseModel):
    """Every error: `{"error": {"code", "message", "details"}}`."""

    error: ErrorDetail


class PostPage(BaseModel):
    """One page of posts, newest first; pass `next_cursor` back as `cursor` for the next page."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"items": [_POST_EXAMPLE], "next_cursor": "WyIyMDI2LTExLTIzVDAwOjAwOjAwKzAwOjAwIiw0MjExXQ"}
            ]
        }
    )

    items: list[PostRead]
    next_cursor: str | None = Field(description="opaque; null on the last page")


class KeywordScore(BaseModel):
    """A window keyword: (window posts containing it) × IDF over the background window."""

    term: str
    score: float
    posts: int = Field(description="posts of the window whose keywords contain the term")


class BurstTermRead(BaseModel):
    """A term whose count in a recent 5-minute bucket is far above its own baseline."""

    term: str
    count: int
    baseline: float = Field(description="expected count in that bucket from the term's past rate")
    ratio: float
    score: float = Field(description="-log10 of the Poisson tail probability")
    bucket_start: datetime


class TopicKeywords(BaseModel):
    """Keywords of a topic's time window and the terms bursting at its end."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "topic_id": 1,
                    "start": "2026-11-22T00:00:00Z",
                    "end": "2026-11-23T00:00:00Z",
                    "background_start": "2026-11-16T00:00:00Z",
                    "posts": 420,
                    "background_posts": 2810,
                    "keywords": [{"term": "刹车", "score": 311.2, "posts": 160}],
                    "burst_terms": [
                        {
                            "term": "召回",
                            "count": 24,
                            "baseline": 0.9,
                            "ratio": 26.7,
                            "score": 21.4,
                            "bucket_start": "2026-11-22T23:50:00Z",
                        }
                    ],
                }
            ]
        }
    )

    topic_id: int
    start: datetime
    end: datetime
    background_start: datetime
    posts: int
    background_posts: int
    keywords: list[KeywordScore]
    burst_terms: list[BurstTermRead]


class ClusterRead(BaseModel):
    """A near-duplicate cluster: this story, N copies."""

    head_id: int = Field(description="id of the first post of the cluster; list it with /posts?cluster_id=")
    size: int
    authors: int
    sources: int
    negative: int
    first_seen: datetime
    last_seen: datetime
    sample_text: str
    sample_url: str | None


class TopicClusters(BaseModel):
    """The largest near-duplicate clusters of a topic's time window."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "topic_id": 1,
                    "start": "2026-11-22T00:00:00Z",
                    "end": "2026-11-23T00:00:00Z",
                    "clusters": [
                        {
                            "head_id": 4100,
                            "size": 37,
                            "authors": 29,
                            "sources": 2,
                            "negative": 35,
                            "first_seen": "2026-11-22T21:03:00Z",
                            "last_seen": "2026-11-22T23:41:00Z",
                            "sample_text": "某品牌新车刹车失灵，4S店拒不承认",
                            "sample_url": "https://weibo.com/1/abc",
                        }
                    ],
                }
            ]
        }
    )

    topic_id: int
    start: datetime
    end: datetime
    clusters: list[ClusterRead]


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


class AuditRead(BaseModel):
    """One audited change."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "at": "2026-11-23T08:00:00Z",
                    "actor": "ops-admin",
                    "action": "update",
                    "entity": "topic",
                    "entity_id": "1",
                    "details": {"rule": '(某品牌 OR "Brand X") AND 刹车'},
                }
            ]
        },
    )

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None
    details: Any


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
