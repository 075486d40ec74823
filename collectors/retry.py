"""Retry arithmetic: which statuses to retry, backoff with full jitter, and server-requested waits.

This is the fetcher's in-request retry: a few attempts of one HTTP GET, awaited by the caller and
bounded by the fetcher's `max_retry_wait` and `max_total_wait` (collectors/http.py). It is not the
backoff of shared work (sources, push batches, deliveries), which lives with the leases in
app/core/leases.py and is read from settings. collectors/ may not import app/
(tests/test_boundaries.py), and the two differ in what they count (attempts of one request from 0
here; failures of a job in a row there) and in who waits (this coroutine; the database's
`next_run_at` / `available_at` / `next_attempt_at` there), so each keeps its own one-line formula,
both "full jitter": uniform in [0, min(cap, base × 2^n)).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

from collectors.values import parse_time

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# A bare number in X-RateLimit-Reset above this is an epoch timestamp, below it a delay in seconds.
EPOCH_THRESHOLD = 1e9


def backoff_delay(attempt: int, *, base: float, cap: float, jitter: Callable[[], float]) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt)]."""
    return jitter() * min(cap, base * (2**attempt))


def _server_now(headers: Mapping[str, str], now: float) -> float:
    """The server's idea of now (its Date header) so that clock skew does not distort waits."""
    date = headers.get("date")
    if date:
        try:
            return parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError):
            pass
    return now


def retry_after_seconds(headers: Mapping[str, str], *, now: float, status: int = 429) -> float | None:
    """Seconds the server asks us to wait: Retry-After (seconds or HTTP date), else on 429 X-RateLimit-Reset.

    `now` is the local wall clock (epoch seconds); returns None when the server says nothing usable.
    """
    value = (headers.get("retry-after") or "").strip()
    if value:
        if value.isdigit():
            return float(value)
        try:
            moment = parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, IndexError):
            moment = None
        if moment is not None:
            return max(0.0, moment - _server_now(headers, now))
    if status == 429:
        return reset_seconds(headers, now=now)
    return None


def reset_seconds(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds until X-RateLimit-Reset (ISO-8601 timestamp, epoch seconds, or a delay), or None."""
    value = (headers.get("x-ratelimit-reset") or "").strip()
    if not value:
        return None
    try:
        number = float(value)
        if not math.isfinite(number):
            return None
    except ValueError:
        moment: datetime | None = parse_time(value)
        if moment is None:
            return None
        return max(0.0, moment.timestamp() - _server_now(headers, now))
    if number > EPOCH_THRESHOLD:
        return max(0.0, number - _server_now(headers, now))
    return max(0.0, number)
