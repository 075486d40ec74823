"""E-mail over SMTP: a notice (an incident change or a scheduled 舆情简报) as one text + HTML message.

Config: `url` is `smtp://host:port` (STARTTLS unless `starttls: false`) or `smtps://host:port`
(TLS from the first byte); `secret` is the SMTP password (encrypted at rest like every channel
secret) and `username` the login; `sender` the From address, `recipients` the To list. `Message-ID`
is derived from the notice id, so a mail resent after a crash is recognisable as the same message.
Sending uses the standard library's `smtplib` in a worker thread (no new dependency); the host is
checked against the address guard (YUQING_URL_ALLOWLIST) before connecting. SMTP reply codes are
judged like a vendor's: 2xx/3xx ok, 4xx retry, 552 too large, other 5xx permanent; network trouble
is a retry.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
from collections.abc import Callable, Mapping
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from html import escape
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from app.channels.base import ChannelConfig, ChannelProvider, ChannelRequest, DeliveryResult, Notice, Outcome
from app.channels.markup import PlainMarkup, safe_url
from app.channels.message import compose

AddressGuard = Callable[[str, str, int], "str | None"]  # (host, address, port) -> refusal or None
SCHEMES = {"smtp": 587, "smtps": 465}
EMAIL_PATTERN = r"^[^@\s<>\"']+@[^@\s<>\"']+$"


class EmailConfig(ChannelConfig):
    """SMTP server as `smtp://host:port` or `smtps://host:port`, login, sender and recipients."""

    secret: SecretStr | None = None
    username: str | None = Field(default=None, max_length=320)
    sender: str = Field(max_length=320, pattern=EMAIL_PATTERN)
    recipients: list[str] = Field(min_length=1, max_length=50)
    starttls: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:  # replaces the base class's http(s) check
        parts = urlsplit(value)
        if parts.scheme not in SCHEMES or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError("邮件通道的地址应为 smtp://主机:端口 或 smtps://主机:端口")
        if parts.username or parts.password:
            raise ValueError("请不要把账号密码写进地址：账号填 username，密码填 secret")
        return value

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for item in value:
            if "@" not in item or any(ch in item for ch in " <>\"'\r\n,;"):
                raise ValueError(f"收件人 {item!r} 不是邮件地址")
        return value

    @field_validator("secret", "username")
    @classmethod
    def _ascii_login(cls, value: SecretStr | str | None) -> SecretStr | str | None:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw is not None and not raw.isascii():
            raise ValueError("SMTP 登录名和密码只能包含 ASCII 字符（smtplib 的 AUTH 限制）")
        return value

    @field_validator("mention")
    @classmethod
    def _no_mentions(cls, value: list[str]) -> list[str]:
        if value:
            raise ValueError("邮件通道不支持 @ 提醒，请把收件人写进 recipients")
        return value

    def endpoint(self) -> tuple[str, int, bool]:
        """(host, port, implicit TLS)."""
        parts = urlsplit(self.url)
        return parts.hostname or "", parts.port or SCHEMES[parts.scheme], parts.scheme == "smtps"


def _html(lines: list[str], links: list[tuple[str, str]]) -> str:
    body = "".join(f"<p>{escape(line)}</p>" for line in lines)
    anchors = " · ".join(
        f'<a href="{escape(url)}">{escape(label)}</a>' for label, url in links if safe_url(url)
    )
    return f'<!DOCTYPE html><html lang="zh-CN"><body>{body}<p>{anchors}</p></body></html>'


def message(notice: Notice, config: EmailConfig, *, now: datetime) -> EmailMessage:
    """The mail of a notice: subject = the title, a plain-text part and an escaped HTML part."""
    markup = PlainMarkup()
    composed = compose(notice, markup, max_posts=config.max_posts)
    lines = [*composed.head, *composed.body]
    links = [(label, url) for label, url in composed.links]
    text_links = [markup.link(label, url) for label, url in links]
    mail = EmailMessage()
    mail["Subject"] = composed.title
    mail["From"] = Address(addr_spec=config.sender)
    mail["To"] = ", ".join(config.recipients)
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = f"<{notice.id}@yuqing>"
    mail["X-Yuqing-Notice"] = f"{notice.id}; kind={notice.kind.value}"
    # base64: Chinese text and long lines stay within SMTP's 998-byte line limit
    mail.set_content("\n".join([*lines, *text_links, *composed.foot]) + "\n", cte="base64")
    mail.add_alternative(_html([*lines, *composed.foot], links), subtype="html", cte="base64")
    return mail


class EmailChannel(ChannelProvider[EmailConfig]):
    """E-mail (SMTP)."""

    kind = "email"
    label = "邮件"
    config_model = EmailConfig
    rate_per_minute = 30

    def address_url(self, config: EmailConfig) -> str:
        """The SMTP host and port as the URL the address guard checks."""
        host, port, _ = config.endpoint()
        return f"http://{host}:{port}/"

    def render(self, notice: Notice, config: EmailConfig, *, now: datetime) -> list[ChannelRequest]:
        """One SMTP "request": the message bytes, sent to `config.url`."""
        mail = message(notice, config, now=now)
        return [ChannelRequest(self.kind, "SMTP", config.url, {}, content=mail.as_bytes(policy=SMTP))]

    def classify(
        self, status_code: int, headers: Mapping[str, str], body: bytes, *, now: datetime | None = None
    ) -> DeliveryResult:
        """An SMTP reply code: 2xx/3xx ok, 4xx retry, 552 too large, other 5xx permanent."""
        text = body.decode("utf-8", errors="replace")[:300] or None
        if status_code < 400:
            return DeliveryResult(Outcome.OK, vendor_code=status_code, vendor_message=text)
        if status_code < 500:
            return DeliveryResult(Outcome.RETRY, vendor_code=status_code, vendor_message=text)
        outcome = Outcome.TOO_LARGE if status_code == 552 else Outcome.PERMANENT
        return DeliveryResult(outcome, vendor_code=status_code, vendor_message=text)


def _refusal(host: str, port: int, guard: AddressGuard | None) -> str | None:
    if guard is None:
        return None
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        refused = guard(host, str(sockaddr[0]), port)
        if refused:
            return refused
    return None


def _send_blocking(
    content: bytes, config: EmailConfig, timeout: float, guard: AddressGuard | None
) -> DeliveryResult:
    host, port, implicit_tls = config.endpoint()
    try:
        refused = _refusal(host, port, guard)
    except OSError as exc:
        return DeliveryResult(Outcome.RETRY, detail=f"cannot resolve {host}: {type(exc).__name__}")
    if refused:
        return DeliveryResult(Outcome.PERMANENT, detail=refused)
    context = ssl.create_default_context()
    try:
        connect = (
            smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
            if implicit_tls
            else smtplib.SMTP(host, port, timeout=timeout)
        )
        with connect as smtp:
            if not implicit_tls and config.starttls:
                smtp.starttls(context=context)
            if config.username and config.secret_value():
                smtp.login(config.username, config.secret_value() or "")
            refused_to = smtp.sendmail(config.sender, config.recipients, content)
    except smtplib.SMTPNotSupportedError:
        detail = "服务器不支持 STARTTLS：请改用 smtps:// 或在选项中设置 starttls: false（仅限可信网络）"
        return DeliveryResult(Outcome.PERMANENT, detail=detail)
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()))
        return EmailChannel().classify(code, {}, reply)
    except smtplib.SMTPResponseException as exc:  # auth, sender, data: the server's own code
        reply = exc.smtp_error if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error).encode()
        return EmailChannel().classify(exc.smtp_code, {}, reply)
    except (smtplib.SMTPException, OSError) as exc:  # connection refused, timeout, TLS, disconnects
        return DeliveryResult(Outcome.RETRY, detail=f"smtp error: {type(exc).__name__}")
    if refused_to:  # some recipients refused, the rest accepted: delivered, with a note
        return DeliveryResult(Outcome.OK, vendor_code=250, detail=f"部分收件人被拒：{sorted(refused_to)}")
    return DeliveryResult(Outcome.OK, vendor_code=250)


async def send_mail(
    request: ChannelRequest, config: ChannelConfig, *, timeout: float, guard: AddressGuard | None = None
) -> DeliveryResult:
    """Send one rendered mail once over SMTP (in a thread) and judge the answer; never raises."""
    if not isinstance(config, EmailConfig) or request.content is None:
        return DeliveryResult(Outcome.PERMANENT, detail="email request without an email config")
    return await asyncio.to_thread(_send_blocking, request.content, config, timeout, guard)
