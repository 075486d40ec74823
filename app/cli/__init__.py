"""The `yuqing` command line: one root, every command and group registered in root.py.

Commands depend on the domains and on app/runtime; nothing outside this package imports it
(except `python -m app` and the `yuqing` console script, both through `main`).

root.py      the `yuqing` Typer app, COMMANDS and GROUPS in help order, `main` (console script)
common.py    settings_or_exit, setup (logging), auto_migrate (embedded SQLite)
server.py    migrate, serve (app/runtime/server.py)
analysis.py  analyze, detect, train-sentiment: offline, no database
sources.py   collect, sources, import, source-presets, add-source
demo.py      demo: load the demo through the real pipeline, then serve
reports.py   report: a topic's 舆情简报 as Markdown or HTML
keys.py      keys create|list
secrets.py   secrets generate-key|check|rotate (app/runtime/secrets.py)
cases.py     case export|list (复盘)
"""

from app.cli.root import cli, main

__all__ = ["cli", "main"]
