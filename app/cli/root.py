"""The root `yuqing` command: every command and command group is registered here, in help order."""

from __future__ import annotations

import sys

import typer

from app.cli import analysis, cases, demo, keys, reports, secrets, server, sources
from app.core.config import SettingsError

cli = typer.Typer(
    help="Yuqing 舆情监测与预警: collect, understand, warn, deliver.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

COMMANDS = (  # (name, function), listed by `yuqing --help` in this order, before the groups
    ("migrate", server.migrate),
    ("serve", server.serve),
    ("analyze", analysis.analyze),
    ("detect", analysis.detect),
    ("train-sentiment", analysis.train_sentiment),
    ("collect", sources.collect),
    ("sources", sources.sources_list),
    ("import", sources.import_file),
    ("source-presets", sources.source_presets),
    ("add-source", sources.add_source),
    ("demo", demo.demo),
    ("report", reports.report),
)
GROUPS = (  # (name, sub-app)
    ("keys", keys.keys_cli),
    ("secrets", secrets.secrets_cli),
    ("case", cases.case_cli),
)

for _name, _function in COMMANDS:
    cli.command(_name)(_function)
for _name, _group in GROUPS:
    cli.add_typer(_group, name=_name)


def main() -> None:
    """Console-script entry point."""
    try:
        cli()
    except SettingsError as exc:
        typer.echo(f"yuqing: {exc}", err=True)
        sys.exit(2)
