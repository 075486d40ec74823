"""Kill test: a dispatcher process is SIGKILLed while deliveries are in flight; a new one takes over
when the leases expire. The receiver, deduplicating on `webhook-id`, sees every notice exactly once;
the raw stream has at most one extra copy per notice, and nothing is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.channels.dispatcher import Dispatcher
from app.channels.models import Delivery, NoticeRow
from app.channels.outbox import Outbox
from app.core.db import utcnow
from tests.support.delivery import Receiver, make_channel, make_topic, outbox_settings, raise_alert

ROOT = Path(__file__).resolve().parents[3]
WORKER = (
    "import asyncio\n"
    "from app.core.config import load_settings\n"
    "from app.core.db import Database\n"
    "from app.channels.dispatcher import Dispatcher\n"
    "settings = load_settings()\n"
    "asyncio.run(Dispatcher(db=Database(settings.database_url), settings=settings).run(interval=0.05))\n"
)
INCIDENTS = 4


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A slow loopback receiver, so deliveries are in flight when the worker dies."""
    server = Receiver().start()
    server.switches.delay = 0.2
    try:
        yield server
    finally:
        server.stop()


def _start_worker(database_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "YUQING_DATABASE_URL": database_url,
        "YUQING_URL_ALLOWLIST": "127.0.0.0/8",
        "YUQING_OUTBOX_LEASE_SECONDS": "1.5",
        "YUQING_OUTBOX_SEND_TIMEOUT_SECONDS": "0.6",
        "YUQING_OUTBOX_DIGEST_THRESHOLD": "1000",
        "YUQING_OUTBOX_MIN_INTERVAL_MINUTES": "0",
    }
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-c", WORKER], env=env, cwd=log.parent, stdout=sink, stderr=sink
        )


def _wait(condition, timeout: float, what: str, log: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out waiting for {what}; worker log:\n{log.read_text(errors='replace')}"
            )
        time.sleep(0.01)


@pytest.mark.serial
def test_sigkill_mid_delivery_loses_nothing_and_duplicates_at_most_once(  # type: ignore[no-untyped-def]
    db, settings, database_url, receiver, tmp_path
) -> None:
    outbox = Outbox(outbox_settings(settings, outbox_min_interval_minutes=0))
    with db.session() as session:
        for index in (1, 2):
            spec = receiver.channel_spec("webhook")
            make_channel(
                session, receiver, "webhook", name=f"hook-{index}", url=f"{spec['url']}?channel={index}"
            )
        for index in range(INCIDENTS):
            raise_alert(session, make_topic(session, f"话题{index}"), "severe", utcnow(), outbox)
    log = tmp_path / "worker.log"

    first = _start_worker(database_url, log)
    try:
        _wait(
            lambda: len(receiver.accepted("webhook")) >= 2 and receiver.switches.in_flight > 0,
            20,
            "traffic",
            log,
        )
        first.send_signal(signal.SIGKILL)  # a request has reached the receiver and awaits its answer
        first.wait(timeout=10)
    finally:
        first.kill()

    second = _start_worker(database_url, log)
    try:

        def all_delivered() -> bool:
            with db.session() as session:
                stmt = select(func.count(Delivery.id)).where(Delivery.status == "delivered")
                return session.scalar(stmt) == 2 * INCIDENTS

        _wait(all_delivered, 30, "every delivery", log)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=10)

    with db.session() as session:
        notice_ids = set(session.scalars(select(NoticeRow.id)))
    assert len(notice_ids) == INCIDENTS
    raw = Counter(
        (request.query["channel"][0], request.headers["webhook-id"])
        for request in receiver.accepted("webhook")
    )
    for channel in ("1", "2"):
        assert {notice for ch, notice in raw if ch == channel} == notice_ids  # nothing lost, deduped once
    assert max(raw.values()) <= 2  # at most one extra copy of a notice
    extra = sum(raw.values()) - 2 * INCIDENTS
    assert 1 <= extra <= 2  # the requests in flight at the kill were sent again


def test_concurrent_dispatchers_never_send_a_delivery_twice(db, settings, receiver) -> None:  # type: ignore[no-untyped-def]
    if db.is_sqlite:
        pytest.skip("SQLite runs one dispatcher per process; row locks are a PostgreSQL matter")
    fast = outbox_settings(settings, outbox_min_interval_minutes=0, outbox_digest_threshold=1000)
    receiver.switches.delay = 0.05
    outbox = Outbox(fast)
    with db.session() as session:
        for index in range(4):
            spec = receiver.channel_spec("webhook")
            make_channel(
                session, receiver, "webhook", name=f"hook-{index}", url=f"{spec['url']}?channel={index}"
            )
        for index in range(4):
            raise_alert(session, make_topic(session, f"话题{index}"), "severe", utcnow(), outbox)

    async def race() -> None:
        workers = [Dispatcher(db=db, settings=fast, owner=f"worker-{n}") for n in range(3)]
        for _ in range(4):
            await asyncio.gather(*(worker.tick() for worker in workers))
        for worker in workers:
            await worker.aclose()

    asyncio.run(race())
    raw = Counter(
        (request.query["channel"][0], request.headers["webhook-id"])
        for request in receiver.accepted("webhook")
    )
    assert len(raw) == 16 and set(raw.values()) == {1}
    with db.session() as session:
        assert session.scalar(select(func.count(Delivery.id)).where(Delivery.status == "delivered")) == 16
