"""Offline analysis commands: analyze, detect, train-sentiment (no database, no service)."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TextIO

import typer


@contextmanager
def _open(path: str, mode: str) -> Iterator[TextIO]:
    """A file, or stdin/stdout for '-'; UTF-8 with undecodable bytes replaced on input."""
    if path == "-":
        stream = sys.stdin if "r" in mode else sys.stdout
        yield stream
        return
    with open(
        path, mode, encoding="utf-8", errors="replace" if "r" in mode else "strict", newline=""
    ) as handle:
        yield handle  # type: ignore[misc]  # text mode: a TextIOWrapper


def _configured_model() -> Path | None:
    """`YUQING_SENTIMENT_MODEL` (checked), so `yuqing analyze` scores with the service's model."""
    from app.core.config import SettingsError, load_settings

    try:
        return load_settings().sentiment_model
    except SettingsError as exc:
        typer.echo(f"yuqing: {exc}", err=True)
        raise typer.Exit(2) from None


def analyze(
    input: Annotated[str, typer.Option("--input", "-i", help="JSONL with a 'text' field per line, or '-'.")],
    output: Annotated[str, typer.Option("--output", "-o", help="JSONL output, or '-'.")] = "-",
) -> None:
    """Add sentiment, sentiment_score, keywords and simhash to each JSONL line (text, optional title)."""
    if input != "-" and not Path(input).is_file():
        typer.echo(f"yuqing: {input} does not exist or is not a file", err=True)
        raise typer.Exit(2)
    if output != "-" and not Path(output).resolve().parent.is_dir():
        typer.echo(f"yuqing: the folder of {output} does not exist", err=True)
        raise typer.Exit(2)
    from analysis.analyze import analyze_records
    from analysis.sentiment import SentimentModel
    from analysis.tokenize import default_tokenizer

    model = SentimentModel.load(_configured_model())
    errors = total = 0
    with _open(input, "r") as source, _open(output, "w") as sink:
        records = analyze_records(source, tokenizer=default_tokenizer(), model=model)
        for record in records:
            total += 1
            errors += "error" in record
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
    typer.echo(f"analysed {total} lines, {errors} with errors", err=True)


def detect(
    input: Annotated[Path, typer.Option("--input", "-i", help="CSV with columns timestamp,value.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV with score and alert columns added.")],
    params: Annotated[str | None, typer.Option(help="JSON object of detector parameters.")] = None,
) -> None:
    """Run the service's volume spike detector over a series (the backtest tool)."""
    from analysis.detectors import detect_csv

    try:
        overrides = json.loads(params) if params else None
        summary = detect_csv(input, output, params=overrides)
    except (OSError, ValueError) as exc:
        typer.echo(f"yuqing: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{summary.rows} buckets of {summary.bucket}, {summary.alerts} alerts")
    for moment in summary.alert_times[:50]:
        typer.echo(f"  alert at {moment.isoformat()}")


CORRECTIONS_STEM = "analyst_corrections"
CORRECTIONS_WEIGHT = 2.0  # an analyst looked at this very deployment's post: worth two corpus rows


def _export_corrections(path: Path) -> int:
    """Write the configured database's sentiment corrections as labelled JSONL; returns the rows."""
    from app.core.config import SettingsError, load_settings
    from app.core.db import Database
    from app.posts.corrections import training_rows

    try:
        settings = load_settings()
    except SettingsError as exc:
        typer.echo(f"yuqing: {exc}", err=True)
        raise typer.Exit(2) from None
    db = Database(settings.database_url)
    count = 0
    try:
        with db.session() as session, path.open("w", encoding="utf-8") as handle:
            for row in training_rows(session):
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
    finally:
        db.dispose()
    return count


def train_sentiment(
    input: Annotated[
        list[Path], typer.Option("--input", "-i", help="Labelled JSONL {text, label}; repeatable.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write the model to.")],
    dev: Annotated[
        Path | None, typer.Option(help="Labelled JSONL measured once after training (nothing tuned on it).")
    ] = None,
    corrections: Annotated[
        bool,
        typer.Option(
            "--corrections",
            help="Also train on the analysts' sentiment corrections stored in the configured database.",
        ),
    ] = False,
    corrections_weight: Annotated[
        float, typer.Option(min=0.0, help="Weight of each corrected post relative to a corpus row.")
    ] = CORRECTIONS_WEIGHT,
) -> None:
    """Train the sentiment model on labelled data (e.g. your industry) and print dev metrics."""
    try:
        from analysis.sentiment import train_from_files
        from analysis.sentiment.training import SHARED_CORPUS_WEIGHTS
    except ImportError:
        typer.echo("yuqing: training needs the 'train' extra: pip install 'yuqing[train]'", err=True)
        raise typer.Exit(2) from None
    missing = [str(p) for p in [*input, *([dev] if dev else [])] if not p.exists()]
    if missing:
        typer.echo(f"yuqing: not found: {', '.join(missing)}", err=True)
        raise typer.Exit(2)
    inputs, weights = list(input), dict(SHARED_CORPUS_WEIGHTS)
    scratch = tempfile.TemporaryDirectory()
    if corrections:
        path = Path(scratch.name) / f"{CORRECTIONS_STEM}.jsonl"
        count = _export_corrections(path)
        typer.echo(f"{count} analyst-corrected posts added with weight {corrections_weight:g}", err=True)
        if count:
            inputs.append(path)
            weights[CORRECTIONS_STEM] = corrections_weight
    try:
        with scratch:
            report = train_from_files(inputs, dev, output, corpus_weights=weights)
    except ValueError as exc:
        typer.echo(f"yuqing: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(report.format())
