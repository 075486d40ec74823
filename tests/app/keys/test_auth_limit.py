"""Failed authentications are limited per client (429 with Retry-After, before any database lookup)
without ever locking out a valid key, and counted in /metrics."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from app.core.config import load_settings
from app.core.db import Database
from app.core.metrics import REGISTRY
from app.keys.limiter import FailedAuthLimiter, client_of
from tests.conftest import make_key

BURST = 5
PER_MINUTE = 0.6  # one token per 100 s: nothing refills while a test runs (unless its clock says so)
REFRESH = 10.0


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup(tmp_path: Path, sqlite_template: Path, analyzer) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The app over a fresh SQLite copy, a clock for its limiter, and a count of api_keys queries."""
    from app.runtime.application import create_app
    from app.runtime.container import Services

    path = tmp_path / "limit.db"
    shutil.copyfile(sqlite_template, path)
    config = load_settings(
        database_url=f"sqlite:///{path}",
        scheduler_enabled=False,
        auth_failure_burst=BURST,
        auth_failure_per_minute=PER_MINUTE,
    )
    db = Database(config.database_url)
    app = create_app(config, services=Services.create(config, db=db, analyzer=analyzer))
    clock = Clock()
    app.state.auth_limiter = FailedAuthLimiter(
        burst=BURST, per_minute=PER_MINUTE, refresh_seconds=REFRESH, clock=clock
    )
    lookups: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if "api_keys" in statement and statement.lstrip().upper().startswith("SELECT"):
            lookups.append(statement)

    clients: list[TestClient] = []

    def client(address: str) -> TestClient:
        test_client = TestClient(app, client=(address, 50000))
        test_client.__enter__()
        clients.append(test_client)
        return test_client

    yield {"app": app, "db": db, "clock": clock, "lookups": lookups, "client": client}
    for test_client in clients:
        test_client.__exit__(None, None, None)
    db.dispose()


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _random_key() -> str:
    return "yq_" + secrets.token_urlsafe(32)


def _failures(reason: str) -> float:
    return REGISTRY.get_sample_value("yuqing_auth_failures_total", {"reason": reason}) or 0.0


def test_random_keys_are_limited_per_client_before_any_lookup(setup) -> None:  # type: ignore[no-untyped-def]
    attacker = setup["client"]("198.51.100.7")
    invalid, limited = _failures("invalid"), _failures("limited")
    codes = [attacker.get("/api/v1/sources", headers=_bearer(_random_key())).status_code for _ in range(200)]
    assert codes[:BURST] == [401] * BURST and codes[BURST:] == [429] * (200 - BURST)
    refused = attacker.get("/api/v1/sources", headers=_bearer(_random_key()))
    assert refused.status_code == 429 and refused.headers["retry-after"] == "100"
    assert refused.json()["error"]["code"] == "rate_limited"
    # BURST key lookups, and one load of the valid key hashes for the whole limited stretch
    assert len(setup["lookups"]) == BURST + 1, setup["lookups"]
    assert _failures("invalid") - invalid == BURST and _failures("limited") - limited == 201 - BURST
    # Another client is not affected, and the counters are on /metrics.
    neighbour = setup["client"]("203.0.113.9")
    assert neighbour.get("/api/v1/sources", headers=_bearer(_random_key())).status_code == 401
    reader = make_key(setup["db"], "scraper", "read")
    metrics = neighbour.get("/metrics", headers=_bearer(reader)).text
    assert 'yuqing_auth_failures_total{reason="limited"}' in metrics
    # The bucket refills: after 100 s one more attempt is looked up (and fails).
    setup["clock"].now += 100
    assert attacker.get("/api/v1/sources", headers=_bearer(_random_key())).status_code == 401
    assert attacker.get("/api/v1/sources", headers=_bearer(_random_key())).status_code == 429


def test_a_valid_key_is_never_locked_out(setup) -> None:  # type: ignore[no-untyped-def]
    db, clock = setup["db"], setup["clock"]
    used, unseen = make_key(db, "used", "admin"), make_key(db, "unseen", "read")
    shared = setup["client"]("192.0.2.50")  # e.g. one NAT address for an office and an attacker
    assert shared.get("/api/v1/sources", headers=_bearer(used)).status_code == 200
    for _ in range(BURST + 3):
        shared.get("/api/v1/sources", headers=_bearer(_random_key()))
    assert shared.get("/api/v1/sources", headers=_bearer(_random_key())).status_code == 429
    # A key this process has seen, and one it has not (created before the limit began), both work.
    assert shared.get("/api/v1/sources", headers=_bearer(used)).status_code == 200
    assert shared.get("/api/v1/sources", headers=_bearer(unseen)).status_code == 200
    # A key created elsewhere after the valid hashes were last read waits at most REFRESH seconds.
    fresh = make_key(db, "fresh", "read")
    waited = shared.get("/api/v1/sources", headers=_bearer(fresh))
    assert waited.status_code == 429 and 1 <= int(waited.headers["retry-after"])
    clock.now += REFRESH
    assert shared.get("/api/v1/sources", headers=_bearer(fresh)).status_code == 200
    # A key created through the API by this process works at once.
    created = shared.post("/api/v1/keys", json={"name": "robot", "scope": "read"}, headers=_bearer(used))
    assert shared.get("/api/v1/sources", headers=_bearer(created.json()["key"])).status_code == 200
    # Revoking still works at once: a revoked key gets 401, then counts as a failure like any other.
    shared.delete(f"/api/v1/keys/{created.json()['id']}", headers=_bearer(used))
    assert shared.get("/api/v1/sources", headers=_bearer(created.json()["key"])).status_code == 401
    assert shared.get("/api/v1/sources", headers=_bearer(created.json()["key"])).status_code == 429


def test_the_limiter_refills_groups_ipv6_by_64_and_keeps_few_clients() -> None:
    clock = Clock()
    limiter = FailedAuthLimiter(burst=2, per_minute=60, clock=clock, max_clients=3)
    limiter.failed("a")
    limiter.failed("a")
    assert limiter.retry_after("a") == 1
    clock.now += 0.5
    assert limiter.retry_after("a") == 1  # half a token: still one second to wait (rounded up)
    clock.now += 0.5
    assert limiter.retry_after("a") is None
    assert client_of("2001:db8:1:2:aaaa::1") == client_of("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_of("2001:db8:1:3::1") != client_of("2001:db8:1:2::1")
    assert client_of("::ffff:192.0.2.1") == "192.0.2.1" and client_of(None) == "unknown"
    for name in ("b", "c", "d", "e"):
        limiter.failed(name)
        limiter.failed(name)
    assert limiter.retry_after("b") is None  # the least recently failed client was dropped
    assert limiter.retry_after("e") == 1
