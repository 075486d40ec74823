"""Outbox → dispatcher → loopback vendor emulators that verify signatures, answer with real vendor
error bodies, rate-limit and sometimes fail. A controllable clock stands in for waiting."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.channels.models import ChannelRow, Delivery, DeliveryAttempt, NoticeRow
from app.channels.outbox import Outbox
from tests.support.delivery import (
    Clock,
    make_channel,
    make_topic,
    outbox_settings,
    raise_alert,
    run_ticks,
)
from tests.support.receivers import BODIES

KINDS = ("wecom", "dingtalk", "feishu", "slack", "webhook", "alertmanager")


@pytest.fixture
def fast(settings):  # type: ignore[no-untyped-def]
    """Settings with fast retries and no digest unless a test asks for one."""
    return outbox_settings(settings, outbox_digest_threshold=50, outbox_min_interval_minutes=0)


def _states(db) -> list[tuple[int, str, int]]:  # type: ignore[no-untyped-def]
    with db.session() as session:
        rows = session.execute(select(Delivery.id, Delivery.status, Delivery.attempts).order_by(Delivery.id))
        return [tuple(row) for row in rows]


def _attempts(db, delivery_id: int | None = None) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    with db.session() as session:
        stmt = select(DeliveryAttempt.outcome, DeliveryAttempt.vendor_code).order_by(DeliveryAttempt.id)
        if delivery_id is not None:
            stmt = stmt.where(DeliveryAttempt.delivery_id == delivery_id)
        return [tuple(row) for row in session.execute(stmt)]


def _alert(db, fast, clock, topic_name: str = "某乳业品牌", grade: str = "severe") -> int:  # type: ignore[no-untyped-def]
    with db.session() as session:
        from app.posts.models import Topic

        topic = session.scalar(select(Topic).where(Topic.name == topic_name)) or make_topic(
            session, topic_name
        )
        return raise_alert(session, topic, grade, clock(), Outbox(fast)).id


def test_every_kind_delivers_once_with_a_verified_signature(db, fast, receiver) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    with db.session() as session:
        for kind in KINDS:
            make_channel(session, receiver, kind)
    _alert(db, fast, clock)
    reports = run_ticks(db, fast, clock, ticks=2, step=1)
    assert reports[0].delivered == 6 and reports[1].claimed == 0
    assert [state for _, state, _ in _states(db)] == ["delivered"] * 6
    assert {vendor: len(receiver.accepted(vendor)) for vendor in KINDS} == dict.fromkeys(KINDS, 1)
    assert not receiver.state.rejected
    with db.session() as session:
        notice_id = session.scalars(select(NoticeRow.id)).one()
    assert receiver.accepted("webhook")[0].headers["webhook-id"] == notice_id
    assert "舆情预警" in receiver.accepted("wecom")[0].json()["markdown"]["content"]
    with db.session() as session:
        stmt = select(ChannelRow.kind, DeliveryAttempt.outcome, DeliveryAttempt.vendor_code).join(
            ChannelRow, ChannelRow.id == DeliveryAttempt.channel_id
        )
        attempts = {kind: (outcome, code) for kind, outcome, code in session.execute(stmt)}
    assert attempts == {
        "wecom": ("ok", "0"),
        "dingtalk": ("ok", "0"),
        "feishu": ("ok", "0"),
        "slack": ("ok", None),
        "webhook": ("ok", None),
        "alertmanager": ("ok", None),
    }


BROKEN = {
    "wecom": ({"url": "/cgi-bin/webhook/send?key=revoked-key"}, "93000"),
    "dingtalk": ({"secret": "SECwrong"}, "310000"),
    "feishu": ({"secret": "wrong-secret"}, "19021"),
    "webhook": ({"secret": "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"}, None),
    "alertmanager": ({"secret": "wrong-token"}, None),
}


def test_permanent_error_fails_and_marks_the_channel_unhealthy(db, fast, receiver) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    with db.session() as session:
        for kind, (broken, _) in BROKEN.items():
            fields = {"url": receiver.base + broken["url"]} if "url" in broken else broken
            make_channel(session, receiver, kind, **fields)
    _alert(db, fast, clock)
    run_ticks(db, fast, clock, ticks=5, step=60)
    assert [state for _, state, _ in _states(db)] == ["failed"] * 5
    assert len(receiver.switches.raw) == 5  # one attempt each, no retries
    with db.session() as session:
        for channel in session.scalars(select(ChannelRow)):
            attempts = session.execute(
                select(DeliveryAttempt.outcome, DeliveryAttempt.vendor_code).where(
                    DeliveryAttempt.channel_id == channel.id
                )
            ).all()
            assert [tuple(row) for row in attempts] == [("permanent", BROKEN[channel.kind][1])]
            assert channel.healthy is False and channel.last_error.startswith("永久失败")
            delivery = session.scalars(select(Delivery).where(Delivery.channel_id == channel.id)).one()
            assert delivery.last_error == channel.last_error


def test_a_later_success_makes_the_channel_healthy_again(db, fast, receiver) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    with db.session() as session:
        channel_id = make_channel(session, receiver, "wecom")
    receiver.switches.script["wecom"].append((200, {}, json.dumps(BODIES["wecom_bad_key"]).encode()))
    _alert(db, fast, clock, "话题甲")
    run_ticks(db, fast, clock)
    with db.session() as session:
        assert session.get(ChannelRow, channel_id).healthy is False
    _alert(db, fast, clock, "话题乙")
    run_ticks(db, fast, clock)
    with db.session() as session:
        assert (
            session.get(ChannelRow, channel_id).healthy is True
            and session.get(ChannelRow, channel_id).last_error is None
        )
    assert [state for _, state, _ in _states(db)] == ["failed", "delivered"]


THROTTLED = {
    "slack": ((429, {"Retry-After": "4"}, b"rate_limited"), 4, "retry"),
    "webhook": ((503, {"Retry-After": "7"}, b"maintenance"), 7, "retry"),
    "feishu": ((200, {}, json.dumps(BODIES["feishu_rate_limited"]).encode()), 60, "rate_limited"),
    "wecom": ((200, {}, json.dumps(BODIES["wecom_rate_limited"]).encode()), 60, "rate_limited"),
    "dingtalk": ((200, {}, json.dumps(BODIES["dingtalk_rate_limited"]).encode()), 600, "rate_limited"),
}


def test_retry_after_is_honoured(db, fast, receiver) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    start = clock()
    with db.session() as session:
        for kind, (reply, _, _) in THROTTLED.items():
            make_channel(session, receiver, kind)
            receiver.switches.script[kind].append(reply)
    _alert(db, fast, clock)
    assert run_ticks(db, fast, clock)[0].retried == 5
    for wait in sorted({wait for _, wait, _ in THROTTLED.values()}):
        for offset in (-0.5, 0.5):
            clock.now = start + timedelta(seconds=wait + offset)
            run_ticks(db, fast, clock)
            expected = {kind for kind, (_, w, _) in THROTTLED.items() if w < wait + offset}
            assert {
                kind for kind in THROTTLED if receiver.accepted(kind)
            } == expected  # never before the vendor said
    with db.session() as session:
        for kind, (_, _, outcome) in THROTTLED.items():
            stmt = select(DeliveryAttempt.outcome).join(
                ChannelRow, ChannelRow.id == DeliveryAttempt.channel_id
            )
            assert session.scalars(stmt.where(ChannelRow.kind == kind)).all() == [outcome, "ok"]
            assert len(receiver.accepted(kind)) == 1
    assert [state for _, state, _ in _states(db)] == ["delivered"] * 5


def test_rate_limit_pauses_the_whole_channel(db, fast, receiver) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    with db.session() as session:
        make_channel(session, receiver, "dingtalk")
    receiver.state.per_minute["dingtalk"] = 1  # the robot takes one message, then 130101
    for name in ("话题甲", "话题乙", "话题丙"):
        _alert(db, fast, clock, name)
    run_ticks(db, fast, clock)
    assert [(status, attempts) for _, status, attempts in _states(db)] == [
        ("delivered", 1),
        ("pending", 1),
        ("pending", 0),
    ]
    assert _attempts(db)[-1] == ("rate_limited", "130101")
    clock.advance(seconds=599)
    assert run_ticks(db, fast, clock)[0].claimed == 0  # DingTalk throttles for 10 minutes
    receiver.state.per_minute["dingtalk"] = 20
    clock.advance(seconds=2)
    run_ticks(db, fast, clock)
    assert [status for _, status, _ in _states(db)] == ["delivered"] * 3
    assert len(receiver.accepted("dingtalk")) == 3


def test_transient_failures_back_off_then_deliver(db, fast, receiver) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    with db.session() as session:
        make_channel(session, receiver, "feishu")
    receiver.switches.script["feishu"].extend([(500, {}, b"oops"), (502, {}, b"bad gateway")])
    _alert(db, fast, clock)
    run_ticks(db, fast, clock, ticks=20, step=3)
    assert _states(db) == [(1, "delivered", 3)]
    assert [outcome for outcome, _ in _attempts(db)] == ["retry", "retry", "ok"]


TOO_LARGE = {
    "wecom": (200, {}, json.dumps(BODIES["wecom_too_long"]).encode()),
    "dingtalk": (200, {}, json.dumps(BODIES["dingtalk_too_long"]).encode()),
    "feishu": (400, {}, json.dumps(BODIES["feishu_bad_request"]).encode()),
    "slack": (400, {}, b"msg_too_long"),
    "webhook": (413, {}, b"too large"),
}


def test_too_large_is_rendered_smaller_never_resent_as_is(db, fast, receiver) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    with db.session() as session:
        for kind, reply in TOO_LARGE.items():
            make_channel(session, receiver, kind)
            receiver.switches.script[kind].append(reply)
    _alert(db, fast, clock)
    run_ticks(db, fast, clock)
    assert _states(db) == [(index, "delivered", 1) for index in range(1, 6)]
    with db.session() as session:
        for delivery_id in range(1, 6):
            outcomes = session.scalars(
                select(DeliveryAttempt.outcome).where(DeliveryAttempt.delivery_id == delivery_id)
            ).all()
            assert outcomes == ["too_large", "ok"]
    for kind in TOO_LARGE:
        first, second = [request for request in receiver.switches.raw if request.vendor == kind]
        assert len(second.body) < len(first.body)


def test_always_too_large_fails_without_blaming_the_channel(db, fast, receiver) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    with db.session() as session:
        channel_id = make_channel(session, receiver, "dingtalk")
    receiver.switches.script["dingtalk"].extend(
        [(200, {}, json.dumps(BODIES["dingtalk_too_long"]).encode())] * 4
    )
    _alert(db, fast, clock)
    run_ticks(db, fast, clock, ticks=3, step=60)
    assert _states(db) == [(1, "failed", 1)]
    assert [outcome for outcome, _ in _attempts(db)] == ["too_large"] * 4
    sizes = [len(request.body) for request in receiver.switches.raw]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == 4
    with db.session() as session:
        assert session.get(ChannelRow, channel_id).healthy is True


def test_pacing_is_counted_in_the_database(db, fast, receiver) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    with db.session() as session:
        make_channel(session, receiver, "wecom", options={"rate_per_minute": 2})
    for index in range(5):
        _alert(db, fast, clock, f"话题{index}")
    delivered = [report.delivered for report in run_ticks(db, fast, clock, ticks=3, step=20)]
    assert delivered == [2, 0, 0]  # each tick is a new dispatcher: the budget lives in the database
    clock.advance(seconds=1)
    assert run_ticks(db, fast, clock)[0].delivered == 2
    assert not receiver.state.rejected


def test_several_incidents_at_once_become_one_digest(db, fast, receiver) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    digesting = fast.model_copy(update={"outbox_digest_threshold": 3})
    with db.session() as session:
        make_channel(session, receiver, "webhook")
        make_channel(session, receiver, "wecom")
    for index in range(4):
        _alert(db, digesting, clock, f"话题{index}")
    reports = run_ticks(db, digesting, clock)
    assert reports[0].delivered == 8
    body = receiver.accepted("webhook")[0].json()
    assert len(receiver.accepted("webhook")) == 1 and body["kind"] == "digest" and len(body["items"]) == 4
    assert len(receiver.accepted("wecom")) == 1
    assert "舆情汇总" in receiver.accepted("wecom")[0].json()["markdown"]["content"]
    with db.session() as session:
        notice_ids = set(session.scalars(select(NoticeRow.id)))
        webhook_rows = session.scalars(
            select(Delivery).join(ChannelRow).where(ChannelRow.kind == "webhook")
        ).all()
    assert {item["id"] for item in body["items"]} == notice_ids
    assert {tuple(row.digest_of) for row in webhook_rows} == {tuple(sorted(row.id for row in webhook_rows))}


def test_old_deliveries_expire_and_are_surfaced(db, fast, receiver) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    aging = fast.model_copy(update={"outbox_max_age_minutes": 5})
    with db.session() as session:
        channel_id = make_channel(session, receiver, "slack")
    receiver.switches.down = True
    _alert(db, aging, clock)
    reports = run_ticks(db, aging, clock, ticks=12, step=30)
    assert sum(report.expired for report in reports) == 1
    with db.session() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert delivery.status == "failed" and delivery.last_error.startswith("超过最长投递时间（5 分钟）")
        assert "上次错误：临时失败（HTTP 503" in delivery.last_error
        assert "超过最长投递时间" in session.get(ChannelRow, channel_id).last_error


def test_exactly_one_message_per_change_for_each_subscribed_channel(db, fast, receiver) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    with db.session() as session:
        make_channel(session, receiver, "webhook")
        make_channel(session, receiver, "dingtalk")
        make_channel(session, receiver, "slack", topics=[])  # subscribed to nothing
    _alert(db, fast, clock, grade="influential")
    run_ticks(db, fast, clock, ticks=3, step=1)
    assert (len(receiver.accepted("webhook")), len(receiver.accepted("dingtalk"))) == (1, 1)
    _alert(db, fast, clock, grade="influential")  # same grade: no change, no message
    _alert(db, fast, clock, grade="severe")  # escalation: one more each
    run_ticks(db, fast, clock, ticks=3, step=1)
    assert (len(receiver.accepted("webhook")), len(receiver.accepted("dingtalk"))) == (2, 2)
    assert not receiver.accepted("slack")
    with db.session() as session:
        kinds = session.scalars(select(NoticeRow.kind).order_by(NoticeRow.created_at)).all()
        ids = session.scalars(select(NoticeRow.id).order_by(NoticeRow.created_at)).all()
    assert kinds == ["incident_opened", "escalated"]
    assert [r.headers["webhook-id"] for r in receiver.accepted("webhook")] == ids


def test_a_receiver_down_for_minutes_gets_everything_in_order(db, fast, receiver) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    with db.session() as session:
        make_channel(session, receiver, "wecom")
    receiver.switches.down = True
    from app.alerts import incidents

    for name in ("话题甲", "话题乙"):
        incident_id = _alert(db, fast, clock, name, grade="general")
        clock.advance(seconds=20)
        _alert(db, fast, clock, name, grade="severe")
        clock.advance(seconds=20)
        with db.session() as session:
            incidents.resolve(session, incident_id, actor="张三", now=clock(), write_notice=Outbox(fast))
    run_ticks(db, fast, clock, ticks=30, step=10)  # five minutes down
    states = _states(db)
    assert all(status == "pending" for _, status, _ in states)
    assert sum(attempts for *_, attempts in states) >= 8  # heads retried with backoff…
    assert [attempts for *_, attempts in states][1:3] + [attempts for *_, attempts in states][4:] == [0] * 4
    receiver.switches.down = False
    run_ticks(db, fast, clock, ticks=12, step=10)
    assert [status for _, status, _ in _states(db)] == ["delivered"] * 6
    contents = [request.json()["markdown"]["content"] for request in receiver.accepted("wecom")]
    for name in ("话题甲", "话题乙"):
        verbs = [
            verb
            for text in contents
            if name in text
            for verb in ("舆情预警", "舆情升级", "舆情已解除")
            if verb in text.splitlines()[0]
        ]
        assert verbs == ["舆情预警", "舆情升级", "舆情已解除"]


def test_a_disabled_channel_holds_its_queue(db, fast, receiver) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    with db.session() as session:
        channel_id = make_channel(session, receiver, "slack")
    _alert(db, fast, clock)
    with db.session() as session:
        session.get(ChannelRow, channel_id).enabled = False
    assert run_ticks(db, fast, clock, ticks=2, step=5)[-1].claimed == 0
    assert not receiver.switches.raw
    with db.session() as session:
        session.get(ChannelRow, channel_id).enabled = True
    assert run_ticks(db, fast, clock)[0].delivered == 1
