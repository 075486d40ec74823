"""Negative-share shift: is this bucket's share of negative posts significantly above its own baseline?

The baseline share is a post-weighted exponential moving average of past buckets (time-based decay,
so gaps are fine). A bucket alerts when, under the baseline share, seeing at least this many negative
posts is improbable (one-sided binomial p-value <= `alpha`), the share rose by at least `min_shift`,
the bucket has `min_total` posts and the baseline rests on `min_baseline_posts` posts. One alert per
episode: the episode closes after `quiet_period` of buckets that are not significant at `quiet_alpha`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Self

from analysis.detectors.decision import (
    BELOW_MIN_COUNT,
    IN_EPISODE,
    NORMAL,
    WARMING_UP,
    Decision,
    check_increasing,
    guarded_ratio,
    parse_timestamp,
    timestamp_text,
)

STATE_VERSION = 1
SHARE_SHIFT = "negative_share_shift"
_SHARE_CLAMP = 1e-3  # baseline share used in the test is kept within [0.001, 0.999]


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exact, summed in log space so tiny tails do not underflow."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    if k <= n * p:
        return 1.0 - _binomial_lower_tail(k - 1, n, p)
    log_first = _log_binomial_pmf(k, n, p)
    odds, relative, term = p / (1.0 - p), 1.0, 1.0
    for j in range(k, n):
        term *= (n - j) / (j + 1) * odds
        relative += term
        if term < relative * 1e-16:
            break
    return min(math.exp(log_first + math.log(relative)), 1.0)


def _binomial_lower_tail(k: int, n: int, p: float) -> float:
    """P(X <= k), summed downwards from k (used when k is below the mean)."""
    if k < 0:
        return 0.0
    log_first = _log_binomial_pmf(k, n, p)
    odds, relative, term = (1.0 - p) / p, 1.0, 1.0
    for j in range(k, 0, -1):
        term *= j / (n - j + 1) * odds
        relative += term
        if term < relative * 1e-16:
            break
    return min(math.exp(log_first + math.log(relative)), 1.0)


def _log_binomial_pmf(k: int, n: int, p: float) -> float:
    """log P(X = k) for X ~ Binomial(n, p)."""
    log_choose = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    return log_choose + k * math.log(p) + (n - k) * math.log1p(-p)


@dataclass(frozen=True)
class NegativeShareParams:
    """Parameters of `NegativeShareShiftDetector`."""

    alpha: float = 1e-4  # one-sided binomial p-value at or below which a bucket is a shift
    min_total: int = 20  # posts a bucket needs before its share is judged
    min_shift: float = 0.15  # least rise of the share over the baseline (absolute) worth an alert
    min_baseline_posts: float = 100.0  # posts behind the baseline before any alert (warm-up)
    baseline_half_life: timedelta = timedelta(days=1)  # memory of the baseline share
    quiet_alpha: float = 0.01  # a bucket not significant at this level counts as near baseline
    quiet_period: timedelta = timedelta(hours=2)  # this long near baseline closes an episode
    ratio_floor: float = 0.01  # baseline share floor when computing observed / baseline

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (durations in seconds)."""
        data = asdict(self)
        for key in ("baseline_half_life", "quiet_period"):
            data[key] = data[key].total_seconds()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NegativeShareParams:
        """Inverse of `to_dict`."""
        values = dict(data)
        for key in ("baseline_half_life", "quiet_period"):
            if key in values:
                values[key] = timedelta(seconds=values[key])
        return cls(**values)


@dataclass
class _ShareState:
    """Decayed negative and total post counts plus episode bookkeeping."""

    negative_weight: float = 0.0
    total_weight: float = 0.0
    in_episode: bool = False
    quiet_since: datetime | None = None
    last_t: datetime | None = None


class NegativeShareShiftDetector:
    """Streaming detector of a rise in the negative share (negative / total) of a topic's posts."""

    def __init__(self, params: NegativeShareParams | None = None) -> None:
        self.params = params if params is not None else NegativeShareParams()
        self._state = _ShareState()

    def update(self, t: datetime, negative: int, total: int) -> Decision:
        """Judge the bucket at `t` with `negative` of `total` posts negative, then learn from it."""
        if not 0 <= negative <= total:
            raise ValueError(f"need 0 <= negative <= total, got {negative}/{total}")
        check_increasing(self._state.last_t, t)
        st, p = self._state, self.params
        self._decay(t)
        baseline = st.negative_weight / st.total_weight if st.total_weight > 0 else 0.0
        tested = min(max(baseline, _SHARE_CLAMP), 1.0 - _SHARE_CLAMP)
        share = negative / total if total else 0.0
        p_value = binomial_upper_tail(negative, total, tested)
        z = (share - tested) / math.sqrt(tested * (1.0 - tested) / total) if total else 0.0
        was_in_episode = st.in_episode
        alert, reason = self._decide(t, p_value, share - baseline, total)
        st.negative_weight += negative
        st.total_weight += total
        st.last_t = t
        return Decision(
            t=t,
            alert=alert,
            score=max(math.log10(max(p_value, 1e-300)) / math.log10(p.alpha), 0.0),
            observed=share,
            baseline=baseline,
            ratio=guarded_ratio(share, baseline, p.ratio_floor),
            z=z,
            reason=reason,
            in_episode=was_in_episode or alert,
            p_value=p_value,
        )

    def _decide(self, t: datetime, p_value: float, shift: float, total: int) -> tuple[bool, str]:
        """Apply the significance, size and warm-up rules plus the episode bookkeeping."""
        st, p = self._state, self.params
        if st.in_episode:
            if p_value <= p.quiet_alpha:
                st.quiet_since = None
            elif st.quiet_since is None:
                st.quiet_since = t
            if st.quiet_since is not None and t - st.quiet_since >= p.quiet_period:
                st.in_episode, st.quiet_since = False, None
            return False, IN_EPISODE
        if st.total_weight < p.min_baseline_posts:
            return False, WARMING_UP
        if p_value > p.alpha or shift < p.min_shift:
            return False, NORMAL
        if total < p.min_total:
            return False, BELOW_MIN_COUNT
        st.in_episode, st.quiet_since = True, None
        return True, SHARE_SHIFT

    def _decay(self, t: datetime) -> None:
        """Age the baseline counts by the time elapsed since the previous bucket."""
        st = self._state
        if st.last_t is None:
            return
        factor = 0.5 ** ((t - st.last_t) / self.params.baseline_half_life)
        st.negative_weight *= factor
        st.total_weight *= factor

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable snapshot of parameters and state (a handful of numbers)."""
        data = asdict(self._state)
        data["quiet_since"] = timestamp_text(self._state.quiet_since)
        data["last_t"] = timestamp_text(self._state.last_t)
        params = self.params.to_dict()
        return {"version": STATE_VERSION, "kind": "negative_share", "params": params, "state": data}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Self:
        """Rebuild a detector from `state_dict()` output."""
        if data.get("version") != STATE_VERSION or data.get("kind") != "negative_share":
            raise ValueError(f"not a negative_share detector state of version {STATE_VERSION}")
        detector = cls(NegativeShareParams.from_dict(data["params"]))
        state = dict(data["state"])
        state["quiet_since"] = parse_timestamp(state["quiet_since"])
        state["last_t"] = parse_timestamp(state["last_t"])
        detector._state = _ShareState(**state)
        return detector
