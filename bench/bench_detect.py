"""Benchmark the volume detector on NAB series it did not choose its settings on.

Data: ../shared/data/volume (5 Twitter-volume series, 16 windows) and ../shared/data/volume_other
(37 other real NAB series, 77 windows). Every figure that counts is scored on series that did not
choose the setting: leave-one-series-out (LOSO) over a small grid of the one decision knob, chosen on
the other series and scored on the left-out one, pooled; and transfer between the two sets. The
all-files score with the shipped defaults is printed last and marked optimistic. Compared with the
previous detector (spike + CUSUM, `bench/legacy_volume.py`) and a rolling robust z-score, each with
the same protocol. Skips when ../shared is absent.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from analysis.detectors import Series, VolumeSpikeDetector, VolumeSpikeParams, detect_csv, read_series_csv
from bench.legacy_volume import LegacyVolumeParams, LegacyVolumeSpikeDetector

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TWITTER = SHARED / "data" / "volume"
OTHER = SHARED / "data" / "volume_other"
SCORER = SHARED / "tools" / "nab_score.py"
PROFILES = ("standard", "reward_low_FP_rate")
THRESHOLDS = (6.0, 7.0, 8.0, 9.0, 10.0, 12.0, 14.0)
NO_FLOORS = {"min_count": 0, "min_ratio": 0.0}  # volume_other holds no post counts
SENSITIVITY: list[tuple[str, Any, Any]] = [  # name, half the default, 1.5 times the default
    ("threshold", 5.0, 15.0),
    ("long_window", timedelta(hours=1.5), timedelta(hours=4.5)),
    ("quiet_period", timedelta(hours=2), timedelta(hours=6)),
    ("quiet_z", 1.0, 3.0),
    ("scale_half_life", timedelta(days=3.5), timedelta(days=10.5)),
    ("level_half_life", timedelta(days=2), timedelta(days=6)),
    ("season_half_life", timedelta(days=3.5), timedelta(days=10.5)),
    ("weekday_half_life", timedelta(days=7), timedelta(days=21)),
    ("clip_z", 1.5, 4.5),
]

NOTES = """`VolumeSpikeDetector` (`analysis/detectors/volume.py`): Anscombe-stabilised counts, a seasonal
(hour-of-day + weekday) baseline with clipped updates, an exponentially weighted RMS scale, and one
threshold on the larger of the bucket's z and the last 3 hours' sum of z / sqrt(n); one alert per
episode. Scored by `../shared/tools/nab_score.py`. **Protocol**: the decision knob (`threshold`,
grid 6-14) is chosen on some series and scored on others: leave-one-series-out (LOSO) over the five
Twitter files (chosen on four, scored on the fifth, pooled), LOSO over the 37 `volume_other` series,
and transfer (chosen on all Twitter files, scored on `volume_other`, and the reverse). The previous
detector (spike + CUSUM, its 3x3 grid of `spike_z` x `cusum_threshold`) and a rolling robust z-score
(1-day median/MAD, threshold grid 6-20) go through the same protocol. Target: >= 82 standard and
>= 72 low-FP on unseen Twitter series. Caveat: the method's shape (the 3-hour horizon, the episode
rule) was designed while looking at the five Twitter files, so even the Twitter LOSO figure leans
optimistic; `volume_other` was not used to design it. `volume_other` series are not post counts (CPU,
latency, traffic, ad prices; half their windows are drops, which a spike detector does not look for):
there the count floors are off (`min_count=0`, `min_ratio=0`), a row whose timestamp does not
increase is fed one second after the previous one, and the bucket is the median positive gap."""


def load_scorer() -> ModuleType:
    """Import nab_score.py from ../shared by path."""
    spec = importlib.util.spec_from_file_location("nab_score", SCORER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_scorer_cli(detections: Path, profile: str) -> float:
    """Score a directory of detection CSVs with the scorer's command line, as a user would."""
    command = [sys.executable, str(SCORER), "--data", str(TWITTER), "--labels", str(TWITTER / "windows.json")]
    output = subprocess.run(
        [*command, "--detections", str(detections), "--profile", profile],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(output.strip().splitlines()[-1].split(":")[1])


Part = tuple[float, float, float]  # NAB (raw, null, perfect) of one file


def normalised(parts: Sequence[Part]) -> float:
    """NAB corpus score of some files' (raw, null, perfect) triples."""
    raw, null, perfect = (sum(p[i] for p in parts) for i in range(3))
    return 100.0 * (raw - null) / (perfect - null)


@dataclass
class Corpus:
    """One data directory in memory: series with strictly increasing times, and a scorer cache."""

    directory: Path
    counts: bool  # post counts (service floors apply) or other measurements (floors off)
    series: dict[str, Series]
    buckets: dict[str, timedelta]
    cache: dict[str, Any]

    @classmethod
    def load(cls, directory: Path, counts: bool) -> Corpus:
        """Read every CSV; nudge non-increasing timestamps one second past their predecessor."""
        series, buckets = {}, {}
        for path in sorted(directory.glob("*.csv")):
            raw = read_series_csv(path)
            times: list[datetime] = []
            for t in raw.timestamps:
                times.append(t if not times or t > times[-1] else times[-1] + timedelta(seconds=1))
            gaps = [b - a for a, b in zip(raw.timestamps, raw.timestamps[1:], strict=False) if b > a]
            series[path.name], buckets[path.name] = Series(times, raw.values), statistics.median_low(gaps)
        return cls(directory, counts, series, buckets, {})

    def parts(self, scorer: ModuleType, alerts: dict[str, list[int]], profile: str) -> dict[str, Part]:
        """(raw, null, perfect) per file for some alert rows."""
        labels = str(self.directory / "windows.json")
        _, rows, _ = scorer.score_corpus(
            str(self.directory), labels, alerts, profile=profile, cache=self.cache
        )
        return {Path(r["file"]).name: (r["raw"], r["null"], r["perfect"]) for r in rows}


Detect = Callable[[Corpus, str, Any], list[int]]  # alert rows of one series under one setting


def new_alerts(corpus: Corpus, name: str, params: VolumeSpikeParams) -> list[int]:
    """Rows where the shipped detector alerts."""
    params = replace(params, bucket=corpus.buckets[name], **({} if corpus.counts else NO_FLOORS))
    detector, series = VolumeSpikeDetector(params), corpus.series[name]
    return [i for i, (t, v) in enumerate(zip(*series, strict=True)) if detector.update(t, v).alert]


def legacy_alerts(corpus: Corpus, name: str, params: LegacyVolumeParams) -> list[int]:
    """Rows where the previous detector alerts."""
    params = replace(params, bucket=corpus.buckets[name], **({} if corpus.counts else NO_FLOORS))
    detector, series = LegacyVolumeSpikeDetector(params), corpus.series[name]
    return [i for i, (t, v) in enumerate(zip(*series, strict=True)) if detector.update(t, v).alert]


def robust_z_alerts(corpus: Corpus, name: str, threshold: float) -> list[int]:
    """Baseline: z against the median and MAD of the previous day; after an alert, a day's refractory."""
    window = max(2, round(timedelta(days=1) / corpus.buckets[name]))
    values = np.asarray(corpus.series[name].values, dtype=float)
    if len(values) <= window:
        return []
    past = sliding_window_view(values[:-1], window)
    median = np.median(past, axis=1)
    mad = np.median(np.abs(past - median[:, None]), axis=1)
    floor = 1.0 if corpus.counts else 1e-9
    z = (values[window:] - median) / np.maximum(1.4826 * mad, floor)
    rows: list[int] = []
    for i in (np.flatnonzero(z >= threshold) + window).tolist():
        if not rows or i - rows[-1] > window:
            rows.append(i)
    return rows


@dataclass
class Method:
    """A detector and its grid of settings; scores are computed once per (setting, corpus)."""

    name: str
    detect: Detect
    grid: list[tuple[str, Any]]  # (label, setting)


class Scores:
    """Per-file parts of every setting of a method on a corpus, for both profiles."""

    def __init__(self, scorer: ModuleType, method: Method, corpus: Corpus) -> None:
        self.labels = [label for label, _ in method.grid]
        self.files = list(corpus.series)
        self.parts: dict[str, dict[str, dict[str, Part]]] = {p: {} for p in PROFILES}
        for label, setting in method.grid:
            alerts = {name: method.detect(corpus, name, setting) for name in self.files}
            for profile in PROFILES:
                self.parts[profile][label] = corpus.parts(scorer, alerts, profile)

    def best(self, profile: str, files: Sequence[str]) -> str:
        """The setting with the best pooled score on some files (ties: the first in the grid)."""
        table = self.parts[profile]
        return max(self.labels, key=lambda label: normalised([table[label][f] for f in files]))

    def loso(self, profile: str) -> tuple[float, list[str]]:
        """Pooled leave-one-series-out score and the setting chosen for each left-out file."""
        chosen = [self.best(profile, [f for f in self.files if f != left]) for left in self.files]
        pooled = [self.parts[profile][label][left] for label, left in zip(chosen, self.files, strict=True)]
        return normalised(pooled), chosen

    def score(self, profile: str, label: str) -> float:
        """All files under one setting."""
        return normalised(list(self.parts[profile][label].values()))


def methods() -> list[Method]:
    """The shipped detector, the previous one and the rolling robust z-score."""
    legacy_grid = [
        (f"spike_z={z:g}, cusum={h:g}", LegacyVolumeParams(spike_z=z, cusum_threshold=h))
        for z in (8.0, 10.0, 12.0)
        for h in (15.0, 20.0, 30.0)
    ]
    return [
        Method(
            "two-horizon scan (shipped)",
            new_alerts,
            [(f"threshold={t:g}", VolumeSpikeParams(threshold=t)) for t in THRESHOLDS],
        ),
        Method("previous: spike + CUSUM", legacy_alerts, legacy_grid),
        Method(
            "rolling robust z (1-day median/MAD)",
            robust_z_alerts,
            [(f"z={t:g}", t) for t in (6.0, 8.0, 10.0, 15.0, 20.0)],
        ),
    ]


def headline(scorer: ModuleType, twitter: Corpus, other: Corpus) -> Iterator[str]:
    """LOSO and transfer figures of every method: the figures that count."""
    yield (
        "| method | Twitter LOSO std | Twitter LOSO low-FP | Twitter -> other std | Twitter -> other low-FP "
        "| other LOSO std | other LOSO low-FP | other -> Twitter std | other -> Twitter low-FP |"
    )
    yield "|---|---|---|---|---|---|---|---|---|"
    detail: list[str] = []
    for method in methods():
        tw, ot = Scores(scorer, method, twitter), Scores(scorer, method, other)
        cells: list[str] = []
        for profile in PROFILES:
            pooled, chosen = tw.loso(profile)
            cells.append(f"{pooled:.1f}")
            for left, label in zip(tw.files, chosen, strict=True):
                held_out = normalised([tw.parts[profile][label][left]])
                detail.append(f"| {method.name} | {profile} | {left} | {label} | {held_out:.1f} |")
        transfer = [ot.score(p, tw.best(p, tw.files)) for p in PROFILES]
        other_loso = [ot.loso(p)[0] for p in PROFILES]
        back = [tw.score(p, ot.best(p, ot.files)) for p in PROFILES]
        cells.extend(f"{v:.1f}" for v in (*transfer, *other_loso, *back))
        yield f"| {method.name} | {' | '.join(cells)} |"
    yield "\nLeave-one-out folds on the Twitter files (setting chosen on the other four):\n"
    yield "| method | profile | left-out file | chosen | score |\n|---|---|---|---|---|"
    yield from detail


def optimistic(scorer: ModuleType, twitter: Corpus, other: Corpus, workdir: Path) -> Iterator[str]:
    """Shipped defaults on every Twitter file (optimistic: these files shaped the method)."""
    for name in twitter.series:
        detect_csv(TWITTER / name, workdir / name)
    cli = [run_scorer_cli(workdir, profile) for profile in PROFILES]
    yield (
        "\n**Optimistic** (not a generalisation figure): the shipped defaults on all five Twitter "
        f"files, through `detect_csv` and the scorer's command line: standard **{cli[0]:.2f}**, "
        f"low-FP **{cli[1]:.2f}**. Per file:\n"
    )
    alerts = {name: new_alerts(twitter, name, VolumeSpikeParams()) for name in twitter.series}
    parts = {p: twitter.parts(scorer, alerts, p) for p in PROFILES}
    labels = str(TWITTER / "windows.json")
    summary = scorer.score_corpus(str(TWITTER), labels, alerts, cache=twitter.cache)[2]
    days = sum((s.timestamps[-1] - s.timestamps[0]) / timedelta(days=1) for s in twitter.series.values())
    yield (
        f"Windows caught: {summary['detected']} of {summary['windows']}; alerts outside any window: "
        f"{summary['fp']} in {days:.0f} series-days (one per {days / max(summary['fp'], 1):.0f} days per "
        "series).\n"
    )
    yield "| file | standard | low-FP | alerts |\n|---|---|---|---|"
    for name in twitter.series:
        scores = " | ".join(f"{normalised([parts[p][name]]):.1f}" for p in PROFILES)
        yield f"| {name} | {scores} | {len(alerts[name])} |"


def show(value: object) -> str:
    """Parameter value for a table: durations in hours or days."""
    if isinstance(value, timedelta):
        hours = value / timedelta(hours=1)
        return f"{hours / 24:g} d" if hours >= 24 else f"{hours:g} h"
    return f"{value:g}" if isinstance(value, float) else str(value)


def sensitivity(scorer: ModuleType, twitter: Corpus, other: Corpus) -> Iterator[str]:
    """Each knob at half and 1.5 times its default, the others at their defaults."""
    yield (
        "\nSensitivity: each parameter at 0.5x and 1.5x its default, the rest at defaults (all files, "
        "so optimistic on Twitter; the spread is the point).\n"
    )
    yield "| setting | Twitter std | Twitter low-FP | other std | other low-FP |\n|---|---|---|---|---|"
    defaults = VolumeSpikeParams()
    rows: list[tuple[str, VolumeSpikeParams]] = [("defaults", defaults)]
    for name, low, high in SENSITIVITY:
        rows.extend((f"{name} = {show(v)}", replace(defaults, **{name: v})) for v in (low, high))
    for label, params in rows:
        cells = []
        for corpus in (twitter, other):
            alerts = {name: new_alerts(corpus, name, params) for name in corpus.series}
            cells.extend(
                f"{normalised(list(corpus.parts(scorer, alerts, p).values())):.1f}" for p in PROFILES
            )
        yield f"| {label} | {' | '.join(cells)} |"


def cost(twitter: Corpus) -> Iterator[str]:
    """Time per update and the size of a persisted state."""
    name = next(iter(twitter.series))
    series = twitter.series[name]
    detector = VolumeSpikeDetector()
    started = time.perf_counter()
    for t, v in zip(*series, strict=True):
        detector.update(t, v)
    per_update = (time.perf_counter() - started) / len(series.values)
    size = len(json.dumps(detector.state_dict()))
    yield (
        f"\nCost: {per_update * 1e6:.1f} µs per `update` ({name}, {len(series.values):,} buckets, one core, "
        f"pure Python); persisted state {size:,} bytes of JSON (fixed size: 24 hour slots, 7 weekdays, "
        "36 recent z values)."
    )


def report() -> str:
    """The Markdown section (or a one-line skip notice without ../shared)."""
    title = "## Volume spike detection (NAB, leave-one-series-out)"
    if not TWITTER.is_dir() or not OTHER.is_dir() or not SCORER.is_file():
        return f"{title}\n\nSkipped: ../shared/data/volume or volume_other is not present.\n"
    scorer = load_scorer()
    twitter, other = Corpus.load(TWITTER, counts=True), Corpus.load(OTHER, counts=False)
    lines = [title, "", NOTES, ""]
    lines.extend(headline(scorer, twitter, other))
    with tempfile.TemporaryDirectory() as workdir:
        lines.extend(optimistic(scorer, twitter, other, Path(workdir)))
    lines.extend(sensitivity(scorer, twitter, other))
    lines.extend(cost(twitter))
    return "\n".join(lines) + "\n"


def main() -> None:
    """Print the benchmark section."""
    print(report())


if __name__ == "__main__":
    main()
