"""The verdict every detector returns for one bucket, and the small helpers they share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

# Reasons (machine-friendly, stable): why a bucket did or did not alert.
WARMING_UP = "warming_up"
NORMAL = "normal"
BELOW_MIN_COUNT = "below_min_count"
BELOW_MIN_RATIO = "below_min_ratio"
IN_EPISODE = "in_episode"


@dataclass(frozen=True)
class Decision:
    """One detector verdict for one bucket.

    `score` is the detector statistic scaled so that 1.0 is its alert threshold (higher = more
    anomalous, comparable across time); `alert` also needs warm-up done, the count floors met and
    no open episode, so at most one alert is raised per episode.
    """

    t: datetime
    alert: bool
    score: float
    observed: float
    baseline: float
    ratio: float
    z: float
    reason: str
    in_episode: bool = False
    p_value: float | None = None
    history_buckets: int = 0  # buckets the baseline rests on (alerts can say "baseline from N hours")


def anscombe(count: float) -> float:
    """Variance-stabilised count: 2*sqrt(x + 3/8) has variance ~1 under a Poisson law."""
    return 2.0 * math.sqrt(max(count, 0.0) + 0.375)


def inverse_anscombe(value: float) -> float:
    """Count whose Anscombe transform is `value` (clamped at zero)."""
    return max((value / 2.0) ** 2 - 0.375, 0.0)


def guarded_ratio(observed: float, baseline: float, floor: float) -> float:
    """observed / baseline, with the baseline floored so a near-zero baseline cannot explode it."""
    return observed / max(baseline, floor)


def decay_rate(half_life: timedelta, step: timedelta) -> float:
    """Per-step weight of an exponential moving average with the given half-life."""
    steps = half_life / step
    if steps <= 0:
        raise ValueError("half-life must be positive")
    return 1.0 - math.pow(0.5, 1.0 / steps)


def check_increasing(previous: datetime | None, t: datetime) -> None:
    """Raise ValueError unless `t` comes strictly after `previous` (detectors are causal streams)."""
    if previous is not None and t <= previous:
        raise ValueError(f"timestamps must increase: {t.isoformat()} after {previous.isoformat()}")


def timestamp_text(t: datetime | None) -> str | None:
    """ISO 8601 text of a timestamp for state dicts (None stays None)."""
    return None if t is None else t.isoformat()


def parse_timestamp(text: str | None) -> datetime | None:
    """Inverse of `timestamp_text`."""
    return None if text is None else datetime.fromisoformat(text)
