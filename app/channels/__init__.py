"""Channels: where notices go — the outbox written with each change, the dispatcher that delivers it,
and the pure rendering of notices into vendor requests.

notice.py    Notice / NoticePost / make_digest (a NoticeRow's payload; kinds, grades, statuses are enums)
policy.py    decide(): silences, grade filters, quiet hours, minimum interval, at notice time
report_schedule.py  ReportSchedule: the 舆情简报 schedule a channel keeps in `options.reports`
base.py      ChannelRequest, Outcome, DeliveryResult, ChannelConfig, ChannelProvider (a kind's base),
             HTTP/vendor judging
markup.py    per-vendor markup dialects and escaping of untrusted text
message.py   Chinese message composition, sparkline, byte-aware paginate/trim
wecom.py dingtalk.py feishu.py slack.py webhook.py alertmanager.py email.py   one module per kind
             (email.py also sends: SMTP in a thread, `send_mail`)
registry.py  CHANNELS, CHANNEL_KINDS, get_channel
delivery.py  classify(kind, …), async send(request, client, timeout=…)
outbox.py    Outbox (incident notices through the policy), enqueue_report (scheduled 舆情简报)
reminders.py write_reminders: unacknowledged 严重 incidents re-announced through the outbox
claims.py    leasing due deliveries (SKIP LOCKED per channel, pacing, digests)
sending.py   one notice to one channel: render at send time, parts in order, smaller when too large
dispatcher.py  Dispatcher: claim → send → record every attempt, retries and backoff
models.py    ChannelRow, NoticeRow, Delivery, DeliveryAttempt rows
service.py   channel CRUD, config assembly and validation, the delivery log
schemas.py router.py   the HTTP API (/api/v1/channels, test sends, deliveries)
"""

from app.channels.base import (
    ChannelConfig,
    ChannelRequest,
    DeliveryResult,
    Outcome,
    Pacing,
)
from app.channels.delivery import classify, send
from app.channels.notice import Notice, NoticePost, make_digest
from app.channels.registry import CHANNEL_KINDS, UnknownChannel, get_channel

__all__ = [
    "CHANNEL_KINDS",
    "ChannelConfig",
    "ChannelRequest",
    "DeliveryResult",
    "Notice",
    "NoticePost",
    "Outcome",
    "Pacing",
    "UnknownChannel",
    "classify",
    "get_channel",
    "make_digest",
    "send",
]
