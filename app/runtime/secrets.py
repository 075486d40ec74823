"""Secrets at rest across the store: check every stored secret opens (each process does at start,
and `yuqing secrets check`), rotate them to a new key (`yuqing secrets rotate`, app/cli/secrets.py).

Rotation re-encrypts every encrypted column in one transaction (app/core/secrets.py):

- key file (the SQLite default, or YUQING_SECRET_KEY_FILE): a new key is written first in the file
  with the old one after it, every secret is re-encrypted under the new key, then the old key is
  removed from the file. A crash at any step leaves a file that opens everything stored.
- YUQING_SECRET_KEY: set it to `NEW,OLD`, run `yuqing secrets rotate`, then set it to `NEW`.

Stop every Yuqing process first: a running process keeps the keys it started with.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from app.core.config import Settings
from app.core.db import Database
from app.core.secrets import (
    Keyring,
    SecretsError,
    check_readable,
    encrypted_columns,
    generate_key,
    reseal_all,
    resolve_keyring,
    write_key_file,
)
from app.models import metadata


def verify(settings: Settings) -> int:
    """How many secrets are stored; SecretsError naming every one the configured key cannot open."""
    db = Database(settings.database_url, keyring=resolve_keyring(settings))
    try:
        with db.engine.connect() as connection:
            return check_readable(connection, encrypted_columns(metadata), db.keyring)
    finally:
        db.dispose()


def _reseal(settings: Settings, keyring: Keyring) -> int:
    db = Database(settings.database_url, keyring=keyring)
    spec = encrypted_columns(metadata)
    try:
        with db.engine.begin() as connection:
            if db.is_sqlite:
                connection.exec_driver_sql("PRAGMA secure_delete=ON")
            else:  # no concurrent write may slip between reading and re-encrypting a row
                connection.execute(text(f"LOCK TABLE {', '.join(spec)} IN EXCLUSIVE MODE"))
            return reseal_all(connection, spec, keyring)
    finally:
        db.dispose()


@dataclass(frozen=True)
class Rotation:
    """What a rotation did."""

    count: int
    message: str


def rotate(settings: Settings) -> Rotation:
    """Re-encrypt every stored secret under a new key (see the module docstring for the procedure)."""
    keyring = resolve_keyring(settings)
    if keyring.key_file is not None:
        path = keyring.key_file
        keys = keyring.keys if len(keyring.keys) > 1 else (generate_key(), *keyring.keys)
        try:
            write_key_file(path, keys)
        except OSError as exc:
            raise SecretsError(f"cannot write the key file {path}: {exc.strerror or exc}") from None
        count = _reseal(settings, Keyring(keys, origin=keyring.origin, key_file=path))
        write_key_file(path, keys[:1])
        return Rotation(count, f"re-encrypted {count} secret(s) under a new key; {path} holds only that key")
    if len(keyring.keys) < 2:
        raise SecretsError(
            "YUQING_SECRET_KEY holds one key: set it to NEW,OLD (NEW from `yuqing secrets generate-key`), "
            "run `yuqing secrets rotate`, then set it to NEW alone"
        )
    count = _reseal(settings, keyring)
    return Rotation(
        count,
        f"re-encrypted {count} secret(s) under the first key of YUQING_SECRET_KEY; "
        "now set YUQING_SECRET_KEY to that key alone and start Yuqing",
    )
