"""Generic JSON webhook signed per Standard Webhooks (optionally also GitHub-style).

Body: `{"version": 1, **notice.to_dict()}` — raw data for programs, so no markup escaping.
Headers: `webhook-id` (the notice id; `<id>-<n>` for the parts of a split digest),
`webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">` keyed with the base64-decoded part of the `whsec_…` secret. With
`github_signature` on, `X-Hub-Signature-256: sha256=<hex HMAC of the body>` keyed with the full
secret string is added. Size: bodies ≤ `max_body_bytes` (default 256 KiB); a notice caps its long
lists at a common length (marked `"truncated": true`), a digest is split into parts by items.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field, SecretStr, field_validator

from app.channels.base import (
    ChannelConfig,
    ChannelProvider,
    ChannelRequest,
    DeliveryResult,
    Notice,
    Outcome,
    classify_http,
    dump_json,
)
from app.channels.notice import NOTICE_SCHEMA_VERSION
from app.core.vocab import NoticeKind

SECRET_PREFIX = "whsec_"
TRIMMED_LISTS = ("top_posts", "keywords", "reasons", "checklist", "events")


class WebhookConfig(ChannelConfig):
    """Receiver URL and a Standard Webhooks secret `whsec_<base64 of 24–64 random bytes>`."""

    secret: SecretStr
    github_signature: bool = False
    max_body_bytes: int = Field(default=256 * 1024, ge=4096, le=10 * 1024 * 1024)

    @field_validator("secret")
    @classmethod
    def _whsec(cls, value: SecretStr) -> SecretStr:
        secret_key(value.get_secret_value())
        return value


def secret_key(secret: str) -> bytes:
    """The HMAC key: the base64-decoded part after `whsec_`."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("secret must look like whsec_<base64>")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error as exc:
        raise ValueError("secret after whsec_ is not valid base64") from exc
    if not 24 <= len(key) <= 64:
        raise ValueError("secret must decode to 24–64 bytes")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` over `"{id}.{timestamp}.{body}"`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def github_signature(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of the raw body>` as GitHub sends in `X-Hub-Signature-256`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _payload(notice: Notice, **extra: Any) -> dict[str, Any]:
    return {"version": NOTICE_SCHEMA_VERSION, **notice.to_dict(), **extra}


def _capped(payload: dict[str, Any], cap: int) -> dict[str, Any]:
    return {**payload, **{key: payload[key][:cap] for key in TRIMMED_LISTS}}


def fit_notice(notice: Notice, limit: int) -> dict[str, Any]:
    """The payload for one notice within `limit` bytes: long lists are capped at one common length.

    The cap is the largest that fits (binary search) and applies to top_posts, keywords, reasons
    and checklist alike; a capped payload carries `"truncated": true`.
    """
    payload = _payload(notice)
    if len(dump_json(payload)) <= limit:
        return payload
    payload["truncated"] = True
    low, high = 0, max(len(payload[key]) for key in TRIMMED_LISTS)
    while low < high:
        middle = (low + high + 1) // 2
        fits = len(dump_json(_capped(payload, middle))) <= limit
        low, high = (middle, high) if fits else (low, middle - 1)
    return _capped(payload, low)


def split_digest(notice: Notice, limit: int) -> list[dict[str, Any]]:
    """Digest payloads, each with as many (fitted) items as fit in `limit` bytes."""
    envelope = len(dump_json(_payload(notice, items=[], part={"index": 9999, "count": 9999})))
    groups: list[list[dict[str, Any]]] = [[]]
    used = envelope
    for item in notice.items:
        fitted = fit_notice(item, limit // 2)
        fitted.pop("version")
        size = len(dump_json(fitted)) + 1  # the item plus a comma
        if groups[-1] and used + size > limit:
            groups.append([])
            used = envelope
        groups[-1].append(fitted)
        used += size
    if len(groups) == 1:
        return [_payload(notice, items=groups[0])]
    return [
        _payload(notice, items=group, part={"index": index, "count": len(groups)})
        for index, group in enumerate(groups, 1)
    ]


class WebhookChannel(ChannelProvider[WebhookConfig]):
    """Signed generic JSON webhook (Standard Webhooks)."""

    kind = "webhook"
    label = "通用 Webhook"
    config_model = WebhookConfig
    rate_per_minute = 600

    def render(self, notice: Notice, config: WebhookConfig, *, now: datetime) -> list[ChannelRequest]:
        """Signed JSON request(s); split digests get `webhook-id` `<id>-<n>`."""
        if notice.kind == NoticeKind.DIGEST:
            payloads = split_digest(notice, config.max_body_bytes)
        else:
            payloads = [fit_notice(notice, config.max_body_bytes)]
        secret = config.secret.get_secret_value()
        timestamp = int(now.timestamp())
        requests = []
        for index, payload in enumerate(payloads, 1):
            message_id = notice.id if len(payloads) == 1 else f"{notice.id}-{index}"
            body = dump_json(payload)
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Yuqing-Webhook/1",
                "webhook-id": message_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(secret, message_id, timestamp, body),
            }
            if config.github_signature:
                headers["X-Hub-Signature-256"] = github_signature(secret, body)
            request = ChannelRequest(self.kind, "POST", config.url, headers, json=payload, content=body)
            requests.append(request)
        return requests

    def classify(
        self, status_code: int, headers: Mapping[str, str], body: bytes, *, now: datetime | None = None
    ) -> DeliveryResult:
        """2xx ok; 410 Gone permanent (disable the endpoint); 429/5xx retry honouring retry-after."""
        judged = classify_http(status_code, headers, now=now)
        if judged is None:
            return DeliveryResult(Outcome.OK, http_status=status_code)
        if status_code == 410:
            return DeliveryResult(Outcome.PERMANENT, http_status=410, detail="endpoint gone: disable it")
        message = body.decode("utf-8", errors="replace").strip()[:200] or None
        return DeliveryResult(judged.outcome, judged.retry_after, None, message, status_code)
