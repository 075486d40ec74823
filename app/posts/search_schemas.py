"""Response bodies of post search: a page of posts (errors: `app/core/api.py`; keywords and clusters:
`app/stats/schemas.py`; overview and comparison: `app/topics/schemas.py`; audit: `app/audit/schemas.py`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.posts.schemas import PostRead

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
