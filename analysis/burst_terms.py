"""Terms whose frequency in the current time bucket jumps against their own baseline.

Streaming and causal: each ``update`` compares the bucket with a baseline built only from
earlier buckets, then folds the bucket into the baseline.

Per term the baseline is an EWMA of its rate (count / documents in the bucket). A term's first
bucket initialises the rate to that bucket's value (no bias towards zero), and buckets in which a
term is absent decay it lazily. With ``expected = baseline_rate × total_docs`` (floored at
``min_expected``), a term bursts when

- ``count >= min_count`` (``new_term_min_count`` for a term with no baseline at all),
- ``count / expected >= min_ratio``, and
- the Poisson tail ``P(X >= count | expected) <= max_p_value``; ``score = -log10`` of it.

Nothing is reported until ``warmup_buckets`` non-empty buckets have been seen. Memory stays
bounded: terms whose expected count per bucket falls below ``prune_expected`` are forgotten, and
at most ``max_terms`` terms (highest rates) are kept.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["BurstTerm", "BurstTermDetector", "poisson_log_sf"]


@dataclass(frozen=True)
class BurstTerm:
    """A term whose count in this bucket is far above its baseline."""

    term: str
    count: int
    baseline: float
    ratio: float
    score: float


def poisson_log_sf(count: int, expected: float) -> float:
    """Return ``ln P(X >= count)`` for ``X ~ Poisson(expected)``, without underflow."""
    if count <= 0:
        return 0.0
    if expected <= 0:
        return -math.inf
    if count <= expected:
        below = sum(math.exp(i * math.log(expected) - expected - math.lgamma(i + 1)) for i in range(count))
        return math.log(max(1.0 - below, 1e-300))
    log_first = count * math.log(expected) - expected - math.lgamma(count + 1)
    series, term, index = 1.0, 1.0, count
    while term > series * 1e-12:
        index += 1
        term *= expected / index
        series += term
    return log_first + math.log(series)


class BurstTermDetector:
    """Flag terms bursting in the current bucket; ``update`` once per bucket, in time order."""

    def __init__(
        self,
        *,
        smoothing: float = 0.1,
        min_count: int = 5,
        min_ratio: float = 3.0,
        max_p_value: float = 1e-3,
        new_term_min_count: int = 10,
        warmup_buckets: int = 3,
        min_expected: float = 0.5,
        prune_expected: float = 0.05,
        max_terms: int = 50_000,
        bucket: timedelta | None = None,
    ) -> None:
        self.smoothing = smoothing
        self.min_count = min_count
        self.min_ratio = min_ratio
        self.max_p_value = max_p_value
        self.new_term_min_count = new_term_min_count
        self.warmup_buckets = warmup_buckets
        self.min_expected = min_expected
        self.prune_expected = prune_expected
        self.max_terms = max_terms
        self.bucket = bucket
        self._rates: dict[str, tuple[float, int]] = {}
        self._index = 0
        self._last_t: datetime | None = None
        self._buckets_seen = 0
        self._mean_docs = 0.0

    def __len__(self) -> int:
        return len(self._rates)

    def update(self, t: datetime, term_counts: Mapping[str, int], total_docs: int) -> list[BurstTerm]:
        """Report the bursting terms of the bucket at ``t`` (strongest first), then learn from it.

        Raises ``ValueError`` when ``t`` is not later than the previous bucket.
        """
        self._advance(t)
        if total_docs <= 0:
            return []
        bursts = self._bursts(term_counts, total_docs) if self._buckets_seen >= self.warmup_buckets else []
        self._learn(term_counts, total_docs)
        return sorted(bursts, key=lambda burst: (-burst.score, burst.term))

    def _advance(self, t: datetime) -> None:
        if self._last_t is not None:
            if t <= self._last_t:
                raise ValueError(f"bucket time {t.isoformat()} is not after {self._last_t.isoformat()}")
            if self.bucket is not None and self.bucket > timedelta(0):
                self._index += max(round((t - self._last_t) / self.bucket) - 1, 0)
        self._index += 1
        self._last_t = t

    def _baseline_rate(self, term: str) -> float | None:
        state = self._rates.get(term)
        if state is None:
            return None
        rate, last_index = state
        return rate * (1.0 - self.smoothing) ** max(self._index - 1 - last_index, 0)

    def _bursts(self, term_counts: Mapping[str, int], total_docs: int) -> list[BurstTerm]:
        found = []
        for term, count in term_counts.items():
            if count < self.min_count:
                continue
            rate = self._baseline_rate(term)
            if rate is None and count < self.new_term_min_count:
                continue
            expected = max((rate or 0.0) * total_docs, self.min_expected)
            ratio = count / expected
            if ratio < self.min_ratio:
                continue
            log_p = poisson_log_sf(count, expected)
            if log_p <= math.log(self.max_p_value):
                score = -log_p / math.log(10)
                found.append(BurstTerm(term, count, round(expected, 4), round(ratio, 3), round(score, 3)))
        return found

    def _learn(self, term_counts: Mapping[str, int], total_docs: int) -> None:
        weight = self.smoothing
        for term, count in term_counts.items():
            if count <= 0:
                continue
            observed = count / total_docs
            previous = self._rates.get(term)
            if previous is None:
                rate = observed
            else:
                decayed = previous[0] * (1.0 - weight) ** max(self._index - previous[1], 0)
                rate = decayed + weight * observed
            self._rates[term] = (rate, self._index)
        self._buckets_seen += 1
        self._mean_docs += (total_docs - self._mean_docs) / min(self._buckets_seen, 1 / max(weight, 1e-9))
        if self._buckets_seen % 32 == 0 or len(self._rates) > self.max_terms:
            self._prune()

    def _prune(self) -> None:
        floor = self.prune_expected / max(self._mean_docs, 1e-9)
        current = {term: self._baseline_rate(term) or 0.0 for term in self._rates}
        keep = [term for term, rate in current.items() if rate >= floor]
        if len(keep) > self.max_terms:
            keep = sorted(keep, key=lambda term: -current[term])[: self.max_terms]
        self._rates = {term: self._rates[term] for term in keep}
