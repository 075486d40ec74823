"""Parse JSON bodies with errors that say where and why, and recognise HTML served instead of JSON."""

from __future__ import annotations

import json
from typing import Any

from collectors.errors import InvalidJSONError
from collectors.feedcheck import describe_not_a_feed

# An error this close to the end of the body means the document was cut off.
TRUNCATION_WINDOW = 8


def load_json(text: str, *, content_type: str = "", expected: str = "JSON") -> Any:
    """`json.loads` with typed errors.

    Raises:
        NotAFeedError: the body is empty or an HTML page (WAF challenge, error page).
        InvalidJSONError: the body is not valid JSON; the message gives line, column and position.
    """
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped or stripped.startswith("<"):
        raise describe_not_a_feed(text, content_type, expected=expected)
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(stripped.rstrip()) - TRUNCATION_WINDOW
        hint = "; the body looks truncated" if truncated else ""
        raise InvalidJSONError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno} (character {exc.pos}): {exc.msg}{hint}",
            position=exc.pos,
        ) from None
