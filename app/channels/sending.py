"""Sending one notice to one channel: render at send time, parts in order, smaller when too large.

Used by the dispatcher (with a lease deadline and the progress of earlier attempts) and by
`POST /channels/{id}/test`. Rendering happens here, at each attempt, because DingTalk, Feishu and
signed webhooks put a timestamp into the signature. A vendor that answers "too large" gets the
notice again at once, cut down one level (fewer reasons, keywords, steps and quoted posts), never
the same bytes twice; after MAX_SHRINK levels the delivery fails.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import httpx

from analysis.grading import Grade
from app.channels.base import ChannelConfig, DeliveryResult, Outcome
from app.channels.delivery import send
from app.channels.email import AddressGuard, send_mail
from app.channels.models import ChannelRow
from app.channels.notice import Notice
from app.channels.registry import get_channel
from app.core.vocab import NoticeKind

MAX_SHRINK = 3
SHRINK_KEEP = {1: (5, 8, 5, 2), 2: (3, 5, 3, 1), 3: (1, 0, 0, 0)}  # reasons, keywords, checklist, posts
OUTCOME_LABELS = {
    "ok": "已送达",
    "retry": "临时失败",
    "rate_limited": "被限流",
    "permanent": "永久失败",
    "too_large": "消息过大",
}


def shrink_notice(notice: Notice, level: int) -> Notice:
    """A smaller notice for a vendor that said "too large": fewer reasons, keywords, steps, posts."""
    if level <= 0:
        return notice
    reasons, keywords, steps, posts = SHRINK_KEEP[min(level, MAX_SHRINK)]
    return replace(
        notice,
        headline=notice.headline[: 300 // level],
        reasons=notice.reasons[:reasons],
        events=notice.events[:reasons],
        keywords=notice.keywords[:keywords],
        checklist=notice.checklist[:steps],
        top_posts=notice.top_posts[:posts],
        trend=notice.trend if level < MAX_SHRINK else [],
        items=[shrink_notice(i, level) for i in notice.items],
    )


def shrink_config(config: ChannelConfig, level: int) -> ChannelConfig:
    """The channel config with fewer quoted posts at a shrink level."""
    if level <= 0:
        return config
    return config.model_copy(
        update={"max_posts": min(config.max_posts, SHRINK_KEEP[min(level, MAX_SHRINK)][3])}
    )


@dataclass(frozen=True)
class Attempt:
    """One HTTP request sent and the vendor's judged answer."""

    at: datetime
    result: DeliveryResult
    duration_ms: int


@dataclass
class SendReport:
    """How sending one notice went: the last answer, every attempt, progress through split parts."""

    result: DeliveryResult | None = None
    attempts: list[Attempt] = field(default_factory=list)
    parts_sent: int = 0
    shrink: int = 0
    released: bool = False


async def send_notice(
    *,
    kind: str,
    config: ChannelConfig,
    notice: Notice,
    client: httpx.AsyncClient,
    timeout: float,
    clock: Callable[[], datetime],
    parts_sent: int = 0,
    shrink: int = 0,
    deadline: datetime | None = None,
    guard: AddressGuard | None = None,
) -> SendReport:
    """Render (at send time) and send a notice's requests in order, resuming after `parts_sent`.

    Stops at the first answer that is not ok; "too large" renders smaller and starts over, up to
    MAX_SHRINK times. No request starts that could still run at `deadline` (the lease end):
    the report is then `released` and the rest is left for a later attempt. E-mail goes over SMTP
    (app/channels/email.py) with `guard` checking the server's address; the rest over `client`.
    """
    channel = get_channel(kind)
    report = SendReport(parts_sent=parts_sent, shrink=shrink)
    while True:
        requests = channel.render(
            shrink_notice(notice, report.shrink), shrink_config(config, report.shrink), now=clock()
        )
        for request in requests[report.parts_sent :]:
            if deadline is not None and clock() + timedelta(seconds=timeout) > deadline:
                report.released = True
                return report
            started = time.monotonic()
            if request.method == "SMTP":
                result = await send_mail(request, config, timeout=timeout, guard=guard)
            else:
                result = await send(request, client, timeout=timeout)
            report.attempts.append(Attempt(clock(), result, int((time.monotonic() - started) * 1000)))
            report.result = result
            if not result.ok:
                break
            report.parts_sent += 1
        else:  # every part accepted (or nothing left to send)
            report.result = report.result or DeliveryResult(Outcome.OK)
            return report
        if report.result.outcome is not Outcome.TOO_LARGE or report.shrink >= MAX_SHRINK:
            return report
        report.shrink, report.parts_sent = report.shrink + 1, 0


def make_test_notice(channel: ChannelRow, *, now: datetime, base_url: str) -> Notice:
    """The message `POST /channels/{id}/test` sends."""
    return Notice(
        id=str(uuid.uuid4()),
        kind=NoticeKind.TEST,
        incident_id=None,
        topic=channel.name,
        grade=Grade.GENERAL,
        headline="收到这条消息，说明预警通道配置正确",
        created_at=now,
        incident_url=f"{base_url.rstrip('/')}/#/channels",
    )


def describe(result: DeliveryResult) -> str:
    """A vendor answer in one Chinese line, for `last_error`."""
    facts = [
        f"HTTP {result.http_status}" if result.http_status else None,
        f"代码 {result.vendor_code}" if result.vendor_code not in (None, "") else None,
    ]
    head = "，".join(fact for fact in facts if fact)
    text = result.vendor_message or result.detail or ""
    line = (
        OUTCOME_LABELS[result.outcome.value] + (f"（{head}）" if head else "") + (f"：{text}" if text else "")
    )
    return line[:500]
