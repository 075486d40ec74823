"""The one rule for what a post may carry into storage: its time and its counts.

Push, `yuqing import` and collected feeds all pass through `admit_many` before a post is stored (a
queued push is admitted when it is received). Nothing is changed silently: a post is either kept as
sent, kept with an adjustment that is reported, or refused alone with a reason (in Chinese, for the
people who read push answers and import reports).

- `published_at` later than the receipt time by more than `FUTURE_TOLERANCE` is set to the receipt
  time and reported (clocks and time zones of senders are often wrong; the post itself is kept).
- `published_at` older than the retention window is refused: retention would delete it within the
  hour, and a feed would bring it back on every run.
- Every engagement count and their sum must be whole numbers from 0 to `MAX_ENGAGEMENT` (beyond
  that the post is refused); a fraction is rounded and a value that is no number dropped, each
  reported (a feed's counts come as whatever the feed sends).

(A `published_at` that cannot be expressed in UTC at all is refused where it is parsed:
`PushPost` for push and import.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from collectors.base import RawPost

FUTURE_TOLERANCE = timedelta(minutes=10)
MAX_ENGAGEMENT = 2**53 - 1  # the largest whole number every JSON reader keeps exactly
SENT_TIME_KEY = "published_at_sent"  # RawPost.extra: the time as sent, when it was adjusted


@dataclass(frozen=True)
class Adjustment:
    """One value of a post changed on the way in, and why."""

    index: int
    field: str
    original: str
    value: str
    reason: str


@dataclass(frozen=True)
class Refusal:
    """A post refused alone, and why."""

    index: int
    reason: str


@dataclass
class Admitted:
    """The posts to store (adjusted where reported) and what was adjusted or refused."""

    posts: list[RawPost] = field(default_factory=list)
    adjusted: list[Adjustment] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


class PostRefused(ValueError):
    """A post cannot be stored; the message is the reason."""


def admit_many(
    raws: Sequence[RawPost], *, now: datetime, retention: timedelta, indexes: Sequence[int] | None = None
) -> Admitted:
    """Admit each post on its own; `indexes` name the posts in reports (default: their positions)."""
    result = Admitted()
    for position, raw in enumerate(raws):
        index = indexes[position] if indexes is not None else position
        try:
            kept, changes = admit(raw, now=now, retention=retention)
        except PostRefused as exc:
            result.refused.append(Refusal(index, str(exc)))
            continue
        result.posts.append(kept)
        result.adjusted.extend(replace(change, index=index) for change in changes)
    return result


def admit(raw: RawPost, *, now: datetime, retention: timedelta) -> tuple[RawPost, list[Adjustment]]:
    """The post as it will be stored and the adjustments made; raises PostRefused with the reason."""
    engagement, changes = _engagement(raw.engagement)
    if engagement != raw.engagement:
        raw = replace(raw, engagement=engagement)
    published = raw.published_at
    if published is None:
        return raw, changes
    if published < now - retention:
        raise PostRefused(
            f"published_at: 发布时间 {published.isoformat()} 早于数据保留期（{_days(retention)} 天），"
            "保存后会被保留策略立即删除，因此未保存"
        )
    if published > now + FUTURE_TOLERANCE:
        minutes = int(FUTURE_TOLERANCE.total_seconds() // 60)
        changes.append(
            Adjustment(
                index=0,
                field="published_at",
                original=published.isoformat(),
                value=now.isoformat(),
                reason=f"发布时间晚于接收时间超过 {minutes} 分钟，已改为接收时间",
            )
        )
        extra = {**raw.extra, SENT_TIME_KEY: published.isoformat()}
        raw = replace(raw, published_at=now, extra=extra)
    return raw, changes


def _engagement(counts: dict[str, Any]) -> tuple[dict[str, int], list[Adjustment]]:
    """Whole counts as sent; a value that is no number is dropped and a fraction rounded, each reported;
    a count out of range refuses the post."""
    kept: dict[str, int] = {}
    changes: list[Adjustment] = []
    for name, value in counts.items():
        where = f"engagement.{name}"
        if isinstance(value, float) and math.isfinite(value) and abs(value) <= MAX_ENGAGEMENT:
            whole = round(value)
            if whole != value:
                changes.append(Adjustment(0, where, repr(value), str(whole), "互动数不是整数，已四舍五入"))
            value = whole
        if isinstance(value, bool) or not isinstance(value, int | float):
            changes.append(Adjustment(0, where, repr(value), "", "互动数不是数字，已忽略"))
            continue
        if not 0 <= value <= MAX_ENGAGEMENT:
            raise PostRefused(f"{where}: 互动数 {value!r} 不是 0 到 {MAX_ENGAGEMENT} 之间的整数")
        kept[name] = int(value)
    total = sum(kept.values())
    if total > MAX_ENGAGEMENT:
        raise PostRefused(f"engagement: 互动数之和 {total} 超过 {MAX_ENGAGEMENT}")
    return kept, changes


def _days(span: timedelta) -> str:
    return f"{span.total_seconds() / 86400:g}"
