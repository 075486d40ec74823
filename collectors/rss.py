"""Kind `rss`: RSS 0.9x/1.0/2.0 and Atom feeds (RSSHub included), fetched by us and parsed by feedparser.

We decode the body ourselves (feedparser turns truncated UTF-8 or undeclared GBK into mojibake), hand
feedparser UTF-8 bytes with a matching declaration, keep unsanitised HTML in `raw`, and treat `bozo` as a
warning as long as entries were recovered.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import io
import re
from datetime import UTC, datetime
from typing import Any

import feedparser
from pydantic import BaseModel, ConfigDict, Field

from collectors.base import Collector, CollectResult, ParseError, RawPost, SourceSpec, SourceState
from collectors.bigfeed import newest_entries
from collectors.feedcheck import describe_bozo, describe_not_a_feed, looks_like_json
from collectors.html import html_to_text, normalise_whitespace
from collectors.http import Fetcher
from collectors.jsonfeed import parse_json_feed
from collectors.values import guess_platform, parse_count, plural

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.9, "
    "text/xml;q=0.9, application/feed+json;q=0.8, application/json;q=0.7, */*;q=0.5"
)
_XML_ENCODING = re.compile(r"""(<\?xml[^>]*?encoding\s*=\s*)(["'])[^"']*\2""", re.IGNORECASE)
# Engagement elements seen in RSSHub output (Weibo `<stats>`, upvotes) and WordPress `slash:comments`.
ENGAGEMENT_KEYS = {
    "reposts": "reposts",
    "comments": "comments",
    "attitudes": "likes",
    "likes": "likes",
    "upvotes": "upvotes",
    "downvotes": "downvotes",
    "slash_comments": "comments",
}


DEFAULT_MAX_ITEMS = 5000  # feedparser at ~1 ms an entry: well inside the collection budget


class RssOptions(BaseModel):
    """Options of an `rss` source."""

    model_config = ConfigDict(extra="forbid")

    platform: str | None = Field(default=None, max_length=32, description="override the guessed platform")
    max_items: int = Field(
        default=DEFAULT_MAX_ITEMS,
        ge=1,
        le=200_000,
        description="keep only the newest this many entries of a bigger feed (a warning on the run says so)",
    )


class RssCollector(Collector[RssOptions]):
    """RSS and Atom feeds, including RSSHub routes for Weibo, Zhihu, Bilibili and others."""

    kind = "rss"
    options_model = RssOptions

    async def collect(self, spec: SourceSpec, state: SourceState, fetcher: Fetcher) -> CollectResult:
        """Fetch the feed conditionally and parse its entries."""
        options = self.parse_options(spec.options)
        response = await fetcher.get(spec.url, state=state, headers={"Accept": FEED_ACCEPT})
        new_state = response.next_state(state)
        if response.not_modified:
            return CollectResult(state=new_state, not_modified=True, http_status=response.status)
        platform = options.platform or guess_platform(spec.url)

        def parse() -> tuple[list[RawPost], list[str]]:
            text = response.text()
            if looks_like_json(text):  # e.g. an RSSHub route with ?format=json
                page = parse_json_feed(
                    text, url=response.url, platform=platform, content_type=response.content_type
                )
                return keep_newest(page.posts, page.warnings, options.max_items)
            cut = newest_entries(text, options.max_items)
            posts, warnings = parse_feed(
                cut.document if cut else text,
                url=response.url,
                content_type=response.content_type,
                platform=platform,
            )
            if cut is not None:
                warnings.insert(0, cut_warning(cut.total, cut.kept, cut.oldest_kept))
            return posts, warnings

        # Decoding and parsing a large feed is CPU work: off the event loop, other fetches go on.
        posts, warnings = await asyncio.to_thread(parse)
        return CollectResult(posts=posts, state=new_state, warnings=warnings, http_status=response.status)


def keep_newest(posts: list[RawPost], warnings: list[str], max_items: int) -> tuple[list[RawPost], list[str]]:
    """At most `max_items` posts, the newest (undated ones count as oldest), with a warning when cut."""
    if len(posts) <= max_items:
        return posts, warnings
    oldest = datetime.min.replace(tzinfo=UTC)
    ranked = sorted(range(len(posts)), key=lambda i: (posts[i].published_at or oldest, -i), reverse=True)
    kept = [posts[i] for i in sorted(ranked[:max_items])]
    dates = [post.published_at for post in kept if post.published_at is not None]
    return kept, [cut_warning(len(posts), len(kept), min(dates) if dates else None), *warnings]


def cut_warning(total: int, kept: int, oldest_kept: datetime | None) -> str:
    """The run warning for a feed cut to its newest entries."""
    since = f" (published since {oldest_kept.isoformat()})" if oldest_kept else ""
    return (
        f"the feed has {plural(total, 'entry')}; kept the newest {kept}{since}, "
        f"skipped {total - kept} older ones (the source's max_items option)"
    )


def utf8_document(text: str) -> bytes:
    """The document as UTF-8 bytes whose XML declaration (if any) says utf-8, for feedparser."""
    head, rest = text[:1024], text[1024:]
    return (_XML_ENCODING.sub(r"\g<1>\g<2>utf-8\g<2>", head, count=1) + rest).encode("utf-8")


def parse_feed(
    text: str, *, url: str, content_type: str = "", platform: str | None = None
) -> tuple[list[RawPost], list[str]]:
    """Posts and warnings from a decoded RSS/Atom document.

    Raises:
        NotAFeedError: the document is not a feed (HTML page, WAF challenge, JS redirect).
        ParseError: the feed is so malformed that no entry could be recovered.
    """
    parsed = feedparser.parse(
        io.BytesIO(utf8_document(text)),
        response_headers={"content-type": "application/xml; charset=utf-8", "content-location": url},
        sanitize_html=False,
    )
    entries = parsed.get("entries", [])
    if not parsed.get("version") and not entries:
        raise describe_not_a_feed(text, content_type)
    feed = parsed.get("feed", {})
    language = (feed.get("language") or "").strip().lower() or None
    feed_title = " ".join((feed.get("title") or "").split()) or None
    warnings: list[str] = []
    posts = [post for entry in entries if (post := entry_to_post(entry, platform, language, feed_title))]
    empty = len(entries) - len(posts)
    bozo = describe_bozo(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    if bozo and not posts:
        raise ParseError(f"the feed is malformed ({bozo}) and no entries could be recovered")
    if bozo:
        warnings.append(f"the feed is malformed ({bozo}); {plural(len(posts), 'entry')} recovered anyway")
    if empty:
        warnings.append(f"skipped {plural(empty, 'entry')} without title, link or content")
    without_id = sum(1 for post in posts if post.extra.get("id_source") != "id")
    if without_id:
        warnings.append(f"{plural(without_id, 'entry')} without id; used the link or a content hash instead")
    return posts, warnings


def entry_to_post(
    entry: Any, platform: str | None, language: str | None, feed_title: str | None = None
) -> RawPost | None:
    """One feedparser entry as a RawPost, or None when it has no title, link or content."""
    title = _title(entry)
    raw, is_html = _content(entry)
    text = html_to_text(raw) if is_html else normalise_whitespace(raw)
    link = _http_url(entry.get("link"))
    if not (title or text or link):
        return None
    published = _time(entry.get("published_parsed")) or _time(entry.get("updated_parsed"))
    entry_id = (entry.get("id") or "").strip()
    id_source = "id" if entry_id else "link" if link else "hash"
    if not entry_id:
        entry_id = link or content_hash(title, published, text)
    return RawPost(
        external_id=entry_id,
        url=link,
        title=title,
        text=text,
        raw=raw,
        author=_author(entry),
        published_at=published,
        engagement=_engagement(entry),
        platform=platform or guess_platform(link),
        lang=language,
        extra=_extra(entry, id_source, feed_title),
    )


def content_hash(title: str | None, published: datetime | None, text: str) -> str:
    """A stable id for an entry without id or link: sha1 of title, published time and text."""
    stamp = published.isoformat() if published else ""
    digest = hashlib.sha1(f"{title or ''}\x1f{stamp}\x1f{text}".encode()).hexdigest()
    return f"sha1:{digest}"


def _title(entry: Any) -> str | None:
    title = entry.get("title") or ""
    detail = entry.get("title_detail") or {}
    if "html" in (detail.get("type") or ""):
        title = html_to_text(title)
    return " ".join(title.split()) or None


def _content(entry: Any) -> tuple[str, bool]:
    """The richest body of an entry (content, else summary) and whether it is HTML."""
    for detail in [*(entry.get("content") or []), entry.get("summary_detail")]:
        if detail and (detail.get("value") or "").strip():
            return detail["value"], "html" in (detail.get("type") or "text/html")
    return (entry.get("summary") or ""), True


def _author(entry: Any) -> str | None:
    detail = entry.get("author_detail") or {}
    name = (detail.get("name") or entry.get("author") or "").strip()
    return name or None


def _http_url(value: Any) -> str | None:
    if isinstance(value, str) and value.strip().lower().startswith(("http://", "https://")):
        return value.strip()
    return None


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, OSError, TypeError, ValueError):
        return None


def _engagement(entry: Any) -> dict[str, int]:
    sources = [entry]
    if isinstance(entry.get("stats"), dict):  # <stats reposts=".." comments=".." attitudes=".."/>
        sources.append(entry["stats"])
    counts: dict[str, int] = {}
    for source in sources:
        for key, name in ENGAGEMENT_KEYS.items():
            count = parse_count(source.get(key))
            if count is not None:
                counts[name] = count
    return counts


def _extra(entry: Any, id_source: str, feed_title: str | None) -> dict[str, Any]:
    extra: dict[str, Any] = {"id_source": id_source}
    if feed_title:
        extra["feed_title"] = feed_title
    tags = [tag.get("term") for tag in entry.get("tags") or [] if tag.get("term")]
    if tags:
        extra["tags"] = tags
    enclosures = [link.get("href") for link in entry.get("links") or [] if link.get("rel") == "enclosure"]
    if enclosures:
        extra["enclosures"] = enclosures
    return extra
