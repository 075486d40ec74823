"""Typed errors raised by collectors. The scheduler records them on the source and keeps going.

Our exception hierarchy:

* CollectorError
  + FetchError
    - NetworkError
      · FetchTimeout
    - HTTPStatusError
    - RateLimitedError
    - BodyTooLargeError
    - BlockedAddressError
  + ParseError
    - NotAFeedError
    - InvalidJSONError
    - EncodingError
  + ConfigError

Messages are written for the person who configured the source: short, specific, and never a dump of
the response body (at most a short excerpt).
"""

from __future__ import annotations

from urllib.parse import urlsplit

EXCERPT_CHARS = 160


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Collapse whitespace and cut `text` to `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _where(url: str | None) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    return f" from {parts.netloc or url}"


class CollectorError(Exception):
    """Base class of every error a collector raises on purpose."""


class FetchError(CollectorError):
    """The source could not be fetched."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class NetworkError(FetchError):
    """Connecting, sending or reading failed (DNS, refused, reset, TLS, protocol)."""


class BlockedAddressError(FetchError):
    """The host (perhaps reached by a redirect) resolves to an address the policy forbids."""


class FetchTimeout(NetworkError):
    """The server did not answer or finish the response in time (not a builtin TimeoutError on purpose)."""


class HTTPStatusError(FetchError):
    """The server answered with an error status (4xx/5xx) that retries did not cure."""

    def __init__(
        self, status: int, body_excerpt: str = "", *, url: str | None = None, message: str | None = None
    ) -> None:
        self.body_excerpt = excerpt(body_excerpt)
        if message is None:
            message = f"HTTP {status}{_where(url)}"
            if self.body_excerpt:
                message += f": {self.body_excerpt}"
        super().__init__(message, url=url, status=status)


class RateLimitedError(FetchError):
    """The server asked us to slow down; `retry_after` is how many seconds it wants us to wait."""

    def __init__(
        self,
        retry_after: float | None,
        *,
        url: str | None = None,
        status: int | None = 429,
        message: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        if message is None:
            wait = f"; it asks us to wait {retry_after:.0f} s" if retry_after is not None else ""
            message = f"rate limited (HTTP {status}){_where(url)}{wait}"
        super().__init__(message, url=url, status=status)


class BodyTooLargeError(FetchError):
    """The response body is larger than the configured cap; the download was aborted."""

    def __init__(self, limit: int, *, url: str | None = None) -> None:
        self.limit = limit
        super().__init__(f"response body{_where(url)} is larger than the {limit:,} byte limit", url=url)


class ParseError(CollectorError):
    """The response arrived but its content could not be understood."""


class NotAFeedError(ParseError):
    """The response is not a feed at all (an HTML page, a WAF/anti-bot challenge, a JS redirect)."""


class InvalidJSONError(ParseError):
    """The body is not valid JSON (often truncated); `position` is the character offset of the error."""

    def __init__(self, message: str, *, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


class EncodingError(ParseError):
    """The body could not be decoded to text with any plausible character encoding."""


class ConfigError(CollectorError):
    """The source definition (URL or options) is invalid for its kind."""
