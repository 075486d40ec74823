"""What the Fetcher returns: a fully read response, plus RFC 8288 Link header parsing."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from collectors.base import SourceState
from collectors.charset import decode_body


@dataclass(frozen=True)
class FetchResponse:
    """A fully read response: status, headers, body bytes, final URL, and whether it was a 304."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: str
    not_modified: bool = False

    @property
    def content_type(self) -> str:
        """The Content-Type header, or `""`."""
        return self.headers.get("content-type", "")

    @property
    def etag(self) -> str | None:
        """The ETag header verbatim (weak ones included), or None."""
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        """The Last-Modified header verbatim, or None."""
        return self.headers.get("last-modified")

    def text(self) -> str:
        """The body decoded with `decode_body` (declared charset, UTF-8, then GB-aware detection)."""
        return decode_body(self.body, self.content_type)

    def next_state(self, state: SourceState) -> SourceState:
        """`state` with this response's validators: a 304 keeps the old ones unless it sends new ones."""
        if self.not_modified:
            etag, modified = self.etag or state.etag, self.last_modified or state.last_modified
        else:
            etag, modified = self.etag, self.last_modified
        return SourceState(etag=etag, last_modified=modified, cursor=state.cursor, extra=dict(state.extra))


def parse_link_header(value: str | None) -> dict[str, str]:
    """`rel` → URL from an RFC 8288 Link header (`<url>; rel="next", <url>; rel="prev"`)."""
    links: dict[str, str] = {}
    if not value:
        return links
    for link in httpx.Response(200, headers={"link": value}).links.values():
        url, rels = link.get("url"), link.get("rel", "")
        for rel in rels.split():
            if url and rel not in links:
                links[rel.lower()] = url
    return links
