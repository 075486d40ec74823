"""Shared fixtures: a migrated database per test on SQLite and (when configured) PostgreSQL,
the app wired to it, and API keys of each scope."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.core.config import Settings, load_settings
from app.core.db import Database
from app.core.migrate import upgrade
from tests.support.delivery import Receiver
from tests.support.loopback import loopback_server  # noqa: F401  (fixture for every test package)

PG_BASE_URL = os.environ.get("YUQING_TEST_DATABASE_URL", "")
# Under pytest-xdist (`make test` runs two workers) each worker gets a database of its own beside the
# configured one (`<name>_gw0`, …), created on first use and dropped when its session ends.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
PG_URL = f"{PG_BASE_URL}_{XDIST_WORKER}" if PG_BASE_URL and XDIST_WORKER else PG_BASE_URL

# The suite runs on its own settings: no .env of the working directory and no YUQING_* variable of
# the caller's shell reach it or the processes it starts (YUQING_TEST_* and YUQING_BENCH_* choose
# test databases and stay).
for _name in [n for n in os.environ if n.startswith("YUQING_")]:
    if not _name.startswith(("YUQING_TEST_", "YUQING_BENCH_")):
        del os.environ[_name]
os.environ["YUQING_ENV_FILE"] = ""
BACKENDS = ["sqlite", "postgres"]
# PostgreSQL has no "beside the database" for a key file; test processes (and the servers they
# start) share this key. SQLite tests without it use the key file created beside each database.
TEST_SECRET_KEY = "kH8ZkqVx3mB3VtJ2Yl8oQmYtXq3y0d3Qk9yY4sX2b1M="
if PG_URL:
    os.environ.setdefault("YUQING_SECRET_KEY", TEST_SECRET_KEY)


def _normalise(url: str) -> str:
    return load_settings(database_url=url).database_url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file copied for each test (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def _worker_database(create: bool) -> None:
    """Create (or drop) this xdist worker's database, through the configured one."""
    name = _normalise(PG_URL).rsplit("/", 1)[-1]
    admin = create_engine(_normalise(PG_BASE_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if create and not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        elif not create and exists:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_migrated() -> Iterator[str]:
    """The PostgreSQL test database, migrated once per session (per worker under xdist)."""
    if not PG_URL:
        pytest.skip("PostgreSQL tests need YUQING_TEST_DATABASE_URL (CI sets it)")
    if XDIST_WORKER:
        _worker_database(create=True)
    url = _normalise(PG_URL)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url)
    yield url
    if XDIST_WORKER:
        _worker_database(create=False)


def _truncate_all(url: str) -> None:
    from app.models import metadata

    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A freshly migrated, empty database URL: SQLite always, PostgreSQL when configured."""
    if request.param == "sqlite":
        path = tmp_path / "yuqing.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_migrated")
    _truncate_all(url)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings for tests: loopback allowed, no politeness delay, no background scheduler, and a
    retention window of a century, since the recorded feeds are years old (tests of the window set
    their own)."""
    return load_settings(
        database_url=database_url,
        retention_days=36500,
        url_allowlist=["127.0.0.0/8", "localhost"],
        collect_host_interval_seconds=0,
        collect_timeout_seconds=5,
        scheduler_enabled=False,
        base_url="http://testserver",
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """The test database."""
    database = Database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def shared_model():  # type: ignore[no-untyped-def]
    """The shipped sentiment model, loaded once."""
    from analysis.sentiment import SentimentModel

    return SentimentModel.load()


@pytest.fixture(scope="session")
def shared_tokenizer():  # type: ignore[no-untyped-def]
    """One jieba tokenizer for the session (building the prefix dictionary takes a second)."""
    from analysis.tokenize import Tokenizer

    return Tokenizer()


@pytest.fixture
def analyzer(shared_model, shared_tokenizer):  # type: ignore[no-untyped-def]
    """A fresh analyser (own topics and clusters) over the shared model and tokenizer."""
    from app.posts.analyzer import PostAnalyzer

    return PostAnalyzer(model=shared_model, tokenizer=shared_tokenizer)


@pytest.fixture
def services(settings: Settings, db: Database, analyzer):  # type: ignore[no-untyped-def]
    """The process services wired to the test database."""
    from app.runtime.container import Services

    return Services.create(settings, db=db, analyzer=analyzer)


@pytest.fixture
def app(settings: Settings, services):  # type: ignore[no-untyped-def]
    """The FastAPI app."""
    from app.runtime.application import create_app

    return create_app(settings, services=services)


@pytest.fixture
def client(app) -> Iterator:  # type: ignore[no-untyped-def]
    """A TestClient with the lifespan running."""
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A fresh loopback vendor receiver (tests/support/receivers.py); a module may override it."""
    server = Receiver().start()
    try:
        yield server
    finally:
        server.stop()


def make_key(db: Database, name: str, scope: str) -> str:
    """Create an API key directly in the database and return it."""
    from app.keys import service

    with db.session() as session:
        _, plain = service.create(session=session, name=name, scope=scope)
    return plain


@pytest.fixture
def admin_headers(db: Database) -> dict[str, str]:
    """Authorization headers for an admin key."""
    return {"Authorization": f"Bearer {make_key(db, 'test-admin', 'admin')}"}


@pytest.fixture
def write_headers(db: Database) -> dict[str, str]:
    """Authorization headers for a write key."""
    return {"Authorization": f"Bearer {make_key(db, 'test-writer', 'write')}"}


@pytest.fixture
def read_headers(db: Database) -> dict[str, str]:
    """Authorization headers for a read key."""
    return {"Authorization": f"Bearer {make_key(db, 'test-reader', 'read')}"}
