"""Credentials as the API shows them, and masked values sent back.

The API never shows a stored credential; it shows a mask. A client that reads a resource, edits
one field and sends the rest back must not overwrite the credential with its mask, so every masked
value that comes back as it was shown keeps the stored value. A mask with nothing stored behind it
(or that does not match what was shown) is an error, never stored.

- options (sources, channels): values under credential-like keys become `***`;
- URLs: the password, query values and long path segments (webhook tokens) are cut to their first
  four characters plus `***`; scheme, host (IPv6 brackets included), port and the rest of the path
  stay as stored.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

SENSITIVE_KEYS = (
    "token",
    "password",
    "secret",
    "cookie",
    "authorization",
    "api_key",
    "api-key",
    "apikey",
    "access_key",
    "access-key",
    "credential",
    "signature",
)
REDACTED = "***"
TOKEN_SEGMENT_LENGTH = 16  # path segments this long are taken for tokens (Feishu hook ids, Slack paths)


def redact(value: Any) -> Any:
    """Options as the API shows them: credentials (tokens, cookies, auth headers) masked."""
    if isinstance(value, dict):
        return {
            key: REDACTED
            if any(word in str(key).lower() for word in SENSITIVE_KEYS) and item
            else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def restore_redacted(new: Any, old: Any, path: str = "options") -> Any:
    """Options sent back as the API showed them: each masked credential keeps its stored value.

    Raises:
        ValueError: a masked value with nothing stored behind it.
    """
    if isinstance(new, dict):
        previous = old if isinstance(old, dict) else {}
        return {key: restore_redacted(item, previous.get(key), f"{path}.{key}") for key, item in new.items()}
    if isinstance(new, list):
        previous_items = old if isinstance(old, list) and len(old) == len(new) else [None] * len(new)
        return [
            restore_redacted(item, before, f"{path}[{index}]")
            for index, (item, before) in enumerate(zip(new, previous_items, strict=True))
        ]
    if new == REDACTED:
        if old is None or old == REDACTED:
            raise ValueError(f"{path} is {REDACTED!r} (masked) and no value is stored: send the real value")
        return old
    return new


def _cut(value: str) -> str:
    """Four leading characters of a long value (to recognise it) and the mask; a short one wholly masked."""
    if not value:
        return value
    return (value[:4] if len(value) >= 8 else "") + REDACTED


def _mask_segment(segment: str) -> str:
    return _cut(segment) if len(segment) >= TOKEN_SEGMENT_LENGTH else segment


def _mask_pair(pair: str) -> str:
    name, equals, value = pair.partition("=")
    return f"{name}{equals}{_cut(value)}"


def _mask_netloc(netloc: str) -> str:
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        return netloc
    user, colon, password = userinfo.partition(":")
    return f"{user}{colon}{REDACTED if password else ''}@{hostport}"


def mask_url(url: str) -> str:
    """The URL with its credentials masked; everything else exactly as stored (raw, not re-encoded)."""
    parts = urlsplit(url)
    path = "/".join(_mask_segment(segment) for segment in parts.path.split("/"))
    query = "&".join(_mask_pair(pair) for pair in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, _mask_netloc(parts.netloc), path, query, parts.fragment))


def _restore_pieces(new: list[str], old: list[str], mask: Any, what: str) -> list[str]:
    restored = []
    for index, piece in enumerate(new):
        if REDACTED in piece:
            if index < len(old) and mask(old[index]) == piece:
                piece = old[index]
            else:
                message = f"{what} {piece!r} is masked and does not match the stored URL: send the real value"
                raise ValueError(message)
        restored.append(piece)
    return restored


def restore_masked_url(new: str, old: str | None) -> str:
    """A URL sent back as the API showed it: each masked piece keeps the stored one.

    Raises:
        ValueError: a masked piece that is not the mask of the stored piece at the same place.
    """
    if REDACTED not in new:
        return new
    parts, stored = urlsplit(new), urlsplit(old or "")
    netloc = _restore_pieces([parts.netloc], [stored.netloc], _mask_netloc, "the user and password")[0]
    segments = _restore_pieces(parts.path.split("/"), stored.path.split("/"), _mask_segment, "path segment")
    path = "/".join(segments)
    query = "&".join(
        _restore_pieces(parts.query.split("&"), stored.query.split("&"), _mask_pair, "query parameter")
    )
    return urlunsplit((parts.scheme, netloc, path, query if parts.query else "", parts.fragment))
