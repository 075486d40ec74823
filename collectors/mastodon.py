"""Kind `mastodon`: a public or hashtag timeline of one Mastodon instance, polled gap-free.

The first poll takes the newest page only. Later polls ask for `min_id=<newest id seen>` (kept in
`state.cursor`) and page towards newer statuses through the `Link: rel="prev"` header, so nothing
between two polls is skipped. Status ids are opaque strings and are never cast to int. When the rate
limit runs low we stop paging and tell the scheduler how long to wait (`retry_after`).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from collectors.base import (
    Collector,
    CollectResult,
    ConfigError,
    HTTPStatusError,
    ParseError,
    RawPost,
    SourceSpec,
    SourceState,
)
from collectors.html import html_to_text
from collectors.http import Fetcher, FetchResponse, parse_link_header
from collectors.jsondoc import load_json
from collectors.retry import reset_seconds
from collectors.values import parse_count, parse_time

log = logging.getLogger(__name__)

# Stop paging when this few requests are left in the current rate-limit window.
RATE_LIMIT_RESERVE = 10
ENGAGEMENT_FIELDS = {
    "reblogs_count": "reposts",
    "favourites_count": "likes",
    "replies_count": "comments",
    "quotes_count": "quotes",
}


class MastodonOptions(BaseModel):
    """Options of a `mastodon` source (`url` is the instance base URL, e.g. https://mastodon.social)."""

    model_config = ConfigDict(extra="forbid")

    timeline: Literal["public", "tag"] = "public"
    hashtag: str | None = Field(default=None, max_length=100, description="required for timeline 'tag'")
    local: bool = Field(default=False, description="only statuses from this instance")
    limit: int = Field(default=40, ge=1, le=40, description="statuses per page (the API maximum is 40)")
    max_pages: int = Field(default=5, ge=1, le=20, description="pages per poll when catching up")
    access_token: str | None = Field(default=None, description="for instances that require authentication")

    @model_validator(mode="after")
    def _hashtag_matches_timeline(self) -> MastodonOptions:
        if self.hashtag is not None:
            self.hashtag = self.hashtag.strip().lstrip("#")
        if self.timeline == "tag" and not self.hashtag:
            raise ValueError('timeline \'tag\' needs a hashtag, e.g. {"hashtag": "舆情"}')
        if self.timeline == "public" and self.hashtag:
            raise ValueError("hashtag is only used with timeline 'tag'")
        if self.hashtag and any(ch in self.hashtag for ch in "/?# "):
            raise ValueError(f"hashtag {self.hashtag!r} must be a single tag without '/', '?', '#' or spaces")
        return self


class MastodonCollector(Collector[MastodonOptions]):
    """Public and hashtag timelines of a Mastodon instance."""

    kind = "mastodon"
    options_model = MastodonOptions

    async def collect(self, spec: SourceSpec, state: SourceState, fetcher: Fetcher) -> CollectResult:
        """Fetch statuses newer than the cursor (or the newest page on the first poll)."""
        options = self.parse_options(spec.options)
        endpoint = timeline_url(spec.url, options)
        headers = {"Accept": "application/json"}
        if options.access_token:
            headers["Authorization"] = f"Bearer {options.access_token}"
        result = CollectResult(state=SourceState(cursor=state.cursor, extra=dict(state.extra)))
        min_id = state.cursor
        for _ in range(options.max_pages):
            params = {"limit": options.limit, "local": "true" if options.local else None, "min_id": min_id}
            params = {name: value for name, value in params.items() if value is not None}
            response = await _get(fetcher, endpoint, headers, params, options)
            statuses = _add_page(result, response)
            if result.retry_after is not None:
                log.info("rate limit of %s nearly used up; next poll in %.0f s", endpoint, result.retry_after)
                result.warnings.append(
                    f"rate limit nearly used up; paused for {result.retry_after:.0f} s before the next poll"
                )
                break
            if min_id is None or len(statuses) < options.limit:
                break  # first poll: the newest page only; later polls: caught up
            min_id = _prev_min_id(response) or result.state.cursor
        else:
            result.warnings.append(
                f"more new statuses remain after {options.max_pages} pages; the next poll continues from here"
            )
        return result


def _add_page(result: CollectResult, response: FetchResponse) -> list[dict[str, Any]]:
    """Add one timeline page to `result`: posts, the newest id as cursor, status and rate-limit wait."""
    statuses = _statuses(response)
    result.http_status = response.status
    result.posts.extend(post for status in statuses if (post := status_to_post(status)) is not None)
    newest = newest_id([str(status["id"]) for status in statuses if status.get("id") is not None])
    if newest and (result.state.cursor is None or id_key(newest) > id_key(result.state.cursor)):
        result.state.cursor = newest
    result.retry_after = _low_rate_limit_wait(response)
    return statuses


def timeline_url(base_url: str, options: MastodonOptions) -> str:
    """The timeline endpoint on the instance at `base_url`; raises ConfigError for an API URL."""
    if "/api/" in urlsplit(base_url).path:
        raise ConfigError(
            "the url of a mastodon source is the instance base URL (like https://mastodon.social), "
            f"not an API endpoint: {base_url}"
        )
    base = base_url.rstrip("/")
    if options.timeline == "tag":
        return f"{base}/api/v1/timelines/tag/{quote(options.hashtag or '', safe='')}"
    return f"{base}/api/v1/timelines/public"


async def _get(
    fetcher: Fetcher, url: str, headers: dict[str, str], params: dict[str, Any], options: MastodonOptions
) -> FetchResponse:
    try:
        return await fetcher.get(url, headers=headers, params=params)
    except HTTPStatusError as exc:
        if exc.status != 401:
            raise
        if options.access_token:
            message = f"the instance {_host(url)} rejected the access token (HTTP 401); check or renew it"
        else:
            message = (
                f"the instance {_host(url)} requires authentication for its {options.timeline} timeline "
                "(HTTP 401); set the access_token option, or check configuration.timelines_access "
                "in /api/v2/instance"
            )
        raise HTTPStatusError(401, exc.body_excerpt, url=url, message=message) from None


def _statuses(response: FetchResponse) -> list[dict[str, Any]]:
    document = load_json(response.text(), content_type=response.content_type)
    if not isinstance(document, list):
        raise ParseError("the timeline response is not a list of statuses")
    return [status for status in document if isinstance(status, dict)]


def id_key(status_id: str) -> tuple[int, str]:
    """Sort key of an opaque Mastodon id: vanilla ids order by (length, string)."""
    return (len(status_id), status_id)


def newest_id(ids: list[str]) -> str | None:
    """The newest of some status ids, or None for none."""
    return max(ids, key=id_key) if ids else None


def _prev_min_id(response: FetchResponse) -> str | None:
    """`min_id` of the Link rel="prev" URL (the next newer page), taken as an opaque string."""
    prev = parse_link_header(response.headers.get("link")).get("prev")
    if not prev:
        return None
    values = parse_qs(urlsplit(prev).query).get("min_id")
    return values[0] if values else None


def _low_rate_limit_wait(response: FetchResponse) -> float | None:
    """Seconds until the rate-limit window resets when few requests remain, else None."""
    remaining = parse_count(response.headers.get("x-ratelimit-remaining"))
    if remaining is None or remaining > RATE_LIMIT_RESERVE:
        return None
    return reset_seconds(response.headers, now=time.time())


def status_to_post(status: dict[str, Any]) -> RawPost | None:
    """A Mastodon status as a RawPost; a boost becomes the boosted status, noted in `extra`."""
    outer = status
    boosted = status.get("reblog")
    inner: dict[str, Any] = boosted if isinstance(boosted, dict) else status
    if inner.get("id") is None:
        return None
    content = inner.get("content") or inner.get("text") or ""  # deleted statuses carry `text`
    text = html_to_text(content)
    spoiler = (inner.get("spoiler_text") or "").strip()
    if spoiler:
        text = f"{spoiler}\n\n{text}" if text else spoiler
    account = inner.get("account") or {}
    extra: dict[str, Any] = {
        "uri": inner.get("uri"),
        "visibility": inner.get("visibility"),
        "sensitive": bool(inner.get("sensitive")),
        "tags": [t.get("name") for t in inner.get("tags") or [] if isinstance(t, dict) and t.get("name")],
    }
    if inner is not outer:
        extra["boosted_by"] = (outer.get("account") or {}).get("acct")
        extra["boost_id"] = str(outer.get("id"))
    return RawPost(
        external_id=str(inner["id"]),
        url=inner.get("url") or inner.get("uri"),
        title=None,
        text=text,
        raw=content,
        author=account.get("acct") or account.get("username"),
        author_id=str(account["id"]) if account.get("id") is not None else None,
        author_followers=parse_count(account.get("followers_count")),
        author_verified=None,  # Mastodon has no verified accounts (profile-link checks are not one)
        published_at=parse_time(inner.get("created_at")),
        engagement={
            name: count
            for key, name in ENGAGEMENT_FIELDS.items()
            if (count := parse_count(inner.get(key))) is not None
        },
        platform="mastodon",
        lang=inner.get("language"),
        extra=extra,
    )


def _host(url: str) -> str:
    return urlsplit(url).netloc or url
