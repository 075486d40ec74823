"""Slack incoming webhook: `text` fallback plus Block Kit blocks.

Size: ≤ 50 blocks, section text ≤ 3000 characters, and an observed aggregate cap near 13k
characters of block text (`msg_blocks_too_long`). We keep all block text ≤ 12000 characters,
chunk the body into sections of ≤ 3000 characters at line boundaries, and trim (or split over
`max_messages`). Success is HTTP 200 with body `ok`; 429 carries `Retry-After`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import field_validator

from app.channels.base import (
    ChannelConfig,
    ChannelProvider,
    ChannelRequest,
    DeliveryResult,
    Notice,
    Outcome,
    classify_http,
)
from app.channels.markup import SlackMarkup
from app.channels.message import Composed, compose, cut_line, mention_line, paginate

TEXT_LIMIT = 12000
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
MAX_BLOCKS = 50
TOO_LARGE_ERRORS = ("msg_too_long", "msg_blocks_too_long", "too_many_blocks")
HEADERS = {"Content-Type": "application/json; charset=utf-8"}


class SlackConfig(ChannelConfig):
    """Slack incoming webhook URL; mentions are member ids (`U…`) or `@all` (→ `<!channel>`)."""

    @field_validator("secret")
    @classmethod
    def _no_secret(cls, value: object) -> None:
        if value is not None:
            raise ValueError("Slack incoming webhooks have no signing secret; the URL is the credential")
        return None


def chunk_lines(lines: list[str], limit: int = SECTION_LIMIT) -> list[str]:
    """Join lines into texts of at most `limit` characters, breaking only between lines."""
    chunks: list[str] = []
    current: list[str] = []
    for line in lines:
        if len(line) > limit:
            line = cut_line(line, lambda candidate: len(candidate) <= limit)
        if current and len("\n".join([*current, line])) > limit:
            chunks.append("\n".join(current))
            current = []
        current.append(line)
    if current:
        chunks.append("\n".join(current))
    return chunks


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _blocks(composed: Composed, page: list[str], part: str) -> list[dict[str, Any]]:
    title = (composed.title + part)[:HEADER_LIMIT]
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title}}]
    if composed.head:
        blocks.append(_section("\n".join(composed.head)))
    if page:
        blocks.append({"type": "divider"})
        blocks += [_section(text) for text in chunk_lines(page)]
    if composed.links:
        buttons = [
            {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}
            for label, url in composed.links
        ]
        blocks.append({"type": "actions", "elements": buttons})
    context = "  ".join(composed.foot + mention_line(composed, SlackMarkup()))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return blocks[:MAX_BLOCKS]


def _text_size(composed: Composed, page: list[str]) -> int:
    parts = [composed.title, *composed.head, *page, *composed.foot, *mention_line(composed, SlackMarkup())]
    return sum(len(part) + 1 for part in parts)


class SlackChannel(ChannelProvider[SlackConfig]):
    """Slack incoming webhook."""

    kind = "slack"
    label = "Slack"
    config_model = SlackConfig
    rate_per_minute = 60

    def render(self, notice: Notice, config: SlackConfig, *, now: datetime) -> list[ChannelRequest]:
        """Block Kit message(s) within Slack's block and character limits."""
        composed = compose(notice, SlackMarkup(), max_posts=config.max_posts, mention=config.mention)
        pages = paginate(
            composed.body,
            size=lambda page: _text_size(composed, page),
            limit=TEXT_LIMIT,
            max_parts=config.max_messages,
        )
        requests = []
        for index, page in enumerate(pages, 1):
            part = f"（{index}/{len(pages)}）" if len(pages) > 1 else ""
            fallback = "\n".join([composed.title + part, *composed.head[:1]])
            body = {"text": fallback, "blocks": _blocks(composed, page, part)}
            requests.append(ChannelRequest(self.kind, "POST", config.url, dict(HEADERS), json=body))
        return requests

    def classify(
        self, status_code: int, headers: Mapping[str, str], body: bytes, *, now: datetime | None = None
    ) -> DeliveryResult:
        """Success is HTTP 200 with body `ok`; size errors are too large, 429/5xx retried."""
        message = body.decode("utf-8", errors="replace").strip()[:200] or None
        if status_code == 200:
            if message == "ok":
                return DeliveryResult(Outcome.OK, http_status=200, vendor_message=message)
            return DeliveryResult(
                Outcome.PERMANENT, http_status=200, vendor_message=message, detail="unexpected response body"
            )
        if message in TOO_LARGE_ERRORS:
            return DeliveryResult(
                Outcome.TOO_LARGE, vendor_code=message, vendor_message=message, http_status=status_code
            )
        judged = classify_http(status_code, headers, now=now) or DeliveryResult(Outcome.OK)
        return DeliveryResult(judged.outcome, judged.retry_after, message, message, status_code)
