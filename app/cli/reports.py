"""CLI: `yuqing report` writes a topic's 舆情简报 as Markdown or HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import auto_migrate, settings_or_exit, setup


def chart_path(output: Path) -> Path:
    """Where the trend chart of a Markdown report written to `output` goes (beside it)."""
    return output.with_name(output.stem + ".trend.svg")


def report(
    topic: Annotated[str, typer.Option(help="Topic name (or id).")],
    period: Annotated[str, typer.Option(help="day | week (China time).")] = "day",
    date: Annotated[str | None, typer.Option(help="A day in the period, YYYY-MM-DD (China time).")] = None,
    format: Annotated[str, typer.Option("--format", help="md | html")] = "md",
    output: Annotated[Path | None, typer.Option(help="Write to this file, not stdout.")] = None,
) -> None:
    """Write a topic's report (舆情简报) for a day or a week."""
    from app.core.db import Database, utcnow
    from app.core.errors import AppError
    from app.reports.periods import parse_date
    from app.reports.service import build_report

    if format not in ("md", "html") or period not in ("day", "week"):
        typer.echo("yuqing: --format 只能是 md 或 html，--period 只能是 day 或 week", err=True)
        raise typer.Exit(2)
    settings = settings_or_exit()
    setup(settings)
    auto_migrate(settings)
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            topic_id = _topic_id(session, topic)
            built = build_report(
                session=session, topic_id=topic_id, period=period, day=parse_date(date), now=utcnow()
            )
    except AppError as exc:
        typer.echo(f"yuqing: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    _write(built, format, output)


def _write(built, format: str, output: Path | None) -> None:  # type: ignore[no-untyped-def]
    from app.reports.render import chart_svg, to_html, to_markdown

    if output is None:
        typer.echo(to_html(built) if format == "html" else to_markdown(built), nl=False)
        return
    if format == "html":
        output.write_text(to_html(built), encoding="utf-8")
    else:
        svg = chart_path(output)
        svg.write_text(chart_svg(built), encoding="utf-8")
        output.write_text(to_markdown(built, image_src=svg.name), encoding="utf-8")
        typer.echo(f"图表：{svg}", err=True)
    typer.echo(f"已写入 {output}", err=True)


def _topic_id(session, name_or_id: str) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from app.core.errors import NotFound
    from app.posts.models import Topic

    found = session.scalar(select(Topic).where(Topic.name == name_or_id))
    if found is not None:
        return int(found.id)
    if name_or_id.isdigit():
        if session.get(Topic, int(name_or_id)) is None:
            raise NotFound(f"topic {name_or_id} not found")
        return int(name_or_id)
    raise NotFound(f"没有名为 {name_or_id!r} 的话题")
