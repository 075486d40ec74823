"""One delivery attempt: send a rendered request and judge the answer as its vendor means it.

No loops and no sleeping here: the outbox dispatcher owns retries, backoff and pacing. Network
errors and timeouts become a `retry` result, never an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

import httpx

from app.channels.base import ChannelRequest, DeliveryResult, Outcome
from app.channels.registry import get_channel
from collectors.errors import BlockedAddressError

log = logging.getLogger(__name__)


def classify(
    kind: str, status_code: int, headers: Mapping[str, str], body: bytes, *, now: datetime | None = None
) -> DeliveryResult:
    """Judge a response for channel `kind` (errcode/code == 0, Slack `ok`, or 2xx — not HTTP alone)."""
    return get_channel(kind).classify(status_code, headers, body, now=now)


async def send(request: ChannelRequest, client: httpx.AsyncClient, *, timeout: float) -> DeliveryResult:
    """Send one request once and classify the answer; never raises for network trouble."""
    try:
        response = await client.request(
            request.method,
            request.url,
            headers=request.headers,
            content=request.body_bytes(),
            timeout=timeout,
            follow_redirects=False,
        )
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        log.warning("channel %s: unusable URL %s (%s)", request.kind, request.safe_url, type(exc).__name__)
        return DeliveryResult(Outcome.PERMANENT, detail=f"invalid url: {type(exc).__name__}")
    except BlockedAddressError as exc:  # the host resolves to a private address that is not allow-listed
        log.warning("channel %s: %s", request.kind, exc)
        return DeliveryResult(Outcome.PERMANENT, detail=str(exc))
    except httpx.TimeoutException as exc:
        log.info("channel %s: timeout sending to %s (%s)", request.kind, request.safe_url, type(exc).__name__)
        return DeliveryResult(Outcome.RETRY, detail=f"timeout: {type(exc).__name__}")
    except httpx.HTTPError as exc:
        log.info("channel %s: network error to %s (%s)", request.kind, request.safe_url, type(exc).__name__)
        return DeliveryResult(Outcome.RETRY, detail=f"network error: {type(exc).__name__}")
    result = classify(request.kind, response.status_code, response.headers, response.content)
    if not result.ok:
        log.warning(
            "channel %s: %s from %s (http %s, code %s: %s)",
            request.kind,
            result.outcome.value,
            request.safe_url,
            result.http_status,
            result.vendor_code,
            result.vendor_message,
        )
    return result
