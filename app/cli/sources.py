"""`yuqing collect|sources|import|source-presets|add-source`: collection, file import and sources."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import auto_migrate, settings_or_exit, setup


def _services():  # type: ignore[no-untyped-def]
    from app.runtime.container import Services

    settings = settings_or_exit()
    setup(settings)
    auto_migrate(settings)
    return Services.create(settings)


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


def import_file(
    file: Annotated[Path, typer.Argument(help="A .jsonl, .csv or .xlsx file of posts (UTF-8 or GBK).")],
    source: Annotated[str, typer.Option(help="The push source to import into (created if missing).")],
    batch: Annotated[int, typer.Option(help="Posts per transaction.")] = 500,
) -> None:
    """Import posts from JSONL, CSV or Excel with the same validation as push."""
    from app.core.errors import AppError
    from app.importer import ImportFileError, import_posts

    if not file.is_file():
        typer.echo(f"yuqing: {file} does not exist or is not a file", err=True)
        raise typer.Exit(2)
    services = _services()
    try:
        report = import_posts(services.pipeline, file, source, batch_size=batch)
    except ImportFileError as exc:
        typer.echo(f"yuqing: {file}: {exc}", err=True)
        raise typer.Exit(1) from None
    except AppError as exc:  # e.g. the source exists and is not a push source
        typer.echo(f"yuqing: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"accepted {report.accepted}, duplicates {report.duplicates}, rejected {len(report.rejected)}, "
        f"adjusted {len(report.adjusted)} (read as {report.encoding})"
    )
    for adjusted in report.adjusted[:20]:
        change = f"{adjusted.field} {adjusted.original!r} → {adjusted.value}"
        typer.echo(f"  line {adjusted.index}: {change}（{adjusted.reason}）")
    if len(report.adjusted) > 20:
        typer.echo(f"  … and {len(report.adjusted) - 20} more adjusted")
    for rejected in report.rejected[:50]:
        typer.echo(f"  line {rejected.index}: {rejected.error}", err=True)
    if len(report.rejected) > 50:
        typer.echo(f"  … and {len(report.rejected) - 50} more", err=True)


def source_presets() -> None:
    """List the platform presets (微博, 知乎, B站, 抖音, 小红书, 贴吧, 今日头条, 公众号, news sites)."""
    from app.sources import presets

    settings = settings_or_exit()
    for preset in presets.PRESETS:
        params = " ".join(f"{p.name}=<{p.label}，如 {p.example}>" for p in preset.params) or "（无参数）"
        needs = {"rsshub": settings.rsshub_url, "wechat_bridge": settings.wechat_bridge_url}.get(
            preset.base, "ok"
        )
        ready = "" if needs else f"\t需要配置 YUQING_{preset.base.upper()}_URL"
        typer.echo(f"{preset.id}\t{preset.name}\t{params}{ready}")


def add_source(
    preset: Annotated[str, typer.Option(help="A preset id (yuqing source-presets lists them).")],
    param: Annotated[
        list[str] | None, typer.Option(help="A preset parameter as NAME=VALUE; repeatable.")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Source name (default: the preset's name and parameters).")
    ] = None,
) -> None:
    """Add a source from a platform preset, e.g. --preset weibo_keyword --param keyword=星河汽车."""
    from app.core.errors import AppError
    from app.sources import presets, service

    values: dict[str, str] = {}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep:
            typer.echo(f"yuqing: --param must be NAME=VALUE, got {item!r}", err=True)
            raise typer.Exit(2)
        values[key.strip()] = value
    services = _services()
    try:
        data = presets.source_for(preset, values, services.settings, name=name)
        with services.db.session() as session:
            source = service.create(session=session, data=data, allowlist=services.settings.url_allowlist)
            typer.echo(f"added source {source.id} {source.name!r}: {source.url}")
    except AppError as exc:
        typer.echo(f"yuqing: {exc}", err=True)
        raise typer.Exit(1) from None
