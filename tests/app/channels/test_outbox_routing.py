"""Pure parts of the outbox: quiet-hour windows, routing, backoff, shrinking, URL masking."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from app.alerts.models import Silence
from app.channels import policy
from app.channels.base import DeliveryResult, Outcome
from app.channels.claims import digest_id
from app.channels.dispatcher import Dispatcher
from app.channels.models import ChannelRow
from app.channels.policy import Verdict, quiet_until
from app.channels.sending import describe, shrink_config, shrink_notice
from app.channels.service import mask_url
from app.channels.webhook import WebhookConfig
from app.core.config import load_settings
from app.core.vocab import DeliveryStatus, NoticeKind
from tests.app.channels.conftest import huge_notice

SHANGHAI_NIGHT = {"start": "22:00", "end": "08:00", "timezone": "Asia/Shanghai"}
BERLIN_LUNCH = {"start": "12:00", "end": "13:30", "timezone": "Europe/Berlin"}


def utc(text: str) -> datetime:
    """A UTC datetime from `YYYY-MM-DD HH:MM`."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "now", "until"),
    [
        (None, "2026-11-20 15:30", None),
        (SHANGHAI_NIGHT, "2026-11-20 13:59", None),  # 21:59 Beijing
        (SHANGHAI_NIGHT, "2026-11-20 14:00", "2026-11-21 00:00"),  # 22:00 Beijing → 08:00 next day
        (SHANGHAI_NIGHT, "2026-11-20 15:30", "2026-11-21 00:00"),  # 23:30
        (SHANGHAI_NIGHT, "2026-11-20 17:00", "2026-11-21 00:00"),  # 01:00 after midnight
        (SHANGHAI_NIGHT, "2026-11-20 23:59", "2026-11-21 00:00"),  # 07:59
        (SHANGHAI_NIGHT, "2026-11-21 00:00", None),  # 08:00 sharp: the window is over
        (BERLIN_LUNCH, "2026-07-01 10:15", "2026-07-01 11:30"),  # summer time: UTC+2
        (BERLIN_LUNCH, "2026-12-01 11:15", "2026-12-01 12:30"),  # winter time: UTC+1
        (BERLIN_LUNCH, "2026-12-01 12:30", None),
    ],
)
def test_quiet_until(window, now, until) -> None:  # type: ignore[no-untyped-def]
    assert quiet_until(window, utc(now)) == (utc(until) if until else None)


@pytest.mark.parametrize(
    ("channel", "topic_id", "grade", "kind", "informed", "expected"),
    [
        ({}, 1, "general", "incident_opened", False, Verdict.SEND),
        ({"enabled": False}, 1, "severe", "incident_opened", False, Verdict.NOT_ROUTED),
        ({"topics": [2, 3]}, 1, "severe", "incident_opened", False, Verdict.NOT_ROUTED),
        ({"topics": [1]}, 1, "general", "incident_opened", False, Verdict.SEND),
        ({"topics": []}, 1, "severe", "incident_opened", False, Verdict.NOT_ROUTED),
        ({"min_grade": "influential"}, 1, "persistent", "incident_opened", False, Verdict.BELOW_GRADE),
        ({"min_grade": "influential"}, 1, "influential", "escalated", False, Verdict.SEND),
        ({"min_grade": "severe"}, 1, "influential", "resolved", True, Verdict.SEND),
        ({"min_grade": "severe"}, 1, "influential", "resolved", False, Verdict.BELOW_GRADE),
        ({"min_grade": "severe", "topics": [2]}, 1, "severe", "resolved", True, Verdict.NOT_ROUTED),
    ],
)
def test_routing_and_grade_filter(channel, topic_id, grade, kind, informed, expected) -> None:  # type: ignore[no-untyped-def]
    row = ChannelRow(**{"enabled": True, "topics": None, "min_grade": "general", **channel})
    decision = policy.decide(
        kind=NoticeKind(kind),
        grade=grade,
        topic_id=topic_id,
        channel=row,
        silences=[],
        informed=informed,
        earlier=[],
        now=utc("2026-11-20 03:00"),
        min_interval=timedelta(minutes=10),
    )
    assert decision.verdict is expected and decision.send is (expected is Verdict.SEND)


NOW = utc("2026-11-20 15:30")  # 23:30 in Beijing


def _silence(topic_id: int | None, max_grade: str | None, start: int, end: int) -> Silence:
    return Silence(
        id=1,
        topic_id=topic_id,
        max_grade=max_grade,
        starts_at=NOW + timedelta(minutes=start),
        ends_at=NOW + timedelta(minutes=end),
        reason="发布会",
    )


@pytest.mark.parametrize(
    ("case", "kind", "grade", "silences", "quiet", "earlier", "verdict", "due_minutes"),
    [
        ("no policy", "incident_opened", "general", [], None, [], Verdict.SEND, 0),
        (
            "topic silence",
            "incident_opened",
            "general",
            [_silence(1, None, -10, 10)],
            None,
            [],
            Verdict.SILENCED,
            None,
        ),
        (
            "global silence",
            "resolved",
            "severe",
            [_silence(None, None, -10, 10)],
            None,
            [],
            Verdict.SILENCED,
            None,
        ),
        (
            "other topic's silence",
            "incident_opened",
            "general",
            [_silence(2, None, -10, 10)],
            None,
            [],
            Verdict.SEND,
            0,
        ),
        (
            "silence up to 影响类, 严重 passes",
            "escalated",
            "severe",
            [_silence(1, "influential", -10, 10)],
            None,
            [],
            Verdict.SEND,
            0,
        ),
        (
            "silence up to 影响类 holds 影响类",
            "escalated",
            "influential",
            [_silence(1, "influential", -10, 10)],
            None,
            [],
            Verdict.SILENCED,
            None,
        ),
        ("silence over", "resolved", "general", [_silence(1, None, -60, 0)], None, [], Verdict.SEND, 0),
        ("silence not started", "resolved", "general", [_silence(1, None, 1, 60)], None, [], Verdict.SEND, 0),
        ("quiet hours postpone", "incident_opened", "influential", [], SHANGHAI_NIGHT, [], Verdict.SEND, 30),
        ("quiet hours spare 严重", "incident_opened", "severe", [], SHANGHAI_NIGHT, [], Verdict.SEND, 0),
        ("minimum interval", "resolved", "general", [], None, [("delivered", -4, False)], Verdict.SEND, 6),
        (
            "escalations skip the interval",
            "escalated",
            "severe",
            [],
            None,
            [("delivered", -4, False)],
            Verdict.SEND,
            0,
        ),
        (
            "a replaced reminder does not count",
            "resolved",
            "severe",
            [],
            None,
            [("pending", 0, True)],
            Verdict.SEND,
            0,
        ),
        (
            "reminder behind waiting news",
            "reminder",
            "severe",
            [],
            None,
            [("pending", 5, False)],
            Verdict.REPEAT,
            None,
        ),
    ],
)
def test_policy_decides_at_notice_time(
    case, kind, grade, silences, quiet, earlier, verdict, due_minutes
) -> None:  # type: ignore[no-untyped-def]
    channel = ChannelRow(id=1, enabled=True, topics=None, min_grade="general", quiet_hours=quiet)
    decision = policy.decide(
        kind=NoticeKind(kind),
        grade=grade,
        topic_id=1,
        channel=channel,
        silences=silences,
        informed=True,
        earlier=[
            policy.Earlier(DeliveryStatus(status), NOW + timedelta(minutes=at), replaceable)
            for status, at, replaceable in earlier
        ],
        now=NOW,
        min_interval=timedelta(minutes=10),
    )
    assert decision.verdict is verdict, case
    if due_minutes is None:
        assert decision.due is None, case
    elif quiet and due_minutes:
        assert decision.due == utc("2026-11-21 00:00"), case  # 08:00 in Beijing
    else:
        assert decision.due == NOW + timedelta(minutes=due_minutes), case
    assert (decision.silence is not None) is (verdict is Verdict.SILENCED), case


def test_backoff_is_full_jitter_capped_and_honours_retry_after() -> None:
    settings = load_settings(outbox_retry_base_seconds=10, outbox_retry_max_seconds=300)
    dispatcher = Dispatcher(db=None, settings=settings, rng=random.Random(3))  # type: ignore[arg-type]
    for attempts, ceiling in ((1, 10), (2, 20), (3, 40), (6, 300), (40, 300)):
        delays = [dispatcher.backoff(attempts).total_seconds() for _ in range(300)]
        assert 0 <= min(delays) and max(delays) <= ceiling
        assert max(delays) > ceiling * 0.8 and min(delays) < ceiling * 0.2  # spread over the whole range
    assert all(dispatcher.backoff(1, retry_after=60) >= timedelta(seconds=60) for _ in range(50))


def test_shrink_levels_cut_the_notice_down() -> None:
    notice = huge_notice(posts=50)
    config = WebhookConfig(
        url="https://example.com/h", secret="whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
    )
    sizes = [len(str(shrink_notice(notice, level).to_dict())) for level in range(4)]
    assert sizes == sorted(sizes, reverse=True) and sizes[3] < sizes[0] / 20
    assert shrink_notice(notice, 0) is notice
    smallest = shrink_notice(notice, 3)
    assert smallest.top_posts == [] or len(smallest.top_posts) <= 1
    assert smallest.incident_url == notice.incident_url and smallest.id == notice.id
    assert [shrink_config(config, level).max_posts for level in range(4)] == [5, 2, 1, 0]


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a***",
        ),
        (
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "https://hooks.slack.com/services/T00000000/B00000000/XXXX***",
        ),
        (
            "https://open.feishu.cn/open-apis/bot/v2/hook/2c3b1f0e-9b2a-4c1d-8e7f-0a1b2c3d4e5f",
            "https://open.feishu.cn/open-apis/bot/v2/hook/2c3b***",
        ),
        ("https://user:pw@example.com/hooks/yuqing", "https://user:***@example.com/hooks/yuqing"),
    ],
)
def test_mask_url(url, masked) -> None:  # type: ignore[no-untyped-def]
    assert mask_url(url) == masked


def test_digest_id_is_stable_for_the_same_bundle() -> None:
    first = digest_id([{"id": "a"}, {"id": "b"}, {"id": "c"}])
    assert first == digest_id([{"id": "c"}, {"id": "a"}, {"id": "b"}])
    assert first != digest_id([{"id": "a"}, {"id": "b"}])


def test_describe_in_chinese() -> None:
    result = DeliveryResult(
        Outcome.PERMANENT, vendor_code=93000, vendor_message="invalid webhook url", http_status=200
    )
    assert describe(result) == "永久失败（HTTP 200，代码 93000）：invalid webhook url"
    assert (
        describe(DeliveryResult(Outcome.RETRY, detail="timeout: ReadTimeout"))
        == "临时失败：timeout: ReadTimeout"
    )
