"""Secrets at rest: channel URLs and secrets, source URLs and options are encrypted in the database
file and columns; a wrong or missing key is one clear error naming what cannot be read; the data
migration encrypts rows written before; rotation re-encrypts under a new key."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, select, text

from alembic import command
from app.channels import service as channels
from app.channels.models import ChannelRow
from app.core.config import Settings, load_settings
from app.core.db import Database
from app.core.migrate import alembic_config, upgrade
from app.core.secrets import (
    Keyring,
    SecretsError,
    generate_key,
    key_file_beside,
    resolve_keyring,
)
from app.runtime.secrets import rotate, verify
from app.sources.models import Source

ROOT = Path(__file__).resolve().parents[3]
WEBHOOK_TOKEN = "6f1d2c3b-4a59-4e8f-9d7c-ab12cd34ef56"
CHANNEL_SECRET = "SEC0123456789abcdef舆情签名"
BEARER = "Bearer eyJhbGciOiJIUzI1NiJ9.json-api-credential"
MASTODON_TOKEN = "mastodon-access-token-9f8e7d6c5b4a"
FEED_KEY = "rsshub-access-key-31415926"
PLAIN = (WEBHOOK_TOKEN, CHANNEL_SECRET, BEARER, MASTODON_TOKEN, FEED_KEY)


@pytest.fixture
def analyzer():  # type: ignore[no-untyped-def]
    """These tests never analyse posts: skip loading the sentiment model and jieba."""
    from app.posts.analyzer import PostAnalyzer

    return PostAnalyzer(model=object(), tokenizer=object())  # type: ignore[arg-type]


def _create_secrets(client, headers) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """A DingTalk channel with a token in its URL and a signing secret, a JSON API source with an
    Authorization header, a Mastodon source with an access token and an RSS feed with a key."""
    made = {}
    channel = client.post(
        "/api/v1/channels",
        headers=headers,
        json={
            "name": "钉钉值班群",
            "kind": "dingtalk",
            "url": f"http://127.0.0.1:9/robot/send?access_token={WEBHOOK_TOKEN}",
            "secret": CHANNEL_SECRET,
        },
    )
    assert channel.status_code == 201, channel.text
    made["channel"] = channel.json()["id"]
    for name, kind, url, options in (
        (
            "接口",
            "json",
            "http://127.0.0.1:9/api/posts",
            {"fields": {"id": "id", "text": "text"}, "headers": {"Authorization": BEARER}},
        ),
        ("长毛象", "mastodon", "http://127.0.0.1:9", {"access_token": MASTODON_TOKEN}),
        ("订阅", "rss", f"http://127.0.0.1:9/weibo/keyword/品牌?key={FEED_KEY}", {}),
    ):
        source = client.post(
            "/api/v1/sources",
            headers=headers,
            json={"name": name, "kind": kind, "url": url, "options": options},
        )
        assert source.status_code == 201, source.text
        made[kind] = source.json()["id"]
    return made


def _raw_bytes(settings: Settings, db: Database) -> bytes:
    """Everything the database keeps: the SQLite file and its WAL, or the raw PostgreSQL columns."""
    path = settings.sqlite_path()
    if path is not None:
        db.dispose()
        return b"".join(
            Path(f"{path}{suffix}").read_bytes()
            for suffix in ("", "-wal", "-journal")
            if Path(f"{path}{suffix}").exists()
        )
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT url || coalesce(secret, '') FROM channels UNION ALL "
                "SELECT coalesce(url, '') || options::text FROM sources UNION ALL "
                "SELECT details::text FROM audit_log"
            )
        ).scalars()
        dump = "\n".join(rows)
    engine.dispose()
    return dump.encode("utf-8")


def test_no_secret_is_stored_in_plain_text(client, db, settings, write_headers) -> None:  # type: ignore[no-untyped-def]
    made = _create_secrets(client, write_headers)
    with db.session() as session:  # everything still reads back as entered
        channel = channels.get(session=session, channel_id=made["channel"])
        assert WEBHOOK_TOKEN in channel.url and channel.secret == CHANNEL_SECRET
        assert channels.channel_config(channel).secret_value() == CHANNEL_SECRET
        jsonapi, mastodon, rss = (session.get(Source, made[kind]) for kind in ("json", "mastodon", "rss"))
        assert jsonapi is not None and jsonapi.options["headers"] == {"Authorization": BEARER}
        assert mastodon is not None and mastodon.options["access_token"] == MASTODON_TOKEN
        assert rss is not None and rss.url is not None and rss.url.endswith(FEED_KEY)
    raw = _raw_bytes(settings, db)
    assert "钉钉值班群".encode() in raw  # the dump really holds the rows…
    for secret in PLAIN:  # …but none of their credentials
        assert secret.encode("utf-8") not in raw, secret
        assert secret.encode("utf-16-le") not in raw, secret


@pytest.fixture
def sqlite_only(no_env_key: None, settings: Settings) -> Settings:
    """The tests below manage key files or plain rows by hand; the SQLite variant does that (list it
    before the other fixtures so that the settings are loaded without an environment key)."""
    if not settings.is_sqlite:
        pytest.skip("key files live beside an SQLite database")
    return settings


@pytest.fixture
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No YUQING_SECRET_KEY in the environment (the PostgreSQL test runs set one)."""
    monkeypatch.delenv("YUQING_SECRET_KEY", raising=False)
    monkeypatch.delenv("YUQING_SECRET_KEY_FILE", raising=False)
    yield


def test_sqlite_key_file_is_created_0600_beside_the_database(tmp_path: Path, no_env_key: None) -> None:
    path = tmp_path / "data" / "yuqing.db"
    upgrade(f"sqlite:///{path}")
    database = Database(f"sqlite:///{path}")
    database.dispose()
    key_file = key_file_beside(path)
    assert key_file == tmp_path / "data" / "yuqing.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_text()
    keyring = Database(f"sqlite:///{path}").keyring
    assert keyring.keys == (first.strip(),)  # the next run reads it back
    assert first.strip() not in repr(keyring)  # never in a log line or a traceback
    fresh = load_settings(database_url=f"sqlite:///{tmp_path / 'fresh.db'}")
    assert verify(fresh) == 0  # a database not migrated yet holds no secrets (a role started first)
    memory = load_settings(database_url="sqlite:///:memory:")
    assert resolve_keyring(memory).keys == resolve_keyring(memory).keys  # one key per process


def test_postgresql_without_a_key_is_one_clear_error(no_env_key: None) -> None:
    settings = load_settings(database_url="postgresql://yuqing@127.0.0.1:5432/yuqing")
    with pytest.raises(SecretsError, match="YUQING_SECRET_KEY or YUQING_SECRET_KEY_FILE"):
        resolve_keyring(settings)
    with pytest.raises(SecretsError, match="YUQING_SECRET_KEY or YUQING_SECRET_KEY_FILE"):
        resolve_keyring(_with_key(settings, ""))  # an empty variable (docker-compose.yml) is no key
    with pytest.raises(SecretsError, match="not a Fernet key"):
        resolve_keyring(_with_key(settings, "hunter2"))
    answer = _yuqing(["serve", "--port", "9"], {"YUQING_DATABASE_URL": settings.database_url})
    assert answer.returncode != 0
    assert answer.stderr.strip().splitlines() == [
        "yuqing: PostgreSQL needs a key to encrypt channel and source credentials: set YUQING_SECRET_KEY "
        "or YUQING_SECRET_KEY_FILE (generate one with `yuqing secrets generate-key`)"
    ]


def _with_key(settings: Settings, key: str) -> Settings:
    return settings.model_copy(update={"secret_key": SecretStr(key), "secret_key_file": None})


def _yuqing(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("YUQING_")}
    environment.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_a_wrong_key_names_what_cannot_be_decrypted(client, db, settings, write_headers) -> None:  # type: ignore[no-untyped-def]
    made = _create_secrets(client, write_headers)
    assert verify(settings) == 8  # the channel's url and secret, each source's url and options
    wrong = _with_key(settings, generate_key())
    with pytest.raises(SecretsError) as caught:
        verify(wrong)
    message = str(caught.value)
    assert f"channels {made['channel']} «钉钉值班群» url" in message
    assert f"channels {made['channel']} «钉钉值班群» secret" in message
    assert f"sources {made['json']} «接口» options" in message
    assert "YUQING_SECRET_KEY" in message and "\n" not in message
    with Database(settings.database_url, keyring=resolve_keyring(wrong)).session() as session:
        with pytest.raises(SecretsError, match="cannot be decrypted with the key from YUQING_SECRET_KEY"):
            session.scalar(select(ChannelRow.secret))
    env = {"YUQING_DATABASE_URL": settings.database_url, "YUQING_SECRET_KEY": generate_key()}
    answer = _yuqing(["secrets", "check"], env)
    assert answer.returncode == 1 and "Traceback" not in answer.stderr
    assert len(answer.stderr.strip().splitlines()) == 1 and "«钉钉值班群» secret" in answer.stderr
    served = _yuqing(["serve", "--port", "9"], env)
    assert served.returncode != 0 and "Traceback" not in served.stderr
    assert served.stderr.strip().splitlines()[-1].startswith("yuqing: cannot decrypt 8 stored secret(s)")


def test_the_migration_encrypts_rows_stored_before_it(settings, db) -> None:  # type: ignore[no-untyped-def]
    db.dispose()
    command.downgrade(alembic_config(settings.database_url), "0001")
    engine = create_engine(settings.database_url)
    json_param = ":options" if settings.is_sqlite else "CAST(:options AS JSONB)"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO channels (name, kind, url, secret, min_grade, mention, options, enabled, demo, "
                "healthy, created_at, updated_at) VALUES ('钉钉', 'dingtalk', :url, :secret, 'general', "
                "'[]', '{}', true, false, true, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ),
            {
                "url": f"https://oapi.dingtalk.com/robot/send?access_token={WEBHOOK_TOKEN}",
                "secret": CHANNEL_SECRET,
            },
        )
        connection.execute(
            text(
                "INSERT INTO sources (name, kind, url, interval_seconds, options, enabled, demo, state, "
                "consecutive_failures, created_at, updated_at) VALUES ('长毛象', 'mastodon', :url, 300, "
                f"{json_param}, true, false, '{{}}', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ),
            {"url": "https://mastodon.example", "options": f'{{"access_token": "{MASTODON_TOKEN}"}}'},
        )
    engine.dispose()
    upgrade(settings.database_url)
    database = Database(settings.database_url)
    with database.session() as session:
        channel = session.scalars(select(ChannelRow)).one()
        assert (channel.secret, channel.url.endswith(WEBHOOK_TOKEN)) == (CHANNEL_SECRET, True)
        assert session.scalars(select(Source.options)).one() == {"access_token": MASTODON_TOKEN}
    raw = _raw_bytes(settings, database)
    for secret in (WEBHOOK_TOKEN, CHANNEL_SECRET, MASTODON_TOKEN):
        assert secret.encode() not in raw, secret
    assert verify(settings) == 4
    command.downgrade(alembic_config(settings.database_url), "0001")  # decrypts them again
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT secret FROM channels")).scalar() == CHANNEL_SECRET
        assert MASTODON_TOKEN in str(connection.execute(text("SELECT options FROM sources")).scalar())
    engine.dispose()
    upgrade(settings.database_url)
    assert verify(settings) == 4


def test_rotation_with_the_key_file(no_env_key, sqlite_only, client, settings, write_headers) -> None:  # type: ignore[no-untyped-def]
    _create_secrets(client, write_headers)
    key_file = key_file_beside(settings.sqlite_path())  # type: ignore[arg-type]
    old = key_file.read_text().strip()
    answer = _yuqing(["secrets", "rotate"], {"YUQING_DATABASE_URL": settings.database_url})
    assert answer.returncode == 0, answer.stderr
    assert "re-encrypted 8 secret(s) under a new key" in answer.stdout
    new = key_file.read_text().strip()
    assert new != old and "\n" not in new and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert verify(settings) == 8  # the new key alone opens everything
    with pytest.raises(SecretsError, match="cannot decrypt 8 stored secret"):
        verify(_with_key(settings, old))  # the old key is no longer needed


def test_rotation_with_yuqing_secret_key(client, settings, write_headers) -> None:  # type: ignore[no-untyped-def]
    old = generate_key()
    keyed = _with_key(settings, old)
    database = Database(keyed.database_url, keyring=resolve_keyring(keyed))
    with database.session() as session:
        session.add(
            ChannelRow(
                name="钉钉", kind="dingtalk", url=f"http://x/?t={WEBHOOK_TOKEN}", secret=CHANNEL_SECRET
            )
        )
        session.add(
            Source(name="接口", kind="mastodon", url="http://x", options={"access_token": MASTODON_TOKEN})
        )
    database.dispose()
    with pytest.raises(SecretsError, match="holds one key: set it to NEW,OLD"):
        rotate(keyed)
    new = generate_key()
    rotation = rotate(_with_key(settings, f"{new},{old}"))
    assert rotation.count == 4 and "set YUQING_SECRET_KEY to that key alone" in rotation.message
    assert verify(_with_key(settings, new)) == 4
    with pytest.raises(SecretsError, match="cannot decrypt 4 stored secret"):
        verify(keyed)
    rotated = Database(settings.database_url, keyring=Keyring((new,), origin="test"))
    with rotated.session() as session:
        assert session.scalars(select(ChannelRow.secret)).one() == CHANNEL_SECRET
        assert session.scalars(select(Source.options)).one() == {"access_token": MASTODON_TOKEN}
    rotated.dispose()
