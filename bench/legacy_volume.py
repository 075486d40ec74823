"""The volume detector before the two-horizon scan, kept only as a benchmark reference (bench_detect).

A robust seasonal baseline, a spike rule and a CUSUM.

Method, per bucket (causal: the decision for bucket t uses buckets < t to form the expectation):

1. Stabilise the count with the Anscombe transform y = 2*sqrt(x + 3/8) (Poisson variance ~1).
2. Expectation = level + season[hour of day] + weekday offset: an additive Holt-Winters baseline on
   that scale whose updates are clipped at +-`clip_z` sd, so a spike barely moves it.
3. Scale = exponentially weighted root-mean-square of past residuals (bursts included, so a bursty
   topic needs a bigger jump), never below 1, the Poisson floor of the transformed count.
4. z = (y - expectation) / scale. Alert on a spike (z >= `spike_z`) or on a sustained rise
   (an upper CUSUM of min(z, `cusum_cap`) - `cusum_slack` reaching `cusum_threshold`).
5. One alert per episode: after an alert, nothing more until z stays below `quiet_z` for
   `quiet_period`. No alert during `warmup`, or when the bucket holds fewer than `min_count` posts
   or less than `min_ratio` times its expected count (the rules keep accumulating meanwhile).
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

STATE_VERSION = 1


@dataclass(frozen=True)
class LegacyVolumeParams:
    """Parameters of `VolumeSpikeDetector`; durations are converted to buckets of `bucket`."""

    bucket: timedelta = timedelta(minutes=5)  # bucket width of the series
    spike_z: float = 10.0  # one bucket this many scales above expectation is a spike
    cusum_slack: float = 1.0  # z up to this is ordinary and never accumulates
    cusum_cap: float = 3.0  # a bucket adds at most cusum_cap - cusum_slack (a lone outlier is not a trend)
    cusum_threshold: float = 20.0  # accumulated excess that makes a sustained rise
    level_half_life: timedelta = timedelta(days=4)  # memory of the overall level
    weekday_half_life: timedelta = timedelta(days=14)  # memory of each weekday's offset (two occurrences)
    season_half_life: timedelta = timedelta(days=7)  # memory of each hour-of-day offset, in days of data
    season_slot: timedelta = timedelta(hours=1)  # width of a time-of-day slot
    scale_half_life: timedelta = timedelta(days=7)  # memory of the residual scale
    clip_z: float = 3.0  # residuals are clipped to +-clip_z scales before updating the baseline
    quiet_z: float = 2.0  # below this z a bucket counts as back near baseline
    quiet_period: timedelta = timedelta(hours=8)  # this long near baseline closes an episode
    warmup: timedelta = timedelta(days=1)  # history needed before any alert
    min_count: int = 5  # a bucket with fewer posts never alerts
    min_ratio: float = 1.5  # nor one below this multiple of its expected count (big topics wobble by 20%)
    scale_floor: float = 1.0  # Poisson floor of the scale on the Anscombe scale
    ratio_floor: float = 1.0  # baseline floor (posts) when computing observed / baseline

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (durations in seconds)."""
        return {k: (v.total_seconds() if isinstance(v, timedelta) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LegacyVolumeParams:
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
    warmup_buckets: int
    quiet_buckets: int


@dataclass
class _LegacyState:
    """Mutable state of one series; plain numbers and lists only, so it serialises to JSON."""

    seen: int = 0
    level: float = 0.0
    season: list[float] = field(default_factory=list)
    visits: list[int] = field(default_factory=list)
    weekday: list[float] = field(default_factory=lambda: [0.0] * 7)
    mean_square: float = 0.0
    cusum: float = 0.0
    in_episode: bool = False
    quiet_run: int = 0
    last_t: datetime | None = None


class LegacyVolumeSpikeDetector:
    """Streaming spike and sustained-rise detector for post counts per bucket (see module doc)."""

    signal = "volume"
    default_params = LegacyVolumeParams()

    def __init__(self, params: LegacyVolumeParams | None = None) -> None:
        self.params = params if params is not None else self.default_params
        self._state = _LegacyState()

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
        warm = st.seen >= self._derived.warmup_buckets
        st.cusum = max(0.0, st.cusum + min(z, p.cusum_cap) - p.cusum_slack) if warm else 0.0
        score = max(z / p.spike_z, st.cusum / p.cusum_threshold, 0.0)
        was_in_episode = st.in_episode
        baseline = inverse_anscombe(expected)
        ratio = guarded_ratio(float(count), baseline, p.ratio_floor)
        alert, reason = self._decide(z, count, ratio, warm)
        self._learn(slot, weekday, y - expected, scale)
        st.last_t = t
        return Decision(
            t=t,
            alert=alert,
            score=score,
            observed=float(count),
            baseline=baseline,
            ratio=ratio,
            z=z,
            reason=reason,
            in_episode=was_in_episode or alert,
        )

    def _decide(self, z: float, count: float, ratio: float, warm: bool) -> tuple[bool, str]:
        """Apply the alert rules and the episode bookkeeping for one bucket."""
        st, p = self._state, self.params
        spike, rise = z >= p.spike_z, st.cusum >= p.cusum_threshold
        if st.in_episode:
            st.quiet_run = st.quiet_run + 1 if z < p.quiet_z else 0
            st.cusum = 0.0
            if st.quiet_run >= self._derived.quiet_buckets:
                st.in_episode = False
            return False, IN_EPISODE
        if not warm:
            return False, WARMING_UP
        if not (spike or rise):
            return False, NORMAL
        if count < p.min_count:
            return False, BELOW_MIN_COUNT
        if ratio < p.min_ratio:
            return False, BELOW_MIN_RATIO
        st.in_episode, st.quiet_run, st.cusum = True, 0, 0.0
        return True, f"{self.signal}_{'spike' if spike else 'sustained_rise'}"

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
        """JSON-serialisable snapshot of parameters and state (bounded: one value per day slot)."""
        data = asdict(self._state)
        data["last_t"] = timestamp_text(self._state.last_t)
        return {"version": STATE_VERSION, "kind": self.signal, "params": self.params.to_dict(), "state": data}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Self:
        """Rebuild a detector from `state_dict()` output; it continues exactly where it stopped."""
        if data.get("version") != STATE_VERSION or data.get("kind") != cls.signal:
            raise ValueError(f"not a {cls.signal} detector state of version {STATE_VERSION}")
        detector = cls(LegacyVolumeParams.from_dict(data["params"]))
        state = dict(data["state"])
        state["last_t"] = parse_timestamp(state["last_t"])
        detector._state = _LegacyState(**state)
        return detector
