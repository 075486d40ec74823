"""A database outage seen by the background jobs is logged once when it starts and once when it
ends, without a traceback per tick. The outage is real: the jobs reach PostgreSQL through a loopback
TCP relay that the test cuts and restores."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from app.core.config import load_settings
from app.core.db import Database
from tests.conftest import _truncate_all


class Relay:
    """Forwards 127.0.0.1:<port> to a target address; `cut()` drops every connection and stops
    listening, `restore()` listens on the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def restore(self) -> None:
        """Listen (again) and relay new connections."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Stop listening and reset every relayed connection."""
        assert self._listener is not None
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def relayed_url(pg_migrated: str) -> Iterator[tuple[str, Relay]]:
    """The PostgreSQL test database, emptied, reached through a relay."""
    _truncate_all(pg_migrated)
    parts = urlsplit(pg_migrated)
    relay = Relay((parts.hostname or "127.0.0.1", parts.port or 5432))
    relay.restore()
    netloc = f"{parts.username}@127.0.0.1:{relay.port}"
    yield urlunsplit(parts._replace(netloc=netloc)), relay
    relay.cut()


def test_background_jobs_log_an_outage_once_when_it_starts_and_once_when_it_ends(  # type: ignore[no-untyped-def]
    relayed_url, analyzer, caplog
) -> None:
    from app.runtime.container import Services

    url, relay = relayed_url
    settings = load_settings(database_url=url, scheduler_enabled=True, url_allowlist=["127.0.0.0/8"])
    db = Database(settings.database_url)
    services = Services.create(settings, db=db, analyzer=analyzer)
    jobs = [job for job, _, _ in services.jobs("all")]
    assert len(jobs) >= 5

    async def tick_all(times: int) -> None:
        for _ in range(times):
            for job in jobs:
                await job()

    caplog.set_level(logging.DEBUG, logger="app")
    try:
        asyncio.run(tick_all(1))
        assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
        relay.cut()
        asyncio.run(tick_all(4))
        relay.restore()
        asyncio.run(tick_all(2))
    finally:
        services.lock.release()
        db.dispose()
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.levelno for r in loud] == [logging.ERROR, logging.WARNING], [r.getMessage() for r in loud]
    assert "database unavailable" in loud[0].getMessage()
    assert "database available again" in loud[1].getMessage()
    assert all(r.exc_info is None for r in caplog.records), "a job logged a traceback"
