"""DingTalk (钉钉) custom robot: markdown (default) or actionCard, 加签 signing in the URL.

Size: the whole request body ≤ 20000 bytes (`460101`). Measured on the exact JSON bytes we send;
trimmed to one message by default (20 messages/min, then a 10-minute block), split over up to
`max_messages` when configured. Mentions: `at.atMobiles` / `at.atUserIds` / `at.isAtAll`, and the
`@<mobile>` text in the message (DingTalk only pings when both are present). actionCard (a button
to the incident) is not documented to ping; we still send `at` and the `@` text, but choose the
markdown style when people must be pinged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from app.channels.base import (
    MOBILE_PATTERN,
    ChannelConfig,
    ChannelProvider,
    ChannelRequest,
    DeliveryResult,
    Notice,
    Outcome,
    classify_code,
    dump_json,
    parse_json_object,
)
from app.channels.markup import Markup
from app.channels.message import Composed, compose, link_line, mention_line, paginate

BODY_LIMIT = 20000
THROTTLE_SECONDS = 600.0
RULES = {
    130101: (Outcome.RATE_LIMITED, THROTTLE_SECONDS),
    90030: (Outcome.RATE_LIMITED, THROTTLE_SECONDS),
    410100: (Outcome.RATE_LIMITED, THROTTLE_SECONDS),  # unverified code, reported as rate limit
    310000: (Outcome.PERMANENT, None),  # sign mismatch, keyword missing, bad timestamp, IP not allowed
    460101: (Outcome.TOO_LARGE, None),
    -1: (Outcome.RETRY, None),
}
HEADERS = {"Content-Type": "application/json; charset=utf-8"}


class DingTalkMarkup(Markup):
    """DingTalk markdown needs a blank line for a visible line break."""

    name = "dingtalk"
    line_sep = "\n\n"


class DingTalkConfig(ChannelConfig):
    """DingTalk robot URL (`…/robot/send?access_token=…`), 加签 secret (`SEC…`), style, keyword."""

    style: Literal["markdown", "actionCard"] = "markdown"
    keyword: str | None = None


def sign(secret: str, timestamp_ms: int) -> str:
    """Base64 HMAC-SHA256 of `"{timestamp}\\n{secret}"` keyed with the secret (not URL-encoded)."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), string_to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(url: str, secret: str | None, now: datetime) -> str:
    """The webhook URL with `&timestamp=…&sign=…` appended (sign URL-encoded exactly once)."""
    if not secret:
        return url
    timestamp_ms = int(now.timestamp() * 1000)
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={quote(sign(secret, timestamp_ms), safe='')}"


def _at(composed: Composed) -> dict[str, Any]:
    users = composed.mentions
    return {
        "atMobiles": [user.lstrip("+") for user in users if MOBILE_PATTERN.match(user)],
        "atUserIds": [user for user in users if user != "@all" and not MOBILE_PATTERN.match(user)],
        "isAtAll": "@all" in users,
    }


def _buttons(composed: Composed) -> dict[str, Any]:
    if len(composed.links) == 1:
        label, url = composed.links[0]
        return {"singleTitle": label, "singleURL": url}
    return {"btns": [{"title": label, "actionURL": url} for label, url in composed.links]}


class DingTalkChannel(ChannelProvider[DingTalkConfig]):
    """钉钉自定义机器人."""

    kind = "dingtalk"
    label = "钉钉"
    config_model = DingTalkConfig
    rate_per_minute = 20

    def _payload(
        self, composed: Composed, config: DingTalkConfig, page: list[str], part: str
    ) -> dict[str, Any]:
        markup = DingTalkMarkup()
        card = config.style == "actionCard" and bool(composed.links)
        lines = [composed.title_line + part, *composed.head, *page]
        lines += ([] if card else link_line(composed, markup)) + composed.foot
        if config.keyword and not any(config.keyword in line for line in lines):
            lines.append(f"关键词：{config.keyword}")
        text = markup.line_sep.join(lines + mention_line(composed, markup))
        title = composed.title + part
        if card:
            action = {"title": title, "text": text, "btnOrientation": "0", **_buttons(composed)}
            return {"msgtype": "actionCard", "actionCard": action, "at": _at(composed)}
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}, "at": _at(composed)}

    def render(self, notice: Notice, config: DingTalkConfig, *, now: datetime) -> list[ChannelRequest]:
        """Signed markdown/actionCard message(s), each body ≤ 20000 bytes."""
        composed = compose(notice, DingTalkMarkup(), max_posts=config.max_posts, mention=config.mention)
        marker = "（9/9）" if config.max_messages > 1 else ""
        pages = paginate(
            composed.body,
            size=lambda page: len(dump_json(self._payload(composed, config, page, marker))),
            limit=BODY_LIMIT,
            max_parts=config.max_messages,
        )
        url = signed_url(config.url, config.secret_value(), now)
        requests = []
        for index, page in enumerate(pages, 1):
            part = f"（{index}/{len(pages)}）" if len(pages) > 1 else ""
            payload = self._payload(composed, config, page, part)
            requests.append(ChannelRequest(self.kind, "POST", url, dict(HEADERS), json=payload))
        return requests

    def classify(
        self, status_code: int, headers: Mapping[str, str], body: bytes, *, now: datetime | None = None
    ) -> DeliveryResult:
        """Success is `errcode == 0`; 130101/90030 throttled ~10 min, 310000 config, 460101 too large."""
        if status_code in (301, 302, 303, 307):
            # Reported (unverified) answer during the 10-minute throttle; treat as rate limited.
            return DeliveryResult(Outcome.RATE_LIMITED, THROTTLE_SECONDS, http_status=status_code)
        data = parse_json_object(body) or {}
        return classify_code(status_code, headers, data.get("errcode"), data.get("errmsg"), RULES, now=now)
