"""CLI: `yuqing case export ID` writes a case's 复盘 document; `yuqing case list` finds cases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import auto_migrate, settings_or_exit, setup

case_cli = typer.Typer(help="The case library (复盘).", no_args_is_help=True)


def _database():  # type: ignore[no-untyped-def]
    from app.core.db import Database

    settings = settings_or_exit()
    setup(settings)
    auto_migrate(settings)
    return Database(settings.database_url)


@case_cli.command("export")
def export(
    case_id: Annotated[int, typer.Argument(help="The case id.")],
    output: Annotated[Path | None, typer.Option(help="Write to this file, not stdout.")] = None,
) -> None:
    """Write a case as a 复盘 document in Markdown."""
    from app.cases import service
    from app.cases.export import to_markdown
    from app.core.errors import AppError

    db = _database()
    try:
        with db.session() as session:
            document = to_markdown(service.get(session=session, case_id=case_id))
    except AppError as exc:
        typer.echo(f"yuqing: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    if output is None:
        typer.echo(document, nl=False)
        return
    output.write_text(document, encoding="utf-8")
    typer.echo(f"wrote {output}", err=True)


@case_cli.command("list")
def list_cases(q: Annotated[str | None, typer.Option(help="Words to search for.")] = None) -> None:
    """List cases, newest first, optionally searched."""
    from analysis.grading import GRADE_LABELS
    from app.cases import service

    db = _database()
    try:
        with db.session() as session:
            for case in service.search(session=session, q=q):
                tags = ",".join(case.tags)
                grade = GRADE_LABELS.get(case.grade, case.grade)
                typer.echo(f"{case.id}\t{grade}\t{case.created_at:%Y-%m-%d}\t{case.title}\t{tags}")
    finally:
        db.dispose()
