"""The e-mail channel against a real SMTP server on loopback (aiosmtpd): a scheduled report and an
incident notice delivered through the outbox, login checked by the server, a refused login failing
the delivery, the password encrypted at rest, Chinese validation — SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select, text, update

from app.channels import service as channels
from app.channels.models import ChannelRow, Delivery
from app.channels.outbox import Outbox
from app.channels.schemas import ChannelCreate
from app.core.errors import BadRequest
from app.core.vocab import DeliveryStatus
from app.reports.delivery import queue_due_reports
from tests.support.delivery import Clock, make_topic, outbox_settings, raise_alert, run_ticks

USER, PASSWORD = "yuqing", "mailbox-s3cret!"
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback only


class Mailbox:
    """An aiosmtpd handler that keeps every accepted message."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Keep the message (aiosmtpd hook)."""
        parsed = message_from_bytes(envelope.original_content, policy=default_policy)
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def analyzer():  # type: ignore[no-untyped-def]
    """These tests never analyse posts."""
    from app.posts.analyzer import PostAnalyzer

    return PostAnalyzer(model=object(), tokenizer=object())  # type: ignore[arg-type]


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on loopback that requires a login (over plain SMTP, as loopback allows)."""
    mailbox, port = Mailbox(), _free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def _email_channel(db, port: int, password: str = PASSWORD, **options: Any) -> int:  # type: ignore[no-untyped-def]
    data = ChannelCreate(
        name="公关部邮件",
        kind="email",
        url=f"smtp://127.0.0.1:{port}",
        secret=password,
        options={
            "username": USER,
            "sender": "yuqing@example.cn",
            "recipients": ["pr@example.cn", "ceo@example.cn"],
            "starttls": False,
            **options,
        },
    )
    with db.session() as session:
        return channels.create(session=session, data=data, allowlist=["127.0.0.0/8"]).id


def _parts(message: Message) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()  # type: ignore[attr-defined]


def test_scheduled_report_by_email(db, settings, smtp) -> None:  # type: ignore[no-untyped-def]
    mailbox, port = smtp
    fast = outbox_settings(settings, base_url="https://yuqing.example.cn")
    clock = Clock()
    with db.session() as session:
        topic_id = make_topic(session, "星河汽车").id
    channel_id = _email_channel(db, port, reports={"daily": "00:00", "weekly": "MON 00:00"})
    with db.session() as session:
        session.execute(
            update(ChannelRow)
            .where(ChannelRow.id == channel_id)
            .values(created_at=clock() - timedelta(days=8))
        )
        assert queue_due_reports(session, settings=fast, now=clock()) == 2
    with db.session() as session:
        assert queue_due_reports(session, settings=fast, now=clock()) == 0
    run_ticks(db, fast, clock, ticks=3, step=1)
    assert len(mailbox.messages) == 2
    subjects = sorted(str(message["Subject"]) for _, _, message in mailbox.messages)
    assert subjects == ["【周报】舆情简报 · 星河汽车", "【日报】舆情简报 · 星河汽车"]
    sender, recipients, message = mailbox.messages[0]
    assert sender == "yuqing@example.cn" and recipients == ["pr@example.cn", "ceo@example.cn"]
    assert str(message["Message-ID"]).endswith("@yuqing>")
    plain, html = _parts(message)
    link = f"https://yuqing.example.cn/api/v1/reports/topics/{topic_id}?period="
    assert "概况" in plain and "声量 0 条" in plain and f"完整报告: {link}" in plain
    assert f'<a href="{link}' in html and "完整报告</a>" in html
    with db.session() as session:
        assert set(session.scalars(select(Delivery.status))) == {DeliveryStatus.DELIVERED}


def test_incident_notice_by_email_with_hostile_text_escaped(db, settings, smtp) -> None:  # type: ignore[no-untyped-def]
    mailbox, port = smtp
    fast = outbox_settings(settings, outbox_min_interval_minutes=0)
    clock = Clock()
    _email_channel(db, port)
    with db.session() as session:
        topic = make_topic(session, "<script>alert(1)</script>品牌")
        raise_alert(session, topic, "severe", clock(), Outbox(fast))
    run_ticks(db, fast, clock, ticks=2, step=1)
    assert len(mailbox.messages) == 1
    message = mailbox.messages[0][2]
    assert str(message["Subject"]).startswith("【严重】舆情预警")
    plain, html = _parts(message)
    assert "研判依据" in plain and "查看事件" in plain
    assert "<script>" not in html


def test_a_refused_login_fails_the_delivery_and_marks_the_channel(db, settings, smtp) -> None:  # type: ignore[no-untyped-def]
    mailbox, port = smtp
    fast = outbox_settings(settings, outbox_min_interval_minutes=0)
    clock = Clock()
    channel_id = _email_channel(db, port, password="wrong-password")
    with db.session() as session:
        raise_alert(session, make_topic(session), "severe", clock(), Outbox(fast))
    run_ticks(db, fast, clock, ticks=2, step=1)
    assert mailbox.messages == []
    with db.session() as session:
        delivery = session.scalar(select(Delivery))
        channel = session.get(ChannelRow, channel_id)
        assert delivery is not None and delivery.status == DeliveryStatus.FAILED
        assert channel is not None and not channel.healthy and "535" in (channel.last_error or "")


def test_starttls_is_required_unless_turned_off(db, settings, smtp) -> None:  # type: ignore[no-untyped-def]
    mailbox, port = smtp
    fast = outbox_settings(settings, outbox_min_interval_minutes=0)
    clock = Clock()
    channel_id = _email_channel(db, port, starttls=True)  # the loopback server offers no STARTTLS
    with db.session() as session:
        raise_alert(session, make_topic(session), "severe", clock(), Outbox(fast))
    run_ticks(db, fast, clock, ticks=2, step=1)
    assert mailbox.messages == []
    with db.session() as session:
        channel = session.get(ChannelRow, channel_id)
        assert channel is not None and "STARTTLS" in (channel.last_error or "")


def test_the_smtp_password_is_encrypted_at_rest(db, smtp) -> None:  # type: ignore[no-untyped-def]
    _, port = smtp
    channel_id = _email_channel(db, port)
    with db.session() as session:
        stored = session.execute(
            text("SELECT secret FROM channels WHERE id = :id"), {"id": channel_id}
        ).scalar()
        assert stored and PASSWORD not in stored
        channel = session.get(ChannelRow, channel_id)
        assert channel is not None and channel.secret == PASSWORD


@pytest.mark.parametrize(
    ("url", "options", "fragment"),
    [
        ("https://smtp.example.cn", {}, "smtp://主机:端口"),
        ("smtp://user:pw@127.0.0.1:25", {}, "不要把账号密码写进地址"),
        ("smtp://127.0.0.1:25", {"recipients": ["不是邮件"]}, "不是邮件地址"),
        ("smtp://127.0.0.1:25", {"recipients": []}, "recipients"),
        ("smtp://127.0.0.1:25", {"username": "公关部"}, "ASCII"),
    ],
)
def test_bad_email_settings_are_refused(db, url, options, fragment) -> None:  # type: ignore[no-untyped-def]
    data = ChannelCreate(
        name="坏邮件",
        kind="email",
        url=url,
        options={"sender": "yuqing@example.cn", "recipients": ["pr@example.cn"], **options},
    )
    with db.session() as session, pytest.raises(BadRequest) as raised:
        channels.create(session=session, data=data, allowlist=["127.0.0.0/8"])
    assert fragment in raised.value.message and "邮件通道配置无效" in raised.value.message
