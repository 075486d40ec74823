"""Small value parsers shared by collectors: times, counts, dotted paths, platform guesses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

# An epoch number above this is in milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
EPOCH_MS_THRESHOLD = 1e11
_COUNT = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*([万萬亿億kKwW]?)\+?\s*$")
_COUNT_UNITS = {
    "": 1,
    "万": 10_000,
    "萬": 10_000,
    "w": 10_000,
    "W": 10_000,
    "k": 1_000,
    "K": 1_000,
    "亿": 100_000_000,
    "億": 100_000_000,
}

# RSSHub routes (path prefix) and platform hosts (suffix match) that tell us where a post comes from.
ROUTE_PLATFORMS = (
    ("/weibo/", "weibo"),
    ("/zhihu/", "zhihu"),
    ("/bilibili/", "bilibili"),
    ("/douyin/", "douyin"),
    ("/xiaohongshu/", "xiaohongshu"),
    ("/baidu/tieba/", "tieba"),
)
HOST_PLATFORMS = (
    ("weibo.com", "weibo"),
    ("weibo.cn", "weibo"),
    ("zhihu.com", "zhihu"),
    ("bilibili.com", "bilibili"),
    ("b23.tv", "bilibili"),
    ("douyin.com", "douyin"),
    ("xiaohongshu.com", "xiaohongshu"),
    ("xhslink.com", "xiaohongshu"),
    ("tieba.baidu.com", "tieba"),
)


def parse_time(value: Any, *, fmt: str | None = None, naive_tz: tzinfo = UTC) -> datetime | None:
    """A UTC datetime from ISO-8601/RFC 3339, RFC 822, epoch seconds or milliseconds, or `fmt`.

    Naive results are taken to be in `naive_tz`. Returns None for anything unparseable.
    """
    if value is None or isinstance(value, bool):
        return None
    parsed: datetime | None
    if isinstance(value, int | float):
        parsed = _from_epoch(float(value))
    elif isinstance(value, str) and value.strip():
        parsed = _from_string(value.strip(), fmt)
    else:
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=naive_tz)
    return parsed.astimezone(UTC)


def _from_epoch(number: float) -> datetime | None:
    if number > EPOCH_MS_THRESHOLD:
        number /= 1000.0
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _from_string(text: str, fmt: str | None) -> datetime | None:
    if fmt:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            return None
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return _from_epoch(float(text))
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def parse_count(value: Any) -> int | None:
    """An engagement count from an int, float or text like `1,234`, `1.2万`, `3亿`, `10w+`; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value >= 0 and value == value else None
    if not isinstance(value, str):
        return None
    match = _COUNT.match(value)
    if not match:
        return None
    number = float(match.group(1).replace(",", ""))
    return int(round(number * _COUNT_UNITS[match.group(2)]))


def get_path(item: Any, path: str) -> Any:
    """The value at a dotted path (`data.items`, `images.0.url`); `""` is the item itself; None if absent."""
    if path == "":
        return item
    current = item
    for segment in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(segment)
        elif isinstance(current, list) and segment.isdigit():
            index = int(segment)
            current = current[index] if index < len(current) else None
        else:
            return None
        if current is None:
            return None
    return current


def guess_platform(url: str | None) -> str | None:
    """The platform an RSSHub route (`/weibo/...`) or a platform URL (`weibo.com`) belongs to, else None."""
    if not url:
        return None
    parts = urlsplit(url)
    path = parts.path.lower()
    for prefix, platform in ROUTE_PLATFORMS:
        if path.startswith(prefix):
            return platform
    host = (parts.hostname or "").lower()
    for domain, platform in HOST_PLATFORMS:
        if host == domain or host.endswith("." + domain):
            return platform
    return None


def plural(count: int, noun: str) -> str:
    """`1 entry`, `2 entries`, `3 items`: a count with its noun for warning messages."""
    if count == 1:
        return f"1 {noun}"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return f"{count} {noun[:-1]}ies"
    return f"{count} {noun}s"
