"""Helpers for the outbox and delivery tests (no tests here): a loopback receiver hosting the vendor
emulators of tests/support/receivers.py plus an Alertmanager, with switches for being down, slow,
or answering scripted failures; incident and channel factories; a controllable clock."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.orm import Session

from analysis.grading import Grade, Grading, GradingInputs, RuleHit
from app.alerts.incidents import NoticeWriter, record_alert
from app.alerts.models import Incident
from app.channels import service
from app.channels.dispatcher import Dispatcher, TickReport
from app.channels.schemas import ChannelCreate
from app.core.config import Settings
from app.core.db import Database
from app.posts.models import Topic
from app.topics import service as topics
from app.topics.schemas import TopicCreate
from tests.support.background_server import BackgroundHTTPServer
from tests.support.receivers import ROUTES, Received, VendorState

Reply = tuple[int, dict[str, str], bytes]
AM_TOKEN = "am-token-1"


class Clock:
    """A controllable clock; starts at real time so vendor timestamp checks pass."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward."""
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Switches:
    """Behaviour of the receiver beyond the emulators: down, slow, scripted replies per vendor."""

    down: bool = False
    delay: float = 0.0
    script: defaultdict[str, deque[Reply]] = field(default_factory=lambda: defaultdict(deque))
    raw: list[Received] = field(default_factory=list)
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _alertmanager(state: VendorState, request: Received) -> tuple[Reply, bool]:
    if request.headers.get("authorization") != f"Bearer {AM_TOKEN}":
        return (401, {}, b"unauthorized"), False
    alerts = request.json()
    if not isinstance(alerts, list) or not all("labels" in alert for alert in alerts):
        return (400, {}, b"invalid alerts"), False
    return (200, {}, b""), True


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_POST(self) -> None:
        """Record, then apply the switches, then the vendor emulator of the path."""
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {key.lower(): value for key, value in self.headers.items()}
        switches = self.server.switches
        with switches.lock:
            switches.in_flight += 1
        try:
            time.sleep(switches.delay)
            self._reply(self._answer(parts.path, parse_qs(parts.query), headers, body))
        finally:
            with switches.lock:
                switches.in_flight -= 1

    def _answer(self, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes) -> Reply:
        routes = {**ROUTES, "/am/api/v2/alerts": ("alertmanager", _alertmanager)}
        for prefix, (vendor, emulator) in routes.items():
            if path.startswith(prefix):
                request = Received(vendor, path, query, headers, body)
                with self.server.switches.lock:
                    self.server.switches.raw.append(request)
                    if self.server.switches.down:
                        return 503, {}, b"down"
                    if self.server.switches.script[vendor]:
                        return self.server.switches.script[vendor].popleft()
                state = self.server.state
                with state.lock:
                    reply, ok = emulator(state, request)
                    (
                        state.accepted.append(request)
                        if ok
                        else state.rejected.append((request, reply[0], reply[2]))
                    )
                return reply
        return 404, {}, b"no route"

    def _reply(self, reply: Reply) -> None:
        status, headers, body = reply
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the sender was killed mid-request
            pass


class Receiver(BackgroundHTTPServer):
    """A loopback server: vendor emulators (signature, size, rate checks) plus switches."""

    def __init__(self) -> None:
        super().__init__(_Handler)
        self.state = VendorState()
        self.switches = Switches()

    def channel_spec(self, kind: str) -> dict[str, Any]:
        """URL, secret and options of a channel that the emulator of `kind` accepts."""
        state = self.state
        specs: dict[str, dict[str, Any]] = {
            "wecom": {"url": f"{self.base}/cgi-bin/webhook/send?key={state.wecom_key}"},
            "dingtalk": {
                "url": f"{self.base}/robot/send?access_token={state.dingtalk_token}",
                "secret": state.dingtalk_secret,
            },
            "feishu": {
                "url": f"{self.base}/open-apis/bot/v2/hook/{state.feishu_token}",
                "secret": state.feishu_secret,
            },
            "slack": {"url": f"{self.base}/services/T000/B000/XXXX"},
            "webhook": {"url": f"{self.base}/hooks/standard", "secret": state.webhook_secret},
            "alertmanager": {"url": f"{self.base}/am", "secret": AM_TOKEN},
        }
        return specs[kind]

    def accepted(self, vendor: str) -> list[Received]:
        """Requests of one vendor the emulator accepted."""
        with self.state.lock:
            return [item for item in self.state.accepted if item.vendor == vendor]


def notice_ids(requests: list[Received]) -> list[str]:
    """Notice ids carried by accepted requests (webhook-id for the signed webhook, else body text)."""
    found = []
    for request in requests:
        if request.vendor == "webhook":
            found.append(request.headers["webhook-id"])
        else:
            found.append(json.dumps(request.json(), ensure_ascii=False))
    return found


def make_channel(
    session: Session, receiver: Receiver, kind: str, name: str | None = None, **fields: Any
) -> int:
    """Create a channel pointing at the receiver's emulator of `kind`; returns its id."""
    spec = {**receiver.channel_spec(kind), **fields}
    data = ChannelCreate(name=name or f"{kind}-channel", kind=kind, **spec)
    return service.create(session=session, data=data, allowlist=["127.0.0.0/8"]).id


def make_topic(session: Session, name: str = "某乳业品牌") -> Topic:
    """A topic with a simple rule."""
    return topics.create(session=session, data=TopicCreate(name=name, rule=name))


def grading(grade: str, reason: str = "负面声量为基线 8.4 倍（阈值 3 倍）") -> Grading:
    """A grading with one rule hit and realistic inputs."""
    inputs = GradingInputs(observed=312, baseline=37.1, ratio=8.4, negative=240, negative_share=0.77)
    return Grading(grade=Grade(grade), hits=(RuleHit(f"{grade}.test", Grade(grade), reason),), inputs=inputs)


def raise_alert(session: Session, topic: Topic, grade: str, now: datetime, writer: NoticeWriter) -> Incident:
    """Record a graded alert for a topic (opens or escalates its incident) through the outbox."""
    _, incident = record_alert(
        session,
        topic=topic,
        detector="volume",
        grading=grading(grade),
        headline=f"{topic.name} 负面声量激增",
        observed=312,
        baseline=37.1,
        ratio=8.4,
        score=5.0,
        bucket=now,
        now=now,
        write_notice=writer,
    )
    return incident


def run_ticks(
    db: Database, settings: Settings, clock: Clock, ticks: int = 1, *, step: float = 0.0, seed: int = 7
) -> list[TickReport]:
    """Run dispatcher ticks (advancing the clock by `step` seconds after each) in a fresh event loop."""

    async def go() -> list[TickReport]:
        dispatcher = Dispatcher(db=db, settings=settings, clock=clock, rng=random.Random(seed))
        reports = []
        try:
            for _ in range(ticks):
                reports.append(await dispatcher.tick())
                clock.advance(seconds=step)
        finally:
            await dispatcher.aclose()
        return reports

    return asyncio.run(go())


def outbox_settings(settings: Settings, **overrides: Any) -> Settings:
    """Test settings with fast outbox timing (and any overrides)."""
    values = {
        "outbox_retry_base_seconds": 1.0,
        "outbox_retry_max_seconds": 30.0,
        "outbox_send_timeout_seconds": 3.0,
        "outbox_lease_seconds": 30.0,
        **overrides,
    }
    return settings.model_copy(update=values)
