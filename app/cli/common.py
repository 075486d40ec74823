"""What every command shares: settings (or one clear line and exit 2), logging, SQLite auto-migration."""

from __future__ import annotations

import typer

from app.core.config import Settings, SettingsError, load_settings


def settings_or_exit() -> Settings:
    """Load settings or exit with one clear line."""
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(f"yuqing: {exc}", err=True)
        raise typer.Exit(2) from None


def setup(settings: Settings) -> None:
    """Configure logging as the settings say."""
    from app.core.logging import setup_logging

    setup_logging(settings.log_level, settings.log_format)


def auto_migrate(settings: Settings) -> None:
    """Migrate an embedded SQLite database automatically (PostgreSQL is migrated explicitly)."""
    if settings.is_sqlite:
        from app.core.migrate import upgrade

        upgrade(settings.database_url)
