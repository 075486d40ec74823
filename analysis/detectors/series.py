"""Batch helpers for the CLI and backtests: run the service's volume detector over a whole series.

Input CSV: `timestamp,value`, one row per evenly spaced bucket (NAB's `YYYY-MM-DD HH:MM:SS` or any
ISO 8601 form). Output CSV: `timestamp,value,baseline,score,alert,reason` with `alert` 0/1, at most
one alert per episode, which is also what NAB-style scorers read.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from analysis.detectors.decision import Decision
from analysis.detectors.volume import VolumeSpikeDetector, VolumeSpikeParams

OUTPUT_COLUMNS = ("timestamp", "value", "baseline", "score", "alert", "reason")


class Series(NamedTuple):
    """A bucketed count series: parallel lists of bucket start times and values."""

    timestamps: list[datetime]
    values: list[float]


@dataclass(frozen=True)
class DetectionSummary:
    """What `detect_csv` did, for the CLI to print."""

    rows: int
    alerts: int
    bucket: timedelta
    alert_times: tuple[datetime, ...]


def infer_bucket(timestamps: Sequence[datetime]) -> timedelta:
    """Bucket width of a series: the median gap between consecutive timestamps."""
    gaps = [b - a for a, b in zip(timestamps, timestamps[1:], strict=False)]
    if not gaps:
        return VolumeSpikeParams().bucket
    if min(gaps) <= timedelta(0):
        raise ValueError("timestamps must increase")
    return statistics.median_low(gaps)


def resolve_params(
    params: VolumeSpikeParams | Mapping[str, Any] | None, bucket: timedelta
) -> VolumeSpikeParams:
    """Parameters for a series with the given bucket (a mapping holds VolumeSpikeParams fields,
    durations as seconds or timedelta; unknown names raise ValueError)."""
    if params is None:
        resolved = VolumeSpikeParams()
    elif isinstance(params, VolumeSpikeParams):
        resolved = params
    else:
        resolved = VolumeSpikeParams.from_dict(dict(params))
    return replace(resolved, bucket=bucket)


def detect_series(
    timestamps: Sequence[datetime],
    values: Sequence[float],
    *,
    params: VolumeSpikeParams | Mapping[str, Any] | None = None,
) -> list[Decision]:
    """Run the service's `VolumeSpikeDetector` over a series; the bucket width comes from the timestamps."""
    if len(timestamps) != len(values):
        raise ValueError(f"{len(timestamps)} timestamps but {len(values)} values")
    detector = VolumeSpikeDetector(resolve_params(params, infer_bucket(timestamps)))
    return [detector.update(t, value) for t, value in zip(timestamps, values, strict=True)]


def parse_timestamp_text(text: str) -> datetime:
    """Parse `YYYY-MM-DD HH:MM:SS` (NAB) or ISO 8601 (`T` separator, fractions, `Z` or offsets)."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 timestamp: {text!r}") from exc


def read_series_csv(path: str | Path) -> Series:
    """Read a `timestamp,value` CSV; raises ValueError naming the bad row."""
    timestamps: list[datetime] = []
    values: list[float] = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"timestamp", "value"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            try:
                timestamps.append(parse_timestamp_text(row["timestamp"] or ""))
                values.append(float(row["value"] or ""))
            except ValueError as exc:
                raise ValueError(f"{path}: line {line}: {exc}") from exc
    if len({t.tzinfo is None for t in timestamps}) > 1:
        raise ValueError(f"{path}: mixes timestamps with and without a UTC offset")
    return Series(timestamps, values)


def format_timestamp(t: datetime) -> str:
    """ISO 8601 with a space separator, which reproduces NAB's naive timestamps exactly."""
    return t.isoformat(sep=" ")


def format_value(value: float) -> str:
    """Counts as integers, anything else at full precision."""
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


def write_detections_csv(
    path: str | Path, timestamps: Sequence[datetime], values: Sequence[float], decisions: Sequence[Decision]
) -> None:
    """Write one row per bucket: timestamp, value, baseline, score, alert (0/1) and reason."""
    if not len(timestamps) == len(values) == len(decisions):
        raise ValueError("timestamps, values and decisions must have the same length")
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(OUTPUT_COLUMNS)
        for t, value, decision in zip(timestamps, values, decisions, strict=True):
            writer.writerow(
                [
                    format_timestamp(t),
                    format_value(value),
                    f"{decision.baseline:.3f}",
                    f"{decision.score:.6f}",
                    int(decision.alert),
                    decision.reason,
                ]
            )


def detect_csv(
    input_path: str | Path,
    output_path: str | Path,
    *,
    params: VolumeSpikeParams | Mapping[str, Any] | None = None,
) -> DetectionSummary:
    """Read a series CSV, run `detect_series` and write the detections CSV (all the CLI needs)."""
    series = read_series_csv(input_path)
    decisions = detect_series(series.timestamps, series.values, params=params)
    write_detections_csv(output_path, series.timestamps, series.values, decisions)
    alert_times = tuple(d.t for d in decisions if d.alert)
    return DetectionSummary(len(decisions), len(alert_times), infer_bucket(series.timestamps), alert_times)
