"""`yuqing keys create|list`: API keys from the command line (the secret is shown once)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import auto_migrate, settings_or_exit

keys_cli = typer.Typer(help="Manage API keys.", no_args_is_help=True)


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
    auto_migrate(settings)
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
