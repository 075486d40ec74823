"""Small value parsers shared by collectors: times, counts, dotted paths, platform guesses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
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


def parse_time(
    value: Any, *, fmt: str | None = None, naive_tz: tzinfo = UTC, now: datetime | None = None
) -> datetime | None:
    """A UTC datetime from ISO-8601/RFC 3339, RFC 822, epoch seconds or milliseconds, the common
    Chinese forms (see `parse_local_time`), a `datetime`, or `fmt`.

    Naive results are taken to be in `naive_tz`. Returns None for anything unparseable.
    """
    parsed = parse_time_detail(value, fmt=fmt, naive_tz=naive_tz, now=now)
    return parsed.moment if parsed else None


@dataclass(frozen=True)
class ParsedTime:
    """A parsed time in UTC, and what had to be assumed to read it."""

    moment: datetime
    assumed_zone: bool = False  # the text had no offset: read in the naive zone
    inferred_year: bool = False  # the text had no year (e.g. 12-03 15:21): the latest such date not ahead


def parse_time_detail(
    value: Any, *, fmt: str | None = None, naive_tz: tzinfo = UTC, now: datetime | None = None
) -> ParsedTime | None:
    """Like `parse_time`, saying whether a zone or a year was assumed; None when unparseable."""
    if value is None or isinstance(value, bool):
        return None
    parsed: datetime | None
    inferred = False
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float):
        parsed = _from_epoch(float(value))
    elif isinstance(value, str) and value.strip():
        parsed = _from_string(value.strip(), fmt)
        if parsed is None and fmt is None:
            local = parse_local_time(value.strip(), now=(now or datetime.now(UTC)).astimezone(naive_tz))
            if local is not None:
                parsed, inferred = local
    else:
        return None
    if parsed is None:
        return None
    assumed = parsed.tzinfo is None
    if assumed:
        parsed = parsed.replace(tzinfo=naive_tz)
    try:
        return ParsedTime(parsed.astimezone(UTC), assumed_zone=assumed, inferred_year=inferred)
    except OverflowError:
        return None


_LOCAL_FORMS = (
    # 2026/12/03 15:21(:05), 2026.12.03, 2026-12-3 (ISO needs two-digit months and days)
    re.compile(
        r"(?P<y>\d{4})\s*[/.\-]\s*(?P<m>\d{1,2})\s*[/.\-]\s*(?P<d>\d{1,2})"
        r"(?:[\sT]+(?P<H>\d{1,2})[:：](?P<M>\d{2})(?:[:：](?P<S>\d{2}))?)?"
    ),
    # 2026年12月3日 15:21, 2026年12月3日15时21分
    re.compile(
        r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]?"
        r"(?:\s*(?P<H>\d{1,2})\s*[:：时點点]\s*(?P<M>\d{1,2})\s*分?(?:\s*[:：]?\s*(?P<S>\d{1,2})\s*秒?)?)?"
    ),
    # 12-03 15:21, 12/03 15:21, 12月3日 15:21 (no year: inferred)
    re.compile(
        r"(?P<m>\d{1,2})\s*(?:[/\-]|月)\s*(?P<d>\d{1,2})\s*[日号]?"
        r"(?:\s+|\s*(?=\d{1,2}[:：]))(?P<H>\d{1,2})[:：](?P<M>\d{2})(?:[:：](?P<S>\d{2}))?"
    ),
    re.compile(r"(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]"),
)


def parse_local_time(text: str, *, now: datetime) -> tuple[datetime, bool] | None:
    """A naive local time from the forms Chinese exports and pages use, with whether its year was
    inferred: ``2026/12/03 15:21``, ``2026.12.03``, ``2026年12月3日 15:21``, ``12-03 15:21``,
    ``12月3日``. A date without a year is the latest such date not after `now` (local time)."""
    for pattern in _LOCAL_FORMS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        parts = match.groupdict()
        inferred = parts.get("y") is None
        year = now.year if inferred else int(parts["y"])
        try:
            moment = datetime(
                year,
                int(parts["m"]),
                int(parts["d"]),
                int(parts.get("H") or 0),
                int(parts.get("M") or 0),
                int(parts.get("S") or 0),
            )
        except ValueError:
            return None
        if inferred and moment > now.replace(tzinfo=None):
            try:
                moment = moment.replace(year=year - 1)
            except ValueError:  # 29 February
                return None
        return moment, inferred
    return None


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


TRUE_WORDS = frozenset({"true", "yes", "1", "是", "已认证", "认证", "y"})
FALSE_WORDS = frozenset({"false", "no", "0", "否", "未认证", "n"})


def parse_flag(value: Any) -> bool | None:
    """A yes/no value (a verified mark) from a bool, 0/1, or text such as true/false, 是/否, 已认证/未认证;
    None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


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
