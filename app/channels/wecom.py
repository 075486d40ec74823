"""WeCom (企业微信) group robot: one markdown message per notice, mentions as `<@userid>`.

Size: markdown `content` ≤ 4096 UTF-8 bytes. A notice is trimmed to one message by default
(the robot allows only 20 messages/min, so splitting eats the budget of other alerts);
`max_messages` > 1 splits the body over up to that many messages before trimming.
Mentions: markdown supports `<@userid>` only. `@all` and mobile numbers need a `text` message, so
when any are configured a short follow-up text message carries `mentioned_list` /
`mentioned_mobile_list`. There is no signing; the `key` in the URL is the only credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import field_validator

from app.channels.base import (
    MOBILE_PATTERN,
    ChannelConfig,
    ChannelProvider,
    ChannelRequest,
    DeliveryResult,
    Notice,
    Outcome,
    classify_code,
    parse_json_object,
)
from app.channels.markup import WeComMarkup
from app.channels.message import Composed, compose, link_line, mention_line, paginate, utf8_len

CONTENT_LIMIT = 4096
TEXT_LIMIT = 2048
RULES = {
    45009: (Outcome.RATE_LIMITED, 60.0),
    93000: (Outcome.PERMANENT, None),
    -1: (Outcome.RETRY, None),
}
HEADERS = {"Content-Type": "application/json; charset=utf-8"}


class WeComConfig(ChannelConfig):
    """WeCom robot webhook URL (`…/cgi-bin/webhook/send?key=…`); no secret."""

    @field_validator("secret")
    @classmethod
    def _no_secret(cls, value: object) -> None:
        if value is not None:
            raise ValueError("企业微信群机器人不支持签名，请不要填写 secret")
        return None


def _content(composed: Composed, markup: WeComMarkup, page: list[str], part: str) -> str:
    lines = [composed.title_line + part, *composed.head, *page]
    lines += link_line(composed, markup) + composed.foot + mention_line(composed, markup)
    return markup.line_sep.join(lines)


def _follow_up(composed: Composed, url: str) -> ChannelRequest | None:
    everyone = ["@all"] if "@all" in composed.mentions else []
    mobiles = [user.lstrip("+") for user in composed.mentions if MOBILE_PATTERN.match(user)]
    if not everyone and not mobiles:
        return None
    text: dict[str, object] = {"content": f"{composed.title}，请及时关注"}
    if everyone:
        text["mentioned_list"] = everyone
    if mobiles:
        text["mentioned_mobile_list"] = mobiles
    return ChannelRequest("wecom", "POST", url, dict(HEADERS), json={"msgtype": "text", "text": text})


class WeComChannel(ChannelProvider[WeComConfig]):
    """企业微信群机器人."""

    kind = "wecom"
    label = "企业微信"
    config_model = WeComConfig
    rate_per_minute = 20

    def render(self, notice: Notice, config: WeComConfig, *, now: datetime) -> list[ChannelRequest]:
        """Markdown message(s) ≤ 4096 bytes each, plus a text message when @all/mobiles are mentioned."""
        markup = WeComMarkup()
        composed = compose(notice, markup, max_posts=config.max_posts, mention=config.mention)
        marker = "（9/9）" if config.max_messages > 1 else ""
        pages = paginate(
            composed.body,
            size=lambda page: utf8_len(_content(composed, markup, page, marker)),
            limit=CONTENT_LIMIT,
            max_parts=config.max_messages,
        )
        requests = []
        for index, page in enumerate(pages, 1):
            part = f"（{index}/{len(pages)}）" if len(pages) > 1 else ""
            body = {"msgtype": "markdown", "markdown": {"content": _content(composed, markup, page, part)}}
            requests.append(ChannelRequest(self.kind, "POST", config.url, dict(HEADERS), json=body))
        follow_up = _follow_up(composed, config.url)
        return requests + ([follow_up] if follow_up else [])

    def classify(
        self, status_code: int, headers: Mapping[str, str], body: bytes, *, now: datetime | None = None
    ) -> DeliveryResult:
        """Success is `errcode == 0`; 45009 rate-limited, 93000 bad key, 40058 "exceed" too large."""
        data = parse_json_object(body) or {}
        code, message = data.get("errcode"), data.get("errmsg")
        if code == 40058 and "exceed" in str(message):
            return DeliveryResult(Outcome.TOO_LARGE, None, code, message, status_code)
        return classify_code(status_code, headers, code, message, RULES, now=now)
