"""Response bodies of a topic's window as its posts say it: keywords, burst terms and clusters."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


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
