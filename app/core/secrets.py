"""Secrets at rest: the keyring, where its key comes from, and the encrypted column types.

Channel URLs and secrets and source URLs and options carry credentials (webhook tokens, signing
secrets, `Authorization` headers, Mastodon access tokens). Their columns are typed `EncryptedText`
or `EncryptedJSON`: every read and write goes through this one seam, which seals values with
Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) before they reach the database.

Where the key comes from (first that applies):

    YUQING_SECRET_KEY        one Fernet key, or several comma-separated (the first encrypts,
                             every one decrypts: the state during a rotation)
    YUQING_SECRET_KEY_FILE   a file with one key per line, the same way round
    SQLite file              `<database>.key` beside the database, created with mode 0600 on first run
    SQLite in memory         a random key for this process (the data dies with it)
    PostgreSQL               nothing: startup stops with one line asking for one of the two settings

A Database binds its keyring to its engine's dialect, so two databases in one process (tests,
tools) each use their own key.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import JSON, Connection, MetaData, Text, column, inspect, select, table, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import TableClause
from sqlalchemy.types import TypeDecorator, TypeEngine

from app.core.config import Settings, SettingsError

SEALED_PREFIX = "enc1:"
KEY_FILE_SUFFIX = ".key"
GENERATE_HINT = "generate one with `yuqing secrets generate-key`"


class SecretsError(SettingsError):
    """A secret cannot be encrypted or decrypted with the configured key; one clear line."""


def generate_key() -> str:
    """A new random Fernet key (url-safe base64 of 32 bytes)."""
    return Fernet.generate_key().decode("ascii")


def _fernet(key: str, where: str) -> Fernet:
    try:
        return Fernet(key.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        message = f"{where} is not a Fernet key (32 url-safe base64 bytes); {GENERATE_HINT}"
        raise SecretsError(message) from None


@dataclass(frozen=True)
class Keyring:
    """Fernet keys, newest first: the first encrypts, any decrypts. `origin` names where they came from."""

    keys: tuple[str, ...] = field(repr=False)  # never in a log line or a traceback
    origin: str
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if not self.keys:
            raise SecretsError(f"no secret key in {self.origin}; {GENERATE_HINT}")
        for index, key in enumerate(self.keys, start=1):
            _fernet(key, f"key {index} of {self.origin}")

    @cached_property
    def _multi(self) -> MultiFernet:
        return MultiFernet([_fernet(key, self.origin) for key in self.keys])

    def seal(self, plain: str) -> str:
        """The value encrypted under the first key, tagged so a sealed value is recognisable."""
        return SEALED_PREFIX + self._multi.encrypt(plain.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        """The plain value of a sealed one.

        Raises:
            SecretsError: the value is not sealed, or none of the keys opens it.
        """
        if not is_sealed(sealed):
            raise SecretsError("a stored secret is not encrypted; run `yuqing migrate`")
        try:
            return self._multi.decrypt(sealed[len(SEALED_PREFIX) :].encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretsError(
                f"a stored secret cannot be decrypted with the key from {self.origin}: the key is wrong "
                "or missing; run `yuqing secrets check` to list what cannot be read"
            ) from None

    def reseal(self, sealed: str) -> str:
        """The value re-encrypted under the first key (opened with whichever key fits)."""
        return self.seal(self.open(sealed))

    def can_open(self, sealed: str) -> bool:
        """True when one of the keys opens the value."""
        try:
            self.open(sealed)
        except SecretsError:
            return False
        return True


def is_sealed(value: object) -> bool:
    """True for a value this module encrypted."""
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def _parse_keys(text: str, separator: str) -> tuple[str, ...]:
    parts = (part.strip() for part in text.split(separator))
    return tuple(part for part in parts if part and not part.startswith("#"))


def read_key_file(path: Path) -> Keyring:
    """The keys in a key file, one per line, newest first."""
    try:
        text = path.read_text("ascii")
    except OSError as exc:
        raise SecretsError(f"cannot read the secret key file {path}: {exc.strerror or exc}") from None
    return Keyring(_parse_keys(text, "\n"), origin=f"the key file {path}", key_file=path)


def write_key_file(path: Path, keys: Sequence[str]) -> None:
    """Replace a key file atomically with these keys (mode 0600 from the first byte)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write("".join(f"{key}\n" for key in keys))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def ensure_key_file(path: Path) -> Keyring:
    """The key file at `path`, created with a new key and mode 0600 when missing (race-safe)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.new")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(generate_key() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # fails if another process created it first: theirs wins
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return read_key_file(path)


def key_file_beside(database: Path) -> Path:
    """Where the key of an SQLite database lives when no key is configured."""
    return database.with_name(database.name + KEY_FILE_SUFFIX)


_MEMORY_KEY = generate_key()


def resolve_keyring(settings: Settings) -> Keyring:
    """The keyring these settings call for (see the module docstring for the order).

    Raises:
        SecretsError: PostgreSQL without a configured key, or a key that is not a Fernet key.
    """
    given = settings.secret_key.get_secret_value().strip() if settings.secret_key else ""
    if given:  # an empty value (e.g. an unset variable in docker-compose.yml) counts as not set
        return Keyring(_parse_keys(given, ","), origin="YUQING_SECRET_KEY")
    if settings.secret_key_file is not None:
        return read_key_file(settings.secret_key_file)
    if not settings.is_sqlite:
        raise SecretsError(
            "PostgreSQL needs a key to encrypt channel and source credentials: set YUQING_SECRET_KEY "
            f"or YUQING_SECRET_KEY_FILE ({GENERATE_HINT})"
        )
    path = settings.sqlite_path()
    if path is None:
        return Keyring((_MEMORY_KEY,), origin="the in-memory database's process key")
    return ensure_key_file(key_file_beside(path))


_BOUND: weakref.WeakKeyDictionary[Dialect, Keyring] = weakref.WeakKeyDictionary()


def bind_keyring(dialect: Dialect, keyring: Keyring) -> None:
    """Make every encrypted column read and written through this dialect (engine) use `keyring`."""
    _BOUND[dialect] = keyring


def keyring_for(dialect: Dialect) -> Keyring:
    """The keyring bound to an engine's dialect."""
    try:
        return _BOUND[dialect]
    except KeyError:
        raise SecretsError("this database connection has no secret key bound") from None


class EncryptedText(TypeDecorator[str]):
    """A text column stored sealed; reads and writes see the plain value."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring_for(dialect).seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring_for(dialect).open(value)


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON column whose whole value is stored as one sealed JSON string."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return keyring_for(dialect).seal(json.dumps(value, ensure_ascii=False, sort_keys=True))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise SecretsError("a stored secret is not encrypted; run `yuqing migrate`")
        return json.loads(keyring_for(dialect).open(value))


ENCRYPTED_TYPES = (EncryptedText, EncryptedJSON)
STORED_JSON = JSON().with_variant(JSONB(), "postgresql")
# table name → {column name: stored as JSON?}; the models declare it, a migration freezes its own copy
ColumnSpec = dict[str, dict[str, bool]]


@dataclass(frozen=True)
class StoredValue:
    """One stored value of an encrypted column: where it is and its raw content."""

    table: str
    row_id: int
    row_name: str
    column: str
    raw: Any

    def describe(self) -> str:
        """`channels 3 «公关部群» url`: enough for an operator to find it."""
        return f"{self.table} {self.row_id} «{self.row_name}» {self.column}"


def encrypted_columns(metadata: MetaData) -> ColumnSpec:
    """Table name → its encrypted columns, as the models declare them."""
    found: ColumnSpec = {}
    for model_table in metadata.sorted_tables:
        for model_column in model_table.columns:
            if isinstance(model_column.type, ENCRYPTED_TYPES):
                is_json = isinstance(model_column.type, EncryptedJSON)
                found.setdefault(model_table.name, {})[model_column.name] = is_json
    return found


def _raw_table(name: str, columns: dict[str, bool]) -> TableClause:
    """The table with its encrypted columns typed as stored, so nothing is decrypted on the way."""
    typed = (column(col, STORED_JSON if is_json else Text()) for col, is_json in columns.items())
    return table(name, column("id"), column("name"), *typed)


def stored_values(connection: Connection, spec: ColumnSpec) -> list[StoredValue]:
    """Every non-null value of every encrypted column, raw as stored (tables not created yet hold none)."""
    values: list[StoredValue] = []
    existing = set(inspect(connection).get_table_names())
    for name, columns in spec.items():
        if name not in existing:
            continue
        raw = _raw_table(name, columns)
        for row in connection.execute(select(raw).order_by(raw.c.id)).mappings():
            values.extend(
                StoredValue(name, row["id"], row["name"], col, row[col])
                for col in columns
                if row[col] is not None
            )
    return values


def _write(connection: Connection, spec: ColumnSpec, value: StoredValue, new: Any) -> None:
    raw = _raw_table(value.table, spec[value.table])
    connection.execute(update(raw).where(raw.c.id == value.row_id).values({value.column: new}))


def unreadable(connection: Connection, spec: ColumnSpec, keyring: Keyring) -> list[StoredValue]:
    """Stored values the keyring cannot open (wrong key, or never encrypted)."""
    return [
        value
        for value in stored_values(connection, spec)
        if not (is_sealed(value.raw) and keyring.can_open(value.raw))
    ]


def check_readable(connection: Connection, spec: ColumnSpec, keyring: Keyring) -> int:
    """Count the stored secrets, or raise one SecretsError naming every one that cannot be read."""
    bad = unreadable(connection, spec, keyring)
    if bad:
        listed = ", ".join(value.describe() for value in bad[:20])
        more = f" and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise SecretsError(
            f"cannot decrypt {len(bad)} stored secret(s) with the key from {keyring.origin}: {listed}{more}. "
            "The key is wrong or missing (was the key file replaced or YUQING_SECRET_KEY changed?): "
            "restore the key that encrypted them"
        )
    return len(stored_values(connection, spec))


def reseal_all(connection: Connection, spec: ColumnSpec, keyring: Keyring) -> int:
    """Re-encrypt every stored secret under the keyring's first key; the caller owns the transaction."""
    check_readable(connection, spec, keyring)
    values = stored_values(connection, spec)
    for value in values:
        _write(connection, spec, value, keyring.reseal(value.raw))
    return len(values)


def seal_plain(connection: Connection, spec: ColumnSpec, keyring: Callable[[], Keyring]) -> int:
    """Encrypt every stored value that is not encrypted yet (the data migration); returns how many.

    `keyring` is called only when there is something to encrypt, so an empty database needs no key.
    """
    plain = [value for value in stored_values(connection, spec) if not is_sealed(value.raw)]
    if plain:
        ring = keyring()
        for value in plain:
            is_json = spec[value.table][value.column]
            text = json.dumps(value.raw, ensure_ascii=False, sort_keys=True) if is_json else value.raw
            _write(connection, spec, value, ring.seal(text))
    return len(plain)


def open_all(connection: Connection, spec: ColumnSpec, keyring: Callable[[], Keyring]) -> int:
    """Decrypt every stored value back to plain text (the data migration's downgrade); returns how many.

    `keyring` is called only when there is something to decrypt.
    """
    sealed = [value for value in stored_values(connection, spec) if is_sealed(value.raw)]
    if sealed:
        ring = keyring()
        for value in sealed:
            text = ring.open(value.raw)
            _write(connection, spec, value, json.loads(text) if spec[value.table][value.column] else text)
    return len(sealed)
