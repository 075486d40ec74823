"""Posts that researchers capture with their own browser (Zeeschuimer's NDJSON export).

Each line is `{"nav_index", "item_id", "timestamp_collected", "source_platform", "source_platform_url",
"source_url", "user_agent", "data": {...}}` where `data` is the platform's own object as its web page
received it. `map_capture` turns one line into a post in the push shape (`id`, `text`, `title`, `url`,
`author`, `author_id`, `author_followers`, `author_verified`, `platform`, `published_at`,
`engagement`) for 抖音 (API and embedded shapes), 小红书 (API, embedded and HTML-mapped shapes) and
微博 (the web API's `mblog`), or raises `CaptureError` saying why a line cannot be used. Pure: no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from collectors.html import html_to_text

PLATFORMS = {
    "douyin.com": "douyin",
    "www.douyin.com": "douyin",
    "xiaohongshu.com": "xiaohongshu",
    "www.xiaohongshu.com": "xiaohongshu",
    "weibo.com": "weibo",
    "m.weibo.cn": "weibo",
    "weibo.cn": "weibo",
}


class CaptureError(ValueError):
    """A captured line that holds no usable post (a stub, an unknown platform, no text)."""


def is_capture(line: Any) -> bool:
    """Whether a parsed NDJSON line is a Zeeschuimer capture."""
    return isinstance(line, dict) and "source_platform" in line and isinstance(line.get("data"), dict)


def map_capture(line: dict[str, Any]) -> dict[str, Any]:
    """The post in one captured line (push shape); raises CaptureError when there is none."""
    platform = PLATFORMS.get(str(line.get("source_platform", "")).lower())
    data = line["data"]
    if platform == "douyin":
        post = _douyin(data)
    elif platform == "xiaohongshu":
        post = _xiaohongshu(data)
    elif platform == "weibo":
        post = _weibo(data.get("mblog", data))
    else:
        raise CaptureError(f"不支持的平台 {line.get('source_platform')!r}（支持抖音、小红书、微博）")
    if not (post.get("text") or post.get("title")):
        raise CaptureError("这条采集记录没有正文")
    post["platform"] = platform
    post["engagement"] = {
        k: v for k, v in post.get("engagement", {}).items() if isinstance(v, int) and v >= 0
    }
    if "published_at" not in post and line.get("timestamp_collected"):
        post["published_at"] = _epoch(line["timestamp_collected"] / 1000)
    return {k: v for k, v in post.items() if v not in (None, "")}


def _epoch(seconds: Any) -> str | None:
    try:
        return datetime.fromtimestamp(float(seconds), UTC).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip().rstrip("+")
        try:
            return int(float(text[:-1]) * 10_000) if text.endswith(("万", "w", "W")) else int(text)
        except ValueError:
            return None
    return None


def _followers(value: Any) -> int | None:
    """A follower count as the platform gives it (e.g. 1234 or "12.3万"); None when absent or not a count."""
    count = _count(value)
    return count if count is not None and count >= 0 else None


def _account_id(value: Any) -> str | None:
    return str(value) if isinstance(value, int | str) and not isinstance(value, bool) and str(value) else None


def _douyin(item: dict[str, Any]) -> dict[str, Any]:
    embedded = bool(item.get("ZS_collected_from_embed"))
    aweme = item.get("awemeId" if embedded else "aweme_id")
    author = item.get("authorInfo" if embedded else "author") or {}
    stats = item.get("stats" if embedded else "statistics") or {}
    names = (
        ("diggCount", "commentCount", "shareCount", "collectCount")
        if embedded
        else ("digg_count", "comment_count", "share_count", "collect_count")
    )
    likes, comments, shares, collects = (_count(stats.get(name)) for name in names)
    return {
        "id": str(aweme) if aweme else None,
        "text": item.get("desc") or "",
        "url": f"https://www.douyin.com/video/{aweme}" if aweme else None,
        "author": author.get("nickname"),
        "author_id": _account_id(author.get("uid")),
        "author_followers": _followers(author.get("followerCount" if embedded else "follower_count")),
        "published_at": _epoch(item.get("createTime" if embedded else "create_time")),
        "engagement": {"likes": likes, "comments": comments, "shares": shares, "collects": collects},
    }


def _xiaohongshu(post: dict[str, Any]) -> dict[str, Any]:
    if (
        "note_card" not in post
        and "user" not in post
        and "note" not in post
        and post.get("_zs-origin") != "html"
    ):
        raise CaptureError("小红书缩略卡片，没有笔记内容")
    if post.get("_zs-origin") == "html":
        note: dict[str, Any] = {"title": post.get("title"), "user": {"nickname": post.get("author_name")}}
        info: dict[str, Any] = {"liked_count": post.get("likes")}
        note_id = post.get("id")
    elif "note" in post:
        note = post["note"]
        info = note.get("interactInfo") or note.get("interact_info") or {}
        note_id = post.get("id")
    else:
        note = post.get("note_card", post)
        info = note.get("interact_info") or {}
        note_id = post.get("id", post.get("note_id"))
    liked = info.get("likedCount", info.get("liked_count"))
    comments = info.get("commentCount", info.get("comment_count"))
    collected = info.get("collectedCount", info.get("collected_count"))
    millis = note.get("time")
    user = note.get("user") or {}
    return {
        "id": str(note_id) if note_id else None,
        "title": note.get("display_title") or note.get("title"),
        "text": note.get("desc") or "",
        "url": f"https://www.xiaohongshu.com/explore/{note_id}" if note_id else None,
        "author": user.get("nickname"),
        "author_id": _account_id(user.get("user_id") or user.get("userId")),
        "published_at": _epoch(millis / 1000) if isinstance(millis, int | float) else None,
        "engagement": {"likes": _count(liked), "comments": _count(comments), "collects": _count(collected)},
    }


def _weibo_time(text: str) -> str | None:
    """Weibo's `Tue Dec 03 15:21:00 +0800 2026` (or an RFC 2822 date) as ISO 8601 UTC."""
    if not text:
        return None
    try:
        return datetime.strptime(text, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC).isoformat()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text).astimezone(UTC).isoformat()
    except (TypeError, ValueError):
        return None


def _weibo(mblog: dict[str, Any]) -> dict[str, Any]:
    mid = mblog.get("mid") or mblog.get("idstr") or mblog.get("id")
    user = mblog.get("user") or {}
    text = mblog.get("text_raw") or html_to_text(mblog.get("text") or "")
    published = _weibo_time(str(mblog.get("created_at") or ""))
    uid = user.get("idstr") or user.get("id")
    return {
        "id": str(mid) if mid else None,
        "text": text,
        "url": f"https://weibo.com/{uid}/{mblog.get('mblogid') or mid}" if uid and mid else None,
        "author": user.get("screen_name"),
        "author_id": _account_id(uid),
        "author_followers": _followers(user.get("followers_count")),
        "author_verified": user["verified"] if isinstance(user.get("verified"), bool) else None,
        "published_at": published,
        "engagement": {
            "reposts": _count(mblog.get("reposts_count")),
            "comments": _count(mblog.get("comments_count")),
            "likes": _count(mblog.get("attitudes_count")),
        },
    }
