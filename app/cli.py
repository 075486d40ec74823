"""The `yuqing` command line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from app.core.config import Settings, SettingsError, load_settings

cli = typer.Typer(
    help="Yuqing 舆情监测与预警: collect, understand, warn, deliver.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
keys_cli = typer.Typer(help="Manage API keys.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")


def settings_or_exit() -> Settings:
    """Load settings or exit with one clear line."""
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(f"yuqing: {exc}", err=True)
        raise typer.Exit(2) from None


def _setup(settings: Settings) -> None:
    from app.core.logging import setup_logging

    setup_logging(settings.log_level, settings.log_format)


@cli.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic)."""
    from app.core.migrate import upgrade

    settings = settings_or_exit()
    _setup(settings)
    upgrade(settings.database_url)
    typer.echo("database is at the latest schema")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    role: Annotated[str, typer.Option(help="all | api | scheduler | worker")] = "all",
) -> None:
    """Run the service (API, scheduler and workers by role)."""
    from app.runner import run_server

    settings = settings_or_exit()
    _setup(settings)
    run_server(settings, host=host, port=port, role=role)


@keys_cli.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A name for the key (unique).")],
    scope: Annotated[str, typer.Option(help="read | write | admin")] = "read",
) -> None:
    """Create an API key; the key is printed as the last line, once."""
    from app.core.db import Database
    from app.core.errors import AppError
    from app.keys import service

    settings = settings_or_exit()
    _auto_migrate(settings)
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            key, plain = service.create(session=session, name=name, scope=scope)
            from app.audit import service as audit

            audit.record(
                session=session,
                actor="cli",
                action="create",
                entity="key",
                entity_id=key.id,
                details={"name": name, "scope": scope},
            )
    except AppError as exc:
        typer.echo(f"yuqing: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created key {name!r} with scope {scope}; store it now, it is not shown again:")
    typer.echo(plain)


@keys_cli.command("list")
def keys_list() -> None:
    """List API keys (never their secrets)."""
    from app.core.db import Database
    from app.keys import service

    settings = settings_or_exit()
    db = Database(settings.database_url)
    with db.session() as session:
        for key in service.list_keys(session=session):
            state = "revoked" if key.revoked_at else "active"
            typer.echo(f"{key.id}\t{key.name}\t{key.scope}\t{key.prefix}…\t{state}")


def _auto_migrate(settings: Settings) -> None:
    """Migrate an embedded SQLite database automatically (PostgreSQL is migrated explicitly)."""
    if settings.is_sqlite:
        from app.core.migrate import upgrade

        upgrade(settings.database_url)


def main() -> None:
    """Console-script entry point."""
    # Each module registers its commands on `cli` when imported; imported here because they import `cli`.
    from app import analysis_commands, commands, secrets_commands  # noqa: F401
    from app.cases import commands as case_commands  # noqa: F401
    from app.demo import commands as demo_commands  # noqa: F401
    from app.reports import commands as report_commands  # noqa: F401

    try:
        cli()
    except SettingsError as exc:
        typer.echo(f"yuqing: {exc}", err=True)
        sys.exit(2)


__all__ = ["cli", "main", "settings_or_exit", "Path", "asyncio"]
