"""Alembic as the only path to a schema: programmatic upgrade used by the CLI, serve and tests."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from alembic import command
from app.core.secrets import Keyring


def _alembic_dir() -> Path:
    """The migrations folder: beside the packages (checkout, editable install) or in the working directory."""
    for candidate in (Path(__file__).resolve().parents[2] / "alembic", Path.cwd() / "alembic"):
        if (candidate / "env.py").exists():
            return candidate
    raise RuntimeError("cannot find the alembic/ migrations folder; run from the Yuqing checkout")


ALEMBIC_DIR = _alembic_dir()


def alembic_config(url: str, keyring: Keyring | None = None) -> Config:
    """An Alembic config pointing at this project's migrations and the given database.

    `keyring` is the key a data migration encrypts secrets with (default: the settings' one).
    """
    config = Config()
    config.attributes["keyring"] = keyring
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def upgrade(url: str, revision: str = "head", *, keyring: Keyring | None = None) -> None:
    """Migrate the database at `url` to `revision` (creating an SQLite file's folder first)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url, keyring), revision)


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
