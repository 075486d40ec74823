"""The channel registry, keyed by an explicit `kind` string."""

from __future__ import annotations

from typing import Any

from app.channels.alertmanager import AlertmanagerChannel
from app.channels.base import ChannelProvider
from app.channels.dingtalk import DingTalkChannel
from app.channels.email import EmailChannel
from app.channels.feishu import FeishuChannel
from app.channels.slack import SlackChannel
from app.channels.webhook import WebhookChannel
from app.channels.wecom import WeComChannel

CHANNELS: dict[str, ChannelProvider[Any]] = {
    channel.kind: channel
    for channel in (
        WeComChannel(),
        DingTalkChannel(),
        FeishuChannel(),
        SlackChannel(),
        WebhookChannel(),
        AlertmanagerChannel(),
        EmailChannel(),
    )
}
CHANNEL_KINDS: tuple[str, ...] = tuple(CHANNELS)


class UnknownChannel(KeyError):
    """No channel is registered under this kind."""


def get_channel(kind: str) -> ChannelProvider[Any]:
    """The channel registered for `kind`.

    Raises:
        UnknownChannel: the kind is not one of `CHANNEL_KINDS`.
    """
    try:
        return CHANNELS[kind]
    except KeyError:
        raise UnknownChannel(kind) from None
