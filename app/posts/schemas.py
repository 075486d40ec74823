"""Request and response bodies for posts: push ingest and reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from analysis.sentiment.labels import SentimentLabel

MAX_PUSH_POSTS = 1000


class PushPost(BaseModel):
    """One pushed post; validated on its own so a bad post is rejected alone."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = Field(default=None, max_length=512)
    text: str = Field(min_length=1, max_length=100_000)
    title: str | None = Field(default=None, max_length=2000)
    author: str | None = Field(default=None, max_length=255)
    author_id: str | None = Field(default=None, max_length=255, description="作者在平台上的账号 ID")
    author_followers: int | None = Field(default=None, description="作者的粉丝数（≥ 0）")
    author_verified: bool | None = Field(default=None, description="作者是否为认证账号（加 V）")
    url: str | None = Field(default=None, max_length=4000)
    published_at: datetime | None = None
    platform: str | None = Field(default=None, max_length=32)
    engagement: dict[str, int] = Field(default_factory=dict)

    @field_validator("id", mode="before")
    @classmethod
    def _id_to_str(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("id must be a string or a number")
        return str(value) if isinstance(value, int) else value

    @field_validator("author_id", mode="before")
    @classmethod
    def _author_id_to_str(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("author_id 须为字符串或整数")
        return str(value) if isinstance(value, int) else value

    @field_validator("author_followers", mode="before")
    @classmethod
    def _followers_count(cls, value: Any) -> Any:
        if value is None:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"粉丝数须为非负整数，收到 {value!r}")
        if value < 0:
            raise ValueError(f"粉丝数不能为负数，收到 {value}")
        return value

    @field_validator("author_verified", mode="before")
    @classmethod
    def _verified_bool(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, bool):
            raise ValueError(f"认证状态须为 true 或 false，收到 {value!r}")
        return value

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is blank")
        return value

    @field_validator("published_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value if value is None else value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:00:00-08:00 is after the last representable instant
            raise ValueError(
                f"发布时间 {value.isoformat()} 换算为 UTC 后超出可表示的范围（公元 1 年至 9999 年）"
            ) from None


class PushRequest(BaseModel):
    """A batch of posts for a push source (created on first use)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "source": "crm-export",
                    "posts": [
                        {
                            "id": "4890123",
                            "text": "某品牌新车刹车失灵，太吓人了[怒]",
                            "author": "用户A",
                            "author_id": "1234567890",
                            "author_followers": 52000,
                            "author_verified": False,
                            "url": "https://weibo.com/1234567890/N1a2b3c",
                            "published_at": "2026-11-23T08:00:00+08:00",
                            "engagement": {"reposts": 12, "comments": 30, "likes": 88},
                        }
                    ],
                }
            ]
        }
    )

    source: str = Field(min_length=1, max_length=200)
    posts: list[Any] = Field(max_length=MAX_PUSH_POSTS)


class RejectedPost(BaseModel):
    """Why one post of a batch was rejected."""

    index: int
    error: str


class AdjustedPost(BaseModel):
    """One value of an accepted post that was changed on the way in, and why (in Chinese)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    index: int = Field(description="Position of the post in the batch")
    field: str = Field(description="The field changed, e.g. `published_at` or `engagement.likes`")
    original: str = Field(alias="from", description="The value as sent")
    value: str = Field(alias="to", description="The value stored")
    reason: str


class PushResult(BaseModel):
    """Outcome of a push: accepted (new), duplicates and per-post rejections."""

    accepted: int = Field(description="New posts taken: stored, or durably queued for a worker")
    duplicates: int = Field(description="Posts already stored for this source (or repeated in the batch)")
    rejected: list[RejectedPost]
    queued: int = Field(
        default=0,
        description="Of the accepted posts, how many wait for a worker's analysis (API processes "
        "that queue pushes); 0 when they were analysed and stored before this answer",
    )
    adjusted: list[AdjustedPost] = Field(
        default_factory=list,
        description="Values of accepted posts changed on the way in (e.g. a publication time in the "
        "future set to the receipt time), one entry per change",
    )


class PostRead(BaseModel):
    """A stored post with its analysis."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    source_id: int
    external_id: str | None
    url: str | None
    title: str | None
    text: str
    author: str | None
    author_id: str | None = None
    author_followers: int | None = None
    author_verified: bool | None = None
    platform: str | None
    published_at: datetime
    collected_at: datetime
    engagement: dict[str, Any]
    sentiment: str | None
    sentiment_score: float | None
    sentiment_model: str | None = Field(
        default=None, description="the model's label when an analyst corrected `sentiment` (null otherwise)"
    )
    keywords: list[str]
    cluster_id: int | None


class SentimentCorrectionRequest(BaseModel):
    """An analyst's sentiment label for a post (人工校正); the model's own label confirms it."""

    model_config = ConfigDict(extra="forbid")

    sentiment: SentimentLabel


class SourceAgreement(BaseModel):
    """How often analysts changed the model's label on one source's reviewed posts."""

    source_id: int | None
    source: str
    reviewed: int
    corrected: int
    disagreement_rate: float


class LabelChange(BaseModel):
    """Reviewed posts that the model labelled `model` and analysts labelled `analyst`."""

    model: str
    analyst: str
    posts: int


class SentimentQuality(BaseModel):
    """Analysts' verdicts on a topic's posts against the model's labels, overall and per source."""

    topic_id: int
    since: datetime
    reviewed: int = Field(description="posts an analyst corrected or confirmed (latest verdict each)")
    corrected: int = Field(description="reviewed posts whose label the analyst changed")
    disagreement_rate: float
    changes: list[LabelChange]
    sources: list[SourceAgreement]
