"""Recognise what came back instead of a feed, and describe feed problems in one human line."""

from __future__ import annotations

import re
from xml.sax import SAXParseException

from collectors.errors import NotAFeedError, excerpt
from collectors.html import html_to_text

SNIFF_CHARS = 8192
# Markers of anti-bot pages: 云锁/YunSuo, Cloudflare, 加速乐 (__jsl_clearance), Aliyun WAF (acw_sc__v2).
CHALLENGE_MARKERS = (
    "security_verify",
    "yunsuo",
    "cf-chl",
    "cf_chl",
    "challenge-platform",
    "just a moment",
    "checking your browser",
    "__jsl_clearance",
    "acw_sc__v2",
    "captcha",
    "安全验证",
    "人机验证",
    "访问验证",
)
HTML_MARKERS = ("<html", "<!doctype html", "<head", "<body", "<p>", "<div", "<script", "<title>", "<br")
_JS_REDIRECT = re.compile(r"""location(?:\.href)?\s*=\s*["']([^"']{1,200})["']""", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def looks_like_json(text: str) -> bool:
    """True when the body starts like a JSON object or array (e.g. a JSON Feed at an RSS URL)."""
    return text.lstrip("\ufeff \t\r\n")[:1] in ("{", "[")


def describe_not_a_feed(text: str, content_type: str = "", *, expected: str = "a feed") -> NotAFeedError:
    """A NotAFeedError saying what the body is instead: a WAF challenge, a JS redirect, an HTML page."""
    head = text[:SNIFF_CHARS]
    lowered = head.lower()
    served_as = f" (served as {content_type.split(';')[0].strip()})" if content_type else ""
    if not head.strip():
        return NotAFeedError(f"the response body is empty{served_as}, not {expected}")
    if any(marker in lowered for marker in CHALLENGE_MARKERS) or (
        "document.cookie" in lowered and "location" in lowered
    ):
        return NotAFeedError(
            f"the server returned an HTML page (probably a WAF/anti-bot challenge), not {expected}"
            f"{served_as}; the site blocks automated readers"
        )
    redirect = _JS_REDIRECT.search(head)
    if redirect and "<script" in lowered:
        return NotAFeedError(
            f"the server returned an HTML page that redirects with JavaScript to {redirect.group(1)!r}, "
            f"not {expected}{served_as}"
        )
    if any(marker in lowered for marker in HTML_MARKERS):
        title = _TITLE.search(head)
        named = f" titled {excerpt(html_to_text(title.group(1)), 80)!r}" if title else ""
        return NotAFeedError(f"the server returned an HTML page{named}, not {expected}{served_as}")
    what = "an RSS, Atom or JSON feed" if expected == "a feed" else expected
    return NotAFeedError(f"the response is not {what}{served_as}; it starts with {excerpt(head, 60)!r}")


def describe_bozo(exc: BaseException | None) -> str:
    """feedparser's bozo exception in a few words, e.g. `not well-formed (invalid token) at line 176`."""
    if exc is None:
        return "unknown problem"
    if isinstance(exc, SAXParseException):
        return f"{exc.getMessage()} at line {exc.getLineNumber()}"
    message = excerpt(str(exc), 120)
    name = type(exc).__name__
    return f"{name}: {message}" if message else name
