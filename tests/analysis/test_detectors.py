"""Volume spike detectors and the batch helpers: tables of generated series and expected alerts.

Series are generated here, deterministically (seeded `random.Random`, 5-minute buckets, a daily
rhythm with a weekend dip), so the tests need nothing beside the repo; one test also scores the real
NAB Twitter-volume files from ../shared when they are present.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analysis.detectors import (
    Decision,
    NegativeVolumeSpikeDetector,
    VolumeSpikeDetector,
    VolumeSpikeParams,
    detect_csv,
    detect_series,
    read_series_csv,
    write_detections_csv,
)
from tests.support.shared import shared_path

START = datetime(2024, 3, 4)  # a Monday, midnight
BUCKET = timedelta(minutes=5)
DAY = 288  # buckets


def at(day: int, hour: int, minute: int = 0) -> int:
    """Bucket index of a day and wall-clock time."""
    return day * DAY + hour * 12 + minute // 5


def poisson(rng: random.Random, lam: float) -> int:
    """Poisson draw: Knuth for small means, a rounded normal for large ones."""
    if lam < 30:
        limit, k, product = math.exp(-lam), 0, rng.random()
        while product > limit:
            k, product = k + 1, product * rng.random()
        return k
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))


def rhythm(t: datetime) -> float:
    """Daily cycle peaking mid-afternoon (x1.6) with a night trough (x0.4), weekends at 75%."""
    daily = 1.0 + 0.6 * math.sin((t.hour + t.minute / 60 - 9) / 24 * 2 * math.pi)
    return daily * (0.75 if t.weekday() >= 5 else 1.0)


Shape = Callable[[int, datetime], float]


def series(base: float, days: int, seed: int, shape: Shape = lambda i, t: 1.0) -> list[tuple[datetime, int]]:
    """Poisson counts around base * rhythm * shape(i, t), with a mild hour-to-hour wobble."""
    rng, wobble, out = random.Random(seed), 1.0, []
    for i in range(days * DAY):
        t = START + i * BUCKET
        if i % 12 == 0:
            wobble = math.exp(rng.gauss(0.0, 0.1))
        out.append((t, poisson(rng, base * rhythm(t) * wobble * shape(i, t))))
    return out


def run(detector: VolumeSpikeDetector, data: Sequence[tuple[datetime, float]]) -> list[Decision]:
    """Feed a whole series to a detector."""
    return [detector.update(t, value) for t, value in data]


def alerts(decisions: Sequence[Decision]) -> list[int]:
    """Indices of the buckets that alerted."""
    return [i for i, d in enumerate(decisions) if d.alert]


ONSET = at(3, 14)  # Thursday 14:00
RISE = at(4, 15)  # Friday 15:00


@pytest.mark.parametrize("base", [0.5, 5, 50, 500, 5000])
@pytest.mark.parametrize("seed", [1, 2])
def test_rhythmic_series_without_events_never_alerts(base: float, seed: int) -> None:
    assert alerts(run(VolumeSpikeDetector(), series(base, 7, seed))) == []


@pytest.mark.parametrize("detector_class", [VolumeSpikeDetector, NegativeVolumeSpikeDetector])
@pytest.mark.parametrize("mean", [0.2, 3, 20, 200, 2000])
def test_flat_poisson_series_never_alerts(detector_class: type[VolumeSpikeDetector], mean: float) -> None:
    rng = random.Random(int(mean * 10))
    data = [(START + i * BUCKET, poisson(rng, mean)) for i in range(14 * DAY)]
    decisions = run(detector_class(), data)
    assert alerts(decisions) == [] and max(d.score for d in decisions[DAY:]) < 0.7


@pytest.mark.parametrize(
    ("name", "shape", "expected"),
    [
        ("15-minute spike x20", lambda i, t: 20.0 if ONSET <= i < ONSET + 3 else 1.0, [ONSET]),
        ("5-minute spike x40", lambda i, t: 40.0 if i == ONSET else 1.0, [ONSET]),
        (
            "spike then 12-hour plateau x4",
            lambda i, t: 20.0 if ONSET <= i < ONSET + 3 else 4.0 if ONSET <= i < ONSET + 144 else 1.0,
            [ONSET],
        ),
        ("3-day plateau x3", lambda i, t: 3.0 if ONSET <= i < ONSET + 3 * DAY else 1.0, "one within 2 h"),
        ("x1.3 bump is ordinary", lambda i, t: 1.3 if ONSET <= i < ONSET + 24 else 1.0, []),
    ],
)
@pytest.mark.parametrize("base", [5, 50, 500])
def test_one_alert_per_episode_at_onset(name: str, shape: Shape, expected: object, base: float) -> None:
    found = alerts(run(VolumeSpikeDetector(), series(base, 7, 3, shape)))
    if expected == "one within 2 h":
        assert len(found) == 1 and ONSET <= found[0] < ONSET + 24, (name, found)
    else:
        assert found == expected, name


@pytest.mark.parametrize("detector_class", [VolumeSpikeDetector, NegativeVolumeSpikeDetector])
@pytest.mark.parametrize(
    ("name", "counts"),
    [
        ("uniform 0-3", [random.Random(5).randint(0, 3) for _ in range(7 * DAY)]),
        ("silence then constant 3", [0] * (2 * DAY) + [3] * (5 * DAY)),
        ("silence then 0/3 flicker", [0] * (2 * DAY) + [3 * (i % 2) for i in range(5 * DAY)]),
        ("one post then 3", [0] * (3 * DAY) + [1] * 12 + [3] * 36 + [0] * (4 * DAY - 48)),
        ("silent topic, an isolated 6 now and then", [6 if i % 500 == 499 else 0 for i in range(7 * DAY)]),
    ],
)
def test_low_counts_never_alert(
    detector_class: type[VolumeSpikeDetector], name: str, counts: list[int]
) -> None:
    data = [(START + i * BUCKET, c) for i, c in enumerate(counts)]
    assert alerts(run(detector_class(), data)) == [], name


@pytest.mark.parametrize(
    ("season_slot", "alerts_after_day_two"),
    [
        (timedelta(hours=1), False),  # hour-of-day offsets learn the 20:00 peak: quiet from day 2 on
        (timedelta(days=1), True),  # without a daily profile the peak keeps alerting
    ],
)
def test_recurring_daily_peak_is_learned(season_slot: timedelta, alerts_after_day_two: bool) -> None:
    data = series(50, 10, 4, lambda i, t: 6.0 if t.hour == 20 else 1.0)
    found = alerts(run(VolumeSpikeDetector(VolumeSpikeParams(season_slot=season_slot)), data))
    late = [i for i in found if i >= 2 * DAY]
    assert bool(late) == alerts_after_day_two and all(t.hour == 20 for t, _ in (data[i] for i in late))


def test_no_alert_during_warmup_and_decision_fields() -> None:
    data = [(START + i * BUCKET, 10.0) for i in range(DAY + 3)]
    data[100] = (data[100][0], 5000.0)
    data[DAY + 1] = (data[DAY + 1][0], 5000.0)
    decisions = run(VolumeSpikeDetector(), data)
    assert alerts(decisions) == [DAY + 1]
    assert decisions[100].reason == "warming_up" and decisions[100].score > 1
    hit = decisions[DAY + 1]
    assert (hit.reason, hit.observed, hit.in_episode) == ("volume_spike", 5000.0, True)
    assert hit.baseline == pytest.approx(10.0, rel=0.05) and hit.ratio == pytest.approx(500, rel=0.05)
    assert hit.z >= 10 and hit.score == pytest.approx(hit.z / 10)
    assert (decisions[0].history_buckets, hit.history_buckets) == (0, DAY + 1)
    assert decisions[DAY + 2].reason == "in_episode"


def test_ratio_is_guarded_against_empty_baseline() -> None:
    detector = VolumeSpikeDetector()
    decisions = [detector.update(START + i * BUCKET, 0.0 if i < DAY else 80.0) for i in range(DAY + 1)]
    assert decisions[-1].alert and decisions[-1].baseline == 0.0 and decisions[-1].ratio == 80.0


@pytest.mark.parametrize(
    ("first", "second", "count"),
    [(START, START, 1.0), (START + BUCKET, START, 1.0), (START, START + BUCKET, -1.0)],
)
def test_rejects_time_going_backwards_and_negative_counts(
    first: datetime, second: datetime, count: float
) -> None:
    detector = VolumeSpikeDetector()
    detector.update(first, 1.0)
    with pytest.raises(ValueError):
        detector.update(second, count)


@pytest.mark.parametrize("detector_class", [VolumeSpikeDetector, NegativeVolumeSpikeDetector])
@pytest.mark.parametrize(
    ("cut", "during"),
    [(DAY // 2, "warm-up"), (ONSET + 1, "spike episode"), (RISE + 4, "rise building"), (at(5, 12), "calm")],
)
def test_state_round_trip_gives_identical_decisions(
    detector_class: type[VolumeSpikeDetector], cut: int, during: str
) -> None:
    def shape(i: int, t: datetime) -> float:
        return 10.0 if ONSET <= i < ONSET + 6 else 2.0 if RISE <= i < RISE + 72 else 1.0

    data = series(40, 6, 6, shape)
    unbroken = run(detector_class(), data)
    first = detector_class()
    head = run(first, data[:cut])
    restored = detector_class.from_state(json.loads(json.dumps(first.state_dict())))
    assert type(restored) is detector_class, during
    assert head + run(restored, data[cut:]) == unbroken
    assert alerts(unbroken)[:1] == [ONSET] and len(alerts(unbroken)) == 2
    state = first.state_dict()["state"]
    assert len(state["recent"]) == 36 and state["in_episode"] == (during == "spike episode")


def test_from_state_rejects_other_kinds() -> None:
    state = NegativeVolumeSpikeDetector().state_dict()
    with pytest.raises(ValueError):
        VolumeSpikeDetector.from_state(state)


# Own labelled fixture: 14 days with three incidents far enough apart to be separate episodes.
INCIDENTS = [  # (onset, buckets, multiplier): night burst, afternoon spike, day-long rise
    (at(3, 2), 6, 10.0),
    (at(6, 14), 3, 12.0),
    (at(10, 9), 96, 2.5),
]


@pytest.mark.parametrize(("base", "seed"), [(200, 0), (200, 7), (2000, 1)])
def test_labelled_synthetic_incidents_are_caught_early_without_false_alarms(base: float, seed: int) -> None:
    def shape(i: int, t: datetime) -> float:
        return math.prod(m for onset, n, m in INCIDENTS if onset <= i < onset + n)

    found = alerts(run(VolumeSpikeDetector(), series(base, 14, seed, shape)))
    assert len(found) == len(INCIDENTS), found
    for alert, (onset, _, _) in zip(found, INCIDENTS, strict=True):
        assert onset <= alert < onset + 24, (alert, onset)  # within two hours of the onset


def test_detect_series_matches_the_streaming_detector_and_infers_the_bucket() -> None:
    hourly = [(START + i * timedelta(hours=1), 20 if i != 24 * 5 else 400) for i in range(24 * 7)]
    times, values = [t for t, _ in hourly], [v for _, v in hourly]
    decisions = detect_series(times, values)
    expected = run(VolumeSpikeDetector(VolumeSpikeParams(bucket=timedelta(hours=1))), hourly)
    assert decisions == expected and alerts(decisions) == [24 * 5]
    deaf = detect_series(times, values, params={"threshold": 1000.0, "quiet_period": 3600})
    assert alerts(deaf) == [] and deaf == detect_series(
        times, values, params=VolumeSpikeParams(threshold=1000.0, quiet_period=timedelta(hours=1))
    )
    for bad in ({"spike_z": 1.0}, None):
        with pytest.raises(ValueError):
            detect_series(times, values[: -1 if bad is None else None], params=bad)


@pytest.mark.parametrize(
    "stamp_format",
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S+08:00", "%Y-%m-%dT%H:%M:%S.%f"],
)
def test_csv_round_trip(tmp_path: Path, stamp_format: str) -> None:
    data = series(30, 3, 8, lambda i, t: 25.0 if i == 2 * DAY else 1.0)
    source = tmp_path / "series.csv"
    source.write_text("timestamp,value\n" + "".join(f"{t.strftime(stamp_format)},{v}\n" for t, v in data))
    loaded = read_series_csv(source)
    assert loaded.values == [float(v) for _, v in data] and len(loaded.timestamps) == len(data)
    summary = detect_csv(source, tmp_path / "out.csv")
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert list(rows[0]) == ["timestamp", "value", "baseline", "score", "alert", "reason"]
    assert [int(r["alert"]) for r in rows].count(1) == summary.alerts == 1
    assert rows[2 * DAY]["alert"] == "1" and summary.bucket == BUCKET and summary.rows == len(data)
    assert {r["alert"] for r in rows} == {"0", "1"} and all(float(r["score"]) >= 0 for r in rows)
    assert read_series_csv(tmp_path / "out.csv").timestamps == loaded.timestamps
    if stamp_format == "%Y-%m-%d %H:%M:%S":  # NAB's naive form comes back byte for byte
        assert [r["timestamp"] for r in rows] == [t.strftime(stamp_format) for t, _ in data]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,value\n2024-01-01 00:00:00,1\n", "missing column"),
        ("timestamp,value\n2024-01-01 00:00:00,1\nyesterday,2\n", "line 3"),
        ("timestamp,value\n2024-01-01 00:00:00,lots\n", "line 2"),
        ("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01T00:05:00Z,1\n", "UTC offset"),
    ],
)
def test_read_series_csv_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_series_csv(path)


def test_write_detections_csv_rejects_mismatched_lengths(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_detections_csv(tmp_path / "x.csv", [START], [1.0, 2.0], [])


def load_nab_scorer() -> object:
    """../shared/tools/nab_score.py as a module (skips the test without ../shared)."""
    spec = importlib.util.spec_from_file_location("nab_score", shared_path("tools", "nab_score.py"))
    assert spec is not None and spec.loader is not None
    nab_score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nab_score)
    return nab_score


@pytest.mark.shared
def test_nab_twitter_volume_score_floor(tmp_path: Path) -> None:
    data_dir = shared_path("data", "volume")
    nab_score: Any = load_nab_scorer()
    for path in sorted(data_dir.glob("*.csv")):
        detect_csv(path, tmp_path / path.name)
    labels = str(data_dir / "windows.json")
    scores = {
        profile: nab_score.score_corpus(str(data_dir), labels, str(tmp_path), profile=profile)[2]["score"]
        for profile in ("standard", "reward_low_FP_rate")
    }
    # Measured 89.1 / 84.7 with the defaults (optimistic: these files shaped the method; the
    # leave-one-series-out figures are in docs/BENCHMARKS.md). The floors are the project's targets.
    assert scores["standard"] >= 85.0, scores
    assert scores["reward_low_FP_rate"] >= 76.0, scores


@pytest.mark.shared
def test_nab_twitter_volume_leave_one_series_out() -> None:
    """Choose the threshold on four Twitter files, score the fifth, pool: the figure for unseen series.

    Also: the one decision knob is no knife edge (20 % either way still scores >= 79 standard).
    """
    data_dir = shared_path("data", "volume")
    nab_score: Any = load_nab_scorer()
    labels, files = str(data_dir / "windows.json"), sorted(data_dir.glob("*.csv"))
    loaded = {path.name: read_series_csv(path) for path in files}
    parts: dict[tuple[float, str], dict[str, tuple[float, float, float]]] = {}
    for threshold in (8.0, 10.0, 12.0):
        found = {
            name: alerts(detect_series(s.timestamps, s.values, params={"threshold": threshold}))
            for name, s in loaded.items()
        }
        for profile in ("standard", "reward_low_FP_rate"):
            rows = nab_score.score_corpus(str(data_dir), labels, found, profile=profile)[1]
            parts[threshold, profile] = {
                Path(r["file"]).name: (r["raw"], r["null"], r["perfect"]) for r in rows
            }

    def score(triples: Sequence[tuple[float, float, float]]) -> float:
        raw, null, perfect = (sum(t[i] for t in triples) for i in range(3))
        return 100.0 * (raw - null) / (perfect - null)

    pooled = {}
    for profile in ("standard", "reward_low_FP_rate"):
        held_out = []
        for left in loaded:
            others = [name for name in loaded if name != left]
            chosen = max((8.0, 10.0, 12.0), key=lambda t: score([parts[t, profile][n] for n in others]))
            held_out.append(parts[chosen, profile][left])
        pooled[profile] = score(held_out)
    # Measured 89.1 / 84.7 (the previous spike + CUSUM detector: 83.4 / 79.5 under the same protocol).
    assert pooled["standard"] >= 85.0 and pooled["reward_low_FP_rate"] >= 80.0, pooled
    for threshold in (8.0, 12.0):
        assert score(list(parts[threshold, "standard"].values())) >= 79.0, threshold
