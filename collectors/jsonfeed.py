"""Kind `jsonfeed`: JSON Feed 1.0 and 1.1 (feedparser 6 cannot read them), with optional `next_url` paging."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from pydantic import BaseModel, ConfigDict, Field

from collectors.base import Collector, CollectResult, NotAFeedError, RawPost, SourceSpec, SourceState
from collectors.html import html_to_text, normalise_whitespace
from collectors.http import Fetcher
from collectors.jsondoc import load_json
from collectors.values import guess_platform, parse_time, plural

ACCEPT = "application/feed+json, application/json;q=0.9, */*;q=0.5"


class JsonFeedOptions(BaseModel):
    """Options of a `jsonfeed` source."""

    model_config = ConfigDict(extra="forbid")

    max_pages: int = Field(default=1, ge=1, le=20, description="follow next_url up to this many pages")
    platform: str | None = Field(default=None, max_length=32, description="override the guessed platform")


@dataclass
class JsonFeedPage:
    """Posts, warnings and the next page URL parsed from one JSON Feed document."""

    posts: list[RawPost] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    next_url: str | None = None
    feed_url: str | None = None


class JsonFeedCollector(Collector[JsonFeedOptions]):
    """JSON Feed sources (also RSSHub routes with `?format=json`)."""

    kind = "jsonfeed"
    options_model = JsonFeedOptions

    async def collect(self, spec: SourceSpec, state: SourceState, fetcher: Fetcher) -> CollectResult:
        """Fetch the feed conditionally, then follow `next_url` up to `max_pages`, refusing loops."""
        options = self.parse_options(spec.options)
        response = await fetcher.get(spec.url, state=state, headers={"Accept": ACCEPT})
        new_state = response.next_state(state)
        if response.not_modified:
            return CollectResult(state=new_state, not_modified=True, http_status=response.status)
        platform = options.platform or guess_platform(spec.url)
        page = parse_json_feed(
            response.text(), url=response.url, platform=platform, content_type=response.content_type
        )
        result = CollectResult(
            posts=page.posts, state=new_state, warnings=page.warnings, http_status=response.status
        )
        seen = {spec.url, response.url, page.feed_url}
        for _ in range(options.max_pages - 1):
            if not page.next_url:
                break
            if page.next_url in seen:
                result.warnings.append(
                    f"next_url {page.next_url} points back to a page already read; stopped"
                )
                break
            seen.add(page.next_url)
            response = await fetcher.get(page.next_url, headers={"Accept": ACCEPT})
            page = parse_json_feed(
                response.text(), url=response.url, platform=platform, content_type=response.content_type
            )
            result.posts.extend(page.posts)
            result.warnings.extend(page.warnings)
        result.posts = _unique(result.posts)
        return result


def parse_json_feed(
    text: str, *, url: str, platform: str | None = None, content_type: str = ""
) -> JsonFeedPage:
    """Parse one JSON Feed document; items without an id are discarded with a warning.

    Raises:
        InvalidJSONError: the body is not valid JSON.
        NotAFeedError: valid JSON but not a JSON Feed, or an HTML page.
    """
    document = load_json(text, content_type=content_type, expected="a JSON Feed")
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise NotAFeedError('the response is JSON but not a JSON Feed (it has no "items" list)')
    page = JsonFeedPage(
        next_url=_absolute(document.get("next_url"), url), feed_url=_absolute(document.get("feed_url"), url)
    )
    if "jsonfeed.org/version/" not in str(document.get("version", "")):
        page.warnings.append("the feed does not declare a JSON Feed version; reading it anyway")
    context = _FeedContext(
        url=url,
        platform=platform,
        authors=_authors(document),
        language=_text(document.get("language")),
        title=_text(document.get("title")),
    )
    discarded = 0
    for item in document["items"]:
        post = _item_post(item, context) if isinstance(item, dict) else None
        if post is None:
            discarded += 1
        else:
            page.posts.append(post)
    if discarded:
        page.warnings.append(f"discarded {plural(discarded, 'item')} without an id (JSON Feed requires one)")
    return page


@dataclass
class _FeedContext:
    url: str
    platform: str | None
    authors: str | None
    language: str | None
    title: str | None


def _item_post(item: dict[str, Any], context: _FeedContext) -> RawPost | None:
    item_id = item_id_of(item.get("id"))
    if item_id is None:
        return None
    content_html, content_text = _text(item.get("content_html")), _text(item.get("content_text"))
    if content_text:
        text = normalise_whitespace(content_text)
    else:
        text = html_to_text(content_html) or normalise_whitespace(_text(item.get("summary")) or "")
    link = _absolute(item.get("url"), context.url)
    return RawPost(
        external_id=item_id,
        url=link,
        title=" ".join((_text(item.get("title")) or "").split()) or None,
        text=text,
        raw=content_html or content_text or "",
        author=_authors(item) or context.authors,
        published_at=parse_time(item.get("date_published")) or parse_time(item.get("date_modified")),
        platform=context.platform or guess_platform(link),
        lang=(_text(item.get("language")) or context.language or "").lower() or None,
        extra=_extra(item, context),
    )


def item_id_of(value: Any) -> str | None:
    """A JSON Feed item id as a string (numbers coerced), or None when missing or blank."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _authors(obj: dict[str, Any]) -> str | None:
    """Names from `authors` (1.1), else the deprecated singular `author` (1.0), joined by ", "."""
    authors = obj.get("authors")
    if not isinstance(authors, list) or not authors:
        single = obj.get("author")
        authors = [single] if isinstance(single, dict) else []
    names = [name for a in authors if isinstance(a, dict) and (name := _text(a.get("name")))]
    return ", ".join(names) or None


def _extra(item: dict[str, Any], context: _FeedContext) -> dict[str, Any]:
    extra: dict[str, Any] = {"feed_title": context.title} if context.title else {}
    base = context.url
    tags = item.get("tags")
    if isinstance(tags, list):
        extra["tags"] = [tag for tag in tags if isinstance(tag, str)]
    for key in ("external_url", "image", "banner_image"):
        if value := _absolute(item.get(key), base):
            extra[key] = value
    if modified := parse_time(item.get("date_modified")):
        extra["date_modified"] = modified.isoformat()
    return extra


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _absolute(value: Any, base: str) -> str | None:
    if not (text := _text(value)):
        return None
    url = urljoin(base, text)
    return url if url.lower().startswith(("http://", "https://")) else None


def _unique(posts: list[RawPost]) -> list[RawPost]:
    seen: set[str | None] = set()
    unique = []
    for post in posts:
        if post.external_id not in seen:
            seen.add(post.external_id)
            unique.append(post)
    return unique
