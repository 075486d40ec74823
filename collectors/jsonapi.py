"""Kind `json`: any JSON API, mapped to posts by dotted paths given in the source options.

Example options::

    {"items_path": "data.items",
     "fields": {"id": "mid", "text": "text", "url": "link", "published_at": "created_at",
                "engagement.reposts": "reposts_count", "engagement.likes": "attitudes_count"},
     "time_format": "%a %b %d %H:%M:%S %z %Y"}
"""

from __future__ import annotations

import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from collectors.base import Collector, CollectResult, ParseError, RawPost, SourceSpec, SourceState
from collectors.html import html_to_text
from collectors.http import Fetcher
from collectors.jsondoc import load_json
from collectors.values import get_path, guess_platform, parse_count, parse_flag, parse_time, plural

PLAIN_FIELDS = (
    "id",
    "text",
    "title",
    "url",
    "author",
    "author_id",
    "author_followers",
    "author_verified",
    "published_at",
    "lang",
)
TIME_KEYWORDS = ("iso", "epoch", "epoch_ms")
FORBIDDEN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "te", "upgrade"})
_PATH = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _check_path(path: str, what: str) -> str:
    if not _PATH.match(path):
        raise ValueError(f"{what} {path!r} is not a dotted path like 'data.items' or 'stats.0.count'")
    return path


class Paging(BaseModel):
    """How a paged API is walked, and where the next poll resumes (the source's saved cursor).

    - `cursor`: each page's `next_path` value is sent as `param` for the next page; the last one is
      saved, so the next poll asks only for what came after it.
    - `offset`: `param` counts items (0, then +items per page); the next offset is saved.
    - `page`: `param` counts pages from `start`; the next page number is saved.
    A poll stops at `max_pages`, at an empty page, or when a cursor API gives no next cursor.
    """

    model_config = ConfigDict(extra="forbid")

    mode: Literal["cursor", "offset", "page"]
    param: str = Field(min_length=1, max_length=64, description="query parameter that carries the position")
    next_path: str | None = Field(default=None, description="cursor mode: dotted path of the next cursor")
    start: int = Field(default=0, ge=0, description="first offset or page number of the very first poll")
    max_pages: int = Field(default=5, ge=1, le=50, description="pages per poll")

    @model_validator(mode="after")
    def _cursor_needs_a_path(self) -> Paging:
        if self.mode == "cursor" and not self.next_path:
            raise ValueError("cursor paging needs next_path (where each page says the next cursor)")
        if self.next_path:
            _check_path(self.next_path, "next_path")
        return self


class JsonApiOptions(BaseModel):
    """Options of a `json` source."""

    model_config = ConfigDict(extra="forbid")

    items_path: str = Field(default="", description='dotted path to the list of items; "" = top-level list')
    fields: dict[str, str] = Field(description="post field (id, text, …, engagement.<name>) → dotted path")
    time_format: str | None = Field(default=None, description="strptime format, 'iso', 'epoch' or 'epoch_ms'")
    timezone: str | None = Field(
        default=None, description="IANA zone for times without an offset (default: YUQING_TIMEZONE)"
    )
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    platform: str | None = Field(default=None, max_length=32)
    paging: Paging | None = None

    @field_validator("items_path")
    @classmethod
    def _items_path(cls, value: str) -> str:
        return value if value == "" else _check_path(value, "items_path")

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: dict[str, str]) -> dict[str, str]:
        for name, path in value.items():
            engagement = name.removeprefix("engagement.")
            if name not in PLAIN_FIELDS and not (name.startswith("engagement.") and _NAME.match(engagement)):
                known = ", ".join(PLAIN_FIELDS)
                raise ValueError(f"unknown field {name!r}; use {known} or engagement.<name>")
            _check_path(path, f"path of {name}")
        if "text" not in value:
            raise ValueError("a 'text' mapping is required (the path of each item's text)")
        return value

    @field_validator("time_format")
    @classmethod
    def _time_format(cls, value: str | None) -> str | None:
        if value is not None and value not in TIME_KEYWORDS and "%" not in value:
            raise ValueError(
                "use a strptime format such as '%Y-%m-%d %H:%M:%S', or 'iso', 'epoch', 'epoch_ms'"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like 'Asia/Shanghai'") from None
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header in value.items():
            if name.lower() in FORBIDDEN_HEADERS:
                raise ValueError(f"header {name!r} is managed by the HTTP client and cannot be set")
            if any(ch in name + header for ch in "\r\n") or not name.strip():
                raise ValueError(f"header {name!r} has an invalid name or value")
        return value


class JsonApiCollector(Collector[JsonApiOptions]):
    """Any JSON API whose items can be mapped to posts by dotted paths."""

    kind = "json"
    options_model = JsonApiOptions

    async def collect(self, spec: SourceSpec, state: SourceState, fetcher: Fetcher) -> CollectResult:
        """Fetch the API conditionally and map each item to a post (paged APIs: see `Paging`)."""
        options = self.parse_options(spec.options)
        headers = {"Accept": "application/json", **options.headers}
        if options.paging is not None:
            return await self._collect_pages(spec, state, fetcher, options, options.paging, headers)
        response = await fetcher.get(spec.url, state=state, headers=headers, params=options.params)
        new_state = response.next_state(state)
        if response.not_modified:
            return CollectResult(state=new_state, not_modified=True, http_status=response.status)
        document = load_json(response.text(), content_type=response.content_type)
        posts, warnings = map_items(document, options, source_url=spec.url, default_zone=spec.timezone)
        return CollectResult(posts=posts, state=new_state, warnings=warnings, http_status=response.status)

    async def _collect_pages(
        self,
        spec: SourceSpec,
        state: SourceState,
        fetcher: Fetcher,
        options: JsonApiOptions,
        paging: Paging,
        headers: dict[str, str],
    ) -> CollectResult:
        """Walk the pages from the saved position; save where the next poll resumes."""
        position: str | None = state.cursor or (None if paging.mode == "cursor" else str(paging.start))
        posts: list[RawPost] = []
        warnings: list[str] = []
        status: int | None = None
        for page in range(paging.max_pages):
            params = {**options.params, **({paging.param: position} if position is not None else {})}
            response = await fetcher.get(spec.url, state=None, headers=headers, params=params)
            status = response.status
            document = load_json(response.text(), content_type=response.content_type)
            found, notes = map_items(document, options, source_url=spec.url, default_zone=spec.timezone)
            posts += found
            warnings += notes
            items = get_path(document, options.items_path)
            count = len(items) if isinstance(items, list) else 0
            if count == 0:
                break
            if paging.mode == "cursor":
                following = get_path(document, paging.next_path or "")
                if following in (None, "") or str(following) == position:
                    position = position if following in (None, "") else str(following)
                    break
                position = str(following)
            else:
                step = count if paging.mode == "offset" else 1
                position = str(int(position or paging.start) + step)
            if page == paging.max_pages - 1:
                warnings.append(
                    f"stopped after {paging.max_pages} pages; the next poll resumes at {position}"
                )
        new_state = SourceState(cursor=position, extra=dict(state.extra))
        return CollectResult(posts=posts, state=new_state, warnings=warnings, http_status=status)


def map_items(
    document: Any, options: JsonApiOptions, *, source_url: str = "", default_zone: str = "UTC"
) -> tuple[list[RawPost], list[str]]:
    """Posts and warnings from a parsed JSON document according to the options.

    Raises:
        ParseError: `items_path` is absent or does not point to a list.
    """
    items = get_path(document, options.items_path)
    where = f"items_path {options.items_path!r}" if options.items_path else "the top level"
    if items is None:
        raise ParseError(f"{where} is not present in the response")
    if not isinstance(items, list):
        raise ParseError(f"{where} of the response is a {type(items).__name__}, not a list of items")
    zone = ZoneInfo(options.timezone or default_zone)
    posts: list[RawPost] = []
    skipped = 0
    for item in items:
        post = _item_post(item, options, zone, source_url)
        if post is None:
            skipped += 1
        else:
            posts.append(post)
    warnings = []
    if skipped:
        warnings.append(f"skipped {plural(skipped, 'item')} without text at {options.fields['text']!r}")
    return posts, warnings


def _item_post(item: Any, options: JsonApiOptions, zone: ZoneInfo, source_url: str) -> RawPost | None:
    fields = options.fields

    def value(name: str) -> Any:
        return get_path(item, fields[name]) if name in fields else None

    raw_text = _scalar(value("text"))
    text = html_to_text(raw_text) if raw_text else ""
    if not text:
        return None
    url = _scalar(value("url"))
    url = url if url and url.lower().startswith(("http://", "https://")) else None
    engagement = {
        name.removeprefix("engagement."): count
        for name in fields
        if name.startswith("engagement.") and (count := parse_count(value(name))) is not None
    }
    title = _scalar(value("title"))
    return RawPost(
        external_id=_scalar(value("id")),
        url=url,
        title=html_to_text(title) or None if title else None,
        text=text,
        raw=raw_text or "",
        author=_scalar(value("author")),
        author_id=_scalar(value("author_id")),
        author_followers=parse_count(value("author_followers")),
        author_verified=parse_flag(value("author_verified")),
        published_at=_time(value("published_at"), options.time_format, zone),
        engagement=engagement,
        platform=options.platform or guess_platform(url) or guess_platform(source_url),
        lang=_scalar(value("lang")),
    )


def _scalar(value: Any) -> str | None:
    """A string or number as stripped text; None for missing, blank, bool, list or object values."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text or None
    return None


def _time(value: Any, time_format: str | None, zone: ZoneInfo) -> Any:
    if time_format == "epoch_ms" and isinstance(value, int | float | str):
        number = parse_count(value) if isinstance(value, str) else value
        return parse_time(number / 1000.0) if number is not None else None
    fmt = None if time_format in (None, *TIME_KEYWORDS) else time_format
    return parse_time(value, fmt=fmt, naive_tz=zone)
