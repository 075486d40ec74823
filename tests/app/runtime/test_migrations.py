"""Models and migrations agree: autogenerate finds no difference, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.models import metadata
from app.posts.search_index import is_index_object


def test_autogenerate_finds_no_difference(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        # the search index's GIN index and FTS5 tables live outside the models (app/posts/search_index.py)
        opts = {"compare_type": True, "include_name": lambda name, kind, _: not is_index_object(name)}
        context = MigrationContext.configure(connection, opts=opts)
        diff = compare_metadata(context, metadata)
    engine.dispose()
    assert diff == []


def test_every_table_exists_after_migration(database_url: str) -> None:
    engine = create_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {t.name for t in metadata.sorted_tables} <= tables
    assert "alembic_version" in tables


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from app.core.db import Database

    db = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.dispose()
