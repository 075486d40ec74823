"""CLI commands beyond serve/migrate/keys: collection, import and sources."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from app.cli import _auto_migrate, _setup, cli, settings_or_exit


def _services():  # type: ignore[no-untyped-def]
    from app.services import Services

    settings = settings_or_exit()
    _setup(settings)
    _auto_migrate(settings)
    return Services.create(settings)


@cli.command()
def collect(
    once: Annotated[bool, typer.Option("--once", help="Run one pass and exit.")] = True,
    source: Annotated[str | None, typer.Option(help="Only this source (by name).")] = None,
) -> None:
    """Collect every enabled source once (or one source with --source)."""
    from app.sources import service

    services = _services()
    with services.db.session() as session:
        if source:
            found = service.get_by_name(session=session, name=source)
            if found is None:
                typer.echo(f"yuqing: no source named {source!r}", err=True)
                raise typer.Exit(1)
            ids: list[int] | None = [found.id]
        else:
            ids = None

    async def run() -> list:  # type: ignore[type-arg]
        try:
            return await services.worker.run_once(ids)
        finally:
            await services.fetcher.aclose()

    failed = 0
    for summary in asyncio.run(run()):
        failed += summary.status == "error"
        detail = (
            f"error: {summary.error}"
            if summary.error
            else f"new {summary.new}, duplicates {summary.duplicates}"
        )
        typer.echo(f"{summary.source}\t{summary.status}\t{detail}")
    raise typer.Exit(1 if failed else 0)


@cli.command("sources")
def sources_list() -> None:
    """List sources with their health."""
    from app.sources import service

    services = _services()
    with services.db.session() as session:
        for s in service.list_sources(session=session):
            last_ok = s.last_success_at.isoformat(timespec="seconds") if s.last_success_at else "-"
            next_run = s.next_run_at.isoformat(timespec="seconds") if s.next_run_at else "due"
            typer.echo(
                f"{s.id}\t{s.name}\t{s.kind}\t{'on' if s.enabled else 'off'}\tlast ok {last_ok}\t"
                f"failures {s.consecutive_failures}\tnext {next_run}\t{s.last_error or ''}"
            )


@cli.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="A .jsonl or .csv file of posts.")],
    source: Annotated[str, typer.Option(help="The push source to import into (created if missing).")],
    batch: Annotated[int, typer.Option(help="Posts per transaction.")] = 500,
) -> None:
    """Import posts from JSONL or CSV with the same validation as push."""
    from app.core.errors import AppError
    from app.importer import import_posts

    if not file.is_file():
        typer.echo(f"yuqing: {file} does not exist or is not a file", err=True)
        raise typer.Exit(2)
    services = _services()
    try:
        report = import_posts(services.pipeline, file, source, batch_size=batch)
    except AppError as exc:  # e.g. the source exists and is not a push source
        typer.echo(f"yuqing: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"accepted {report.accepted}, duplicates {report.duplicates}, rejected {len(report.rejected)}, "
        f"adjusted {len(report.adjusted)}"
    )
    for rejected in report.rejected[:50]:
        typer.echo(f"  line {rejected.index}: {rejected.error}", err=True)
    if len(report.rejected) > 50:
        typer.echo(f"  … and {len(report.rejected) - 50} more", err=True)
    for adjusted in report.adjusted[:50]:
        stored = adjusted.value or "(dropped)"
        line = f"  line {adjusted.index}: {adjusted.field} {adjusted.original} → {stored}: {adjusted.reason}"
        typer.echo(line, err=True)
    if len(report.adjusted) > 50:
        typer.echo(f"  … and {len(report.adjusted) - 50} more adjusted", err=True)
