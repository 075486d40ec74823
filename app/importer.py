"""File import (JSONL and CSV) through the same validation and pipeline as push."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import Progress

from app.pipeline import Pipeline
from app.posts.schemas import AdjustedPost, RejectedPost

_ENGAGEMENT_PREFIX = "engagement."


@dataclass
class ImportReport:
    """Totals of an import; `index` in rejections and adjustments is the 1-based line (JSONL) or
    row (CSV, counting the header as row 1)."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[RejectedPost] = field(default_factory=list)
    adjusted: list[AdjustedPost] = field(default_factory=list)


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open("r", encoding="utf-8-sig", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, ValueError(f"invalid JSON at column {exc.colno}: {exc.msg}")


def _csv_value(key: str, value: str) -> Any:
    if value.strip() == "":
        return None
    if key.startswith(_ENGAGEMENT_PREFIX):
        return int(value) if value.strip().lstrip("-").isdigit() else value
    return value


def _csv_rows(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            item: dict[str, Any] = {}
            engagement: dict[str, Any] = {}
            for key, value in row.items():
                if key is None or value is None:
                    continue
                parsed = _csv_value(key, value)
                if parsed is None:
                    continue
                if key.startswith(_ENGAGEMENT_PREFIX):
                    engagement[key[len(_ENGAGEMENT_PREFIX) :]] = parsed
                else:
                    item[key] = parsed
            if engagement:
                item["engagement"] = engagement
            yield number, item


def read_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, item or ValueError) for each row of a JSONL or CSV file."""
    if path.suffix.lower() == ".csv":
        return _csv_rows(path)
    return _jsonl_rows(path)


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def import_posts(
    pipeline: Pipeline, path: Path, source: str, *, batch_size: int = 500, progress: bool = True
) -> ImportReport:
    """Import a file in batches; each batch is one transaction; bad rows are reported, not fatal."""
    report = ImportReport()
    batch: list[tuple[int, Any]] = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"importing {path.name}", total=_count_lines(path))
        for number, item in read_rows(path):
            if isinstance(item, ValueError):
                report.rejected.append(RejectedPost(index=number, error=str(item)))
            else:
                batch.append((number, item))
            if len(batch) >= batch_size:
                _flush(pipeline, source, batch, report)
                bar.update(task, advance=len(batch))
                batch = []
        if batch:
            _flush(pipeline, source, batch, report)
            bar.update(task, advance=len(batch))
    return report


def _flush(pipeline: Pipeline, source: str, batch: list[tuple[int, Any]], report: ImportReport) -> None:
    result = pipeline.push(source, [item for _, item in batch])
    report.accepted += result.accepted
    report.duplicates += result.duplicates
    for rejected in result.rejected:
        report.rejected.append(RejectedPost(index=batch[rejected.index][0], error=rejected.error))
    for adjusted in result.adjusted:
        report.adjusted.append(adjusted.model_copy(update={"index": batch[adjusted.index][0]}))
