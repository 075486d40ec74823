"""`yuqing migrate` and `yuqing serve`: the schema, and the service by role (app/runtime/server.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import settings_or_exit, setup


def migrate() -> None:
    """Create or upgrade the database schema (Alembic)."""
    from app.core.migrate import upgrade

    settings = settings_or_exit()
    setup(settings)
    upgrade(settings.database_url)
    typer.echo("database is at the latest schema")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    role: Annotated[str, typer.Option(help="all | api | scheduler | worker")] = "all",
) -> None:
    """Run the service (API, scheduler and workers by role)."""
    from app.runtime.server import run_server

    settings = settings_or_exit()
    setup(settings)
    run_server(settings, host=host, port=port, role=role)
