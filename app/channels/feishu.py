"""Feishu / Lark custom bot: an interactive card, signature in the JSON body.

Card: header coloured by grade (严重 red, 影响类 orange, 纠缠性 yellow, 一般 blue; resolved notices
green, tests grey), `lark_md` blocks for the headline/trend and the body, buttons to the incident,
a note with the time, and `<at id=…></at>` mentions (open ids or all; mobiles are not supported by
custom bots). Size: request body ≤ 20 KB, measured as 20000 bytes on the exact JSON sent; trimmed
to one card by default, split over `max_messages` cards when configured. Pacing 100/min and 5/s.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from analysis.grading import Grade
from app.channels.base import (
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
from app.channels.markup import LarkMarkup
from app.channels.message import Composed, compose, mention_line, paginate
from app.core.vocab import IncidentStatus, NoticeKind

BODY_LIMIT = 20000
TEMPLATES = {
    Grade.SEVERE: "red",
    Grade.INFLUENTIAL: "orange",
    Grade.PERSISTENT: "yellow",
    Grade.GENERAL: "blue",
}
RULES = {
    11232: (Outcome.RATE_LIMITED, 60.0),
    19021: (Outcome.PERMANENT, None),  # sign mismatch or timestamp outside one hour
    19022: (Outcome.PERMANENT, None),  # IP not allowed (unverified)
    19024: (Outcome.PERMANENT, None),  # keyword mismatch (unverified)
    9499: (Outcome.TOO_LARGE, None),  # "Bad Request": oversize/malformed body
}
HEADERS = {"Content-Type": "application/json; charset=utf-8"}


class FeishuConfig(ChannelConfig):
    """Feishu/Lark bot URL (`…/open-apis/bot/v2/hook/<token>`) and optional signing secret."""


def sign(secret: str, timestamp: int) -> str:
    """Base64 HMAC-SHA256 with key `"{timestamp}\\n{secret}"` over an empty message."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def template(notice: Notice) -> str:
    """Header colour for a notice."""
    if notice.kind == NoticeKind.TEST:
        return "grey"
    if notice.kind == NoticeKind.REPORT:
        return "turquoise"
    if notice.kind == NoticeKind.RESOLVED or notice.status == IncidentStatus.RESOLVED:
        return "green"
    return TEMPLATES[notice.grade]


def _markdown(lines: list[str]) -> dict[str, Any]:
    return {"tag": "div", "text": {"tag": "lark_md", "content": "\n".join(lines)}}


def _card(notice: Notice, composed: Composed, page: list[str], part: str) -> dict[str, Any]:
    elements = [_markdown(composed.head)] if composed.head else []
    if page:
        elements += [{"tag": "hr"}, _markdown(page)]
    if composed.links:
        buttons = [
            {"tag": "button", "text": {"tag": "plain_text", "content": label}, "type": "primary", "url": url}
            for label, url in composed.links
        ]
        elements.append({"tag": "action", "actions": buttons})
    elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": "；".join(composed.foot)}]})
    mentions = mention_line(composed, LarkMarkup())
    if mentions:
        elements.append(_markdown(mentions))
    header = {"title": {"tag": "plain_text", "content": composed.title + part}, "template": template(notice)}
    return {"config": {"wide_screen_mode": True}, "header": header, "elements": elements}


class FeishuChannel(ChannelProvider[FeishuConfig]):
    """飞书自定义机器人."""

    kind = "feishu"
    label = "飞书"
    config_model = FeishuConfig
    rate_per_minute = 100
    rate_per_second = 5

    def render(self, notice: Notice, config: FeishuConfig, *, now: datetime) -> list[ChannelRequest]:
        """Interactive card(s) ≤ 20000 bytes each, signed in the body when a secret is set."""
        composed = compose(notice, LarkMarkup(), max_posts=config.max_posts, mention=config.mention)
        secret = config.secret_value()
        signature: dict[str, str] = {}
        if secret:
            timestamp = int(now.timestamp())
            signature = {"timestamp": str(timestamp), "sign": sign(secret, timestamp)}

        def payload(page: list[str], part: str) -> dict[str, Any]:
            return {**signature, "msg_type": "interactive", "card": _card(notice, composed, page, part)}

        marker = "（9/9）" if config.max_messages > 1 else ""
        pages = paginate(
            composed.body,
            size=lambda page: len(dump_json(payload(page, marker))),
            limit=BODY_LIMIT,
            max_parts=config.max_messages,
        )
        return [
            ChannelRequest(
                self.kind,
                "POST",
                config.url,
                dict(HEADERS),
                json=payload(page, f"（{index}/{len(pages)}）" if len(pages) > 1 else ""),
            )
            for index, page in enumerate(pages, 1)
        ]

    def classify(
        self, status_code: int, headers: Mapping[str, str], body: bytes, *, now: datetime | None = None
    ) -> DeliveryResult:
        """Success is `code == 0` (or `StatusCode == 0`); 11232 rate-limited, 19021 sign, 9499 size."""
        data = parse_json_object(body) or {}
        code = data.get("code", data.get("StatusCode"))
        message = data.get("msg", data.get("StatusMessage"))
        return classify_code(status_code, headers, code, message, RULES, now=now)
