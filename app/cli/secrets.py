"""`yuqing secrets generate-key|check|rotate`: encryption of stored credentials (app/runtime/secrets.py)."""

from __future__ import annotations

from typing import NoReturn

import typer

from app.cli.common import auto_migrate, settings_or_exit, setup
from app.core.config import Settings
from app.core.secrets import SecretsError, generate_key, resolve_keyring
from app.runtime.secrets import rotate, verify

secrets_cli = typer.Typer(help="Encryption of channel and source credentials at rest.", no_args_is_help=True)


@secrets_cli.command("generate-key")
def generate_key_command() -> None:
    """Print a new random key for YUQING_SECRET_KEY or a key file."""
    typer.echo(generate_key())


def _prepared_settings() -> Settings:
    """Settings of a command that opens stored secrets: logging set up and the schema current."""
    settings = settings_or_exit()
    setup(settings)
    auto_migrate(settings)
    return settings


def _exit_on_secrets_error(exc: SecretsError) -> NoReturn:
    typer.echo(f"yuqing: {exc}", err=True)
    raise typer.Exit(1) from None


@secrets_cli.command("check")
def check_command() -> None:
    """Check that every stored secret opens with the configured key."""
    settings = _prepared_settings()
    try:
        count = verify(settings)
    except SecretsError as exc:
        _exit_on_secrets_error(exc)
    typer.echo(f"all {count} stored secret(s) open with the key from {resolve_keyring(settings).origin}")


@secrets_cli.command("rotate")
def rotate_command() -> None:
    """Re-encrypt every stored secret under a new key, in one transaction (stop Yuqing first)."""
    try:
        rotation = rotate(_prepared_settings())
    except SecretsError as exc:
        _exit_on_secrets_error(exc)
    typer.echo(rotation.message)
