"""Volume spike detection on bucket counts: a robust seasonal baseline and a two-horizon scan.

Method, per bucket (causal: the expectation for bucket t rests on buckets < t only):

1. Stabilise the count with the Anscombe transform y = 2*sqrt(x + 3/8) (Poisson variance ~1), so
   one scale fits quiet and busy topics alike.
2. Expectation = level + offset[hour of day] + offset[weekday]: an additive Holt-Winters baseline
   on that scale whose updates are clipped at +-`clip_z` scales, so a burst barely moves it.
3. Scale = exponentially weighted root-mean-square of past residuals, bursts included, never below
   `scale_floor` (1, the Poisson floor). A bursty topic therefore needs a bigger jump than a calm
   one: the scale calibrates the threshold to each series' own noise.
4. z = (y - expectation) / scale for the bucket. The statistic is the larger of two horizons:
   the bucket alone (z, a spike) and the last `long_window` as a whole (sum of z / sqrt(n), a
   sustained rise that no single bucket shows). Alert when it reaches `threshold`: "this bucket, or
   the last three hours together, stand `threshold` scales above what this hour usually holds".
5. One alert per episode: after an alert, nothing more until the statistic stays below `quiet_z`
   for `quiet_period`. No alert during `warmup`, or when the bucket holds fewer than `min_count`
   posts or less than `min_ratio` times its expected count (small social topics).

`threshold` is the one decision knob: under pure Poisson noise 10 scales never happen by chance (a
flat series raises nothing); on real Twitter-volume series, whose residuals are heavier-tailed, it
caught all 16 labelled windows with about one alert outside them per 20 days per series.
`long_window` and `quiet_period` shape episodes; the half-lives say how long the baseline remembers.
The threshold was chosen leave-one-series-out and every knob's +-50 % sensitivity is measured in
docs/BENCHMARKS.md (bench/bench_detect.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, NamedTuple, Self

from analysis.detectors.decision import (
    BELOW_MIN_COUNT,
    BELOW_MIN_RATIO,
    IN_EPISODE,
    NORMAL,
    WARMING_UP,
    Decision,
    anscombe,
    check_increasing,
    decay_rate,
    guarded_ratio,
    inverse_anscombe,
    parse_timestamp,
    timestamp_text,
)

STATE_VERSION = 2


@dataclass(frozen=True)
class VolumeSpikeParams:
    """Parameters of `VolumeSpikeDetector`; durations are converted to buckets of `bucket`."""

    bucket: timedelta = timedelta(minutes=5)  # bucket width of the series
    threshold: float = 10.0  # scales above expectation (one bucket, or the long window as a whole)
    long_window: timedelta = timedelta(hours=3)  # horizon of a sustained rise
    quiet_z: float = 2.0  # below this the statistic counts as back near baseline
    quiet_period: timedelta = timedelta(hours=4)  # this long near baseline closes an episode
    level_half_life: timedelta = timedelta(days=4)  # memory of the overall level
    weekday_half_life: timedelta = timedelta(days=14)  # memory of each weekday's offset (two occurrences)
    season_half_life: timedelta = timedelta(days=7)  # memory of each hour-of-day offset, in days of data
    season_slot: timedelta = timedelta(hours=1)  # width of a time-of-day slot
    scale_half_life: timedelta = timedelta(days=7)  # memory of the residual scale
    clip_z: float = 3.0  # residuals are clipped to +-clip_z scales before updating the baseline
    warmup: timedelta = timedelta(days=1)  # history needed before any alert
    min_count: int = 5  # a bucket with fewer posts never alerts
    min_ratio: float = 1.5  # nor one below this multiple of its expected count (big topics wobble by 20%)
    scale_floor: float = 1.0  # Poisson floor of the scale on the Anscombe scale
    ratio_floor: float = 1.0  # baseline floor (posts) when computing observed / baseline

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (durations in seconds)."""
        return {k: (v.total_seconds() if isinstance(v, timedelta) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VolumeSpikeParams:
        """Inverse of `to_dict` (durations as seconds or timedelta); unknown keys are rejected."""
        kinds = {f.name: f.default for f in fields(cls)}
        unknown = set(data) - set(kinds)
        if unknown:
            raise ValueError(f"unknown volume detector parameters: {sorted(unknown)}")
        values: dict[str, Any] = {
            k: timedelta(seconds=v) if isinstance(kinds[k], timedelta) and not isinstance(v, timedelta) else v
            for k, v in data.items()
        }
        return cls(**values)


class _Derived(NamedTuple):
    """Constants derived once from the parameters."""

    level_rate: float  # level weight per bucket
    season_rate: float  # hour-of-day offset weight per visit of its slot
    weekday_rate: float  # weekday offset weight per bucket of that weekday
    scale_rate: float  # mean-square weight per bucket
    window_buckets: int
    warmup_buckets: int
    quiet_buckets: int


@dataclass
class _VolumeState:
    """Mutable state of one series; plain numbers and lists only, so it serialises to JSON."""

    seen: int = 0
    level: float = 0.0
    season: list[float] = field(default_factory=list)
    visits: list[int] = field(default_factory=list)
    weekday: list[float] = field(default_factory=lambda: [0.0] * 7)
    mean_square: float = 0.0
    recent: list[float] = field(default_factory=list)  # z of the last `long_window` buckets, oldest first
    in_episode: bool = False
    quiet_run: int = 0
    last_t: datetime | None = None


class VolumeSpikeDetector:
    """Streaming spike and sustained-rise detector for post counts per bucket (see module doc)."""

    signal = "volume"
    default_params = VolumeSpikeParams()

    def __init__(self, params: VolumeSpikeParams | None = None) -> None:
        self.params = params if params is not None else self.default_params
        self._state = _VolumeState()

    def update(self, t: datetime, count: float) -> Decision:
        """Score the bucket starting at `t` holding `count` posts, then learn from it."""
        if not count >= 0:
            raise ValueError(f"count must be a non-negative number, got {count!r}")
        check_increasing(self._state.last_t, t)
        st, p = self._state, self.params
        y = anscombe(count)
        if st.seen == 0:
            self._initialise(y)
        slot, weekday = self._slot(t), t.weekday()
        expected = st.level + st.season[slot] + st.weekday[weekday]
        scale = max(math.sqrt(st.mean_square), p.scale_floor)
        z = (y - expected) / scale
        recent = st.recent
        recent.append(z)
        if len(recent) > self._derived.window_buckets:
            del recent[0]
        sustained = sum(recent) / math.sqrt(len(recent))
        statistic = max(z, sustained)
        history, was_in_episode = st.seen, st.in_episode
        baseline = inverse_anscombe(expected)
        ratio = guarded_ratio(float(count), baseline, p.ratio_floor)
        alert, reason = self._decide(z, statistic, count, ratio)
        self._learn(slot, weekday, y - expected, scale)
        st.last_t = t
        return Decision(
            t=t,
            alert=alert,
            score=max(statistic / p.threshold, 0.0),
            observed=float(count),
            baseline=baseline,
            ratio=ratio,
            z=z,
            reason=reason,
            in_episode=was_in_episode or alert,
            history_buckets=history,
        )

    def _decide(self, z: float, statistic: float, count: float, ratio: float) -> tuple[bool, str]:
        """Apply the alert rule and the episode bookkeeping for one bucket."""
        st, p = self._state, self.params
        if st.in_episode:
            st.quiet_run = st.quiet_run + 1 if statistic < p.quiet_z else 0
            if st.quiet_run >= self._derived.quiet_buckets:
                st.in_episode = False
            return False, IN_EPISODE
        if st.seen < self._derived.warmup_buckets:
            return False, WARMING_UP
        if statistic < p.threshold:
            return False, NORMAL
        if count < p.min_count:
            return False, BELOW_MIN_COUNT
        if ratio < p.min_ratio:
            return False, BELOW_MIN_RATIO
        st.in_episode, st.quiet_run = True, 0
        return True, f"{self.signal}_{'spike' if z >= p.threshold else 'sustained_rise'}"

    def _learn(self, slot: int, weekday: int, residual: float, scale: float) -> None:
        """Update level, seasonal offsets and scale; the first observations get running means."""
        st, p = self._state, self.params
        level_rate, season_rate, weekday_rate, scale_rate = self._derived[:4]
        st.seen += 1
        st.visits[slot] += 1
        clipped = max(-p.clip_z * scale, min(p.clip_z * scale, residual))
        level_rate = max(level_rate, 1.0 / st.seen)
        st.level += level_rate * clipped
        st.season[slot] += max(season_rate, 1.0 / st.visits[slot]) * (1.0 - level_rate) * clipped
        st.weekday[weekday] += weekday_rate * (1.0 - level_rate) * clipped
        st.mean_square += max(scale_rate, 1.0 / st.seen) * (residual * residual - st.mean_square)

    @cached_property
    def _derived(self) -> _Derived:
        """Per-update weights and bucket counts implied by the parameters."""
        p = self.params
        visits_per_day = max(p.season_slot / p.bucket, 1.0)
        return _Derived(
            level_rate=decay_rate(p.level_half_life, p.bucket),
            season_rate=decay_rate(p.season_half_life, timedelta(days=1) / visits_per_day),
            weekday_rate=decay_rate(p.weekday_half_life, 7 * p.bucket),
            scale_rate=decay_rate(p.scale_half_life, p.bucket),
            window_buckets=max(1, round(p.long_window / p.bucket)),
            warmup_buckets=max(1, round(p.warmup / p.bucket)),
            quiet_buckets=max(1, round(p.quiet_period / p.bucket)),
        )

    def _initialise(self, y: float) -> None:
        """Start the baseline at the first observation."""
        slots = max(1, round(timedelta(days=1) / self.params.season_slot))
        self._state.level, self._state.season, self._state.visits = y, [0.0] * slots, [0] * slots

    def _slot(self, t: datetime) -> int:
        """Time-of-day slot of `t` (its own wall clock: pass local time for local rhythms)."""
        since_midnight = timedelta(hours=t.hour, minutes=t.minute, seconds=t.second)
        return int(since_midnight / self.params.season_slot) % len(self._state.season)

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable snapshot of parameters and state (bounded: one value per day slot and
        one per bucket of `long_window`)."""
        data = asdict(self._state)
        data["last_t"] = timestamp_text(self._state.last_t)
        return {"version": STATE_VERSION, "kind": self.signal, "params": self.params.to_dict(), "state": data}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Self:
        """Rebuild a detector from `state_dict()` output; it continues exactly where it stopped."""
        if data.get("version") != STATE_VERSION or data.get("kind") != cls.signal:
            raise ValueError(f"not a {cls.signal} detector state of version {STATE_VERSION}")
        detector = cls(VolumeSpikeParams.from_dict(data["params"]))
        state = dict(data["state"])
        state["last_t"] = parse_timestamp(state["last_t"])
        detector._state = _VolumeState(**state)
        return detector


class NegativeVolumeSpikeDetector(VolumeSpikeDetector):
    """The volume method applied to the count of negative posts per bucket.

    Negative counts are sparser, so only the count floor differs: four negative posts is the least
    that can alert (0-3 never does); the Poisson floor of the scale keeps small jumps quiet.
    """

    signal = "negative_volume"
    default_params = VolumeSpikeParams(min_count=4)
