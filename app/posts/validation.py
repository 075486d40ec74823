"""Pushed and imported items as posts to store: each item validated on its own (`PushPost`), turned
into a `RawPost` and admitted (`app/posts/admission.py`); bad items get a per-row error, adjusted
ones are reported."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from app.posts.admission import admit_many
from app.posts.schemas import AdjustedPost, PushPost, RejectedPost
from collectors.base import RawPost


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming each bad field of a pushed or imported post."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "post"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def push_to_raw(post: PushPost) -> RawPost:
    """A validated pushed post as a RawPost."""
    return RawPost(
        external_id=post.id,
        url=post.url,
        title=post.title,
        text=post.text,
        raw=post.text,
        author=post.author,
        author_id=post.author_id,
        author_followers=post.author_followers,
        author_verified=post.author_verified,
        published_at=post.published_at,
        engagement=dict(post.engagement),
        platform=post.platform,
        lang=None,
        extra={},
    )


@dataclass
class Validated:
    """A batch after validation and admission: posts to store, adjustments and rejections by index."""

    posts: list[RawPost]
    adjusted: list[AdjustedPost]
    rejected: list[RejectedPost]


def validate_posts(
    items: Sequence[Any], *, now: datetime, retention: timedelta, offset: int = 0
) -> Validated:
    """Validate each item on its own and admit it (`app/posts/admission.py`): good ones become
    RawPosts, possibly adjusted (reported), bad ones get a per-row error."""
    parsed: list[RawPost] = []
    indexes: list[int] = []
    rejected: list[RejectedPost] = []
    for index, item in enumerate(items, start=offset):
        if not isinstance(item, dict):
            rejected.append(RejectedPost(index=index, error="post must be a JSON object"))
            continue
        try:
            parsed.append(push_to_raw(PushPost.model_validate(item)))
        except ValidationError as exc:
            rejected.append(RejectedPost(index=index, error=describe_validation_error(exc)))
            continue
        indexes.append(index)
    admitted = admit_many(parsed, now=now, retention=retention, indexes=indexes)
    rejected.extend(RejectedPost(index=r.index, error=r.reason) for r in admitted.refused)
    rejected.sort(key=lambda r: r.index)
    adjusted = [
        AdjustedPost.model_validate(
            {"index": a.index, "field": a.field, "from": a.original, "to": a.value, "reason": a.reason}
        )
        for a in admitted.adjusted
    ]
    return Validated(posts=admitted.posts, adjusted=adjusted, rejected=rejected)
