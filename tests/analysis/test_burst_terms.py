"""BurstTermDetector: terms jumping against their own baseline, causal and bounded."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

import pytest

from analysis.burst_terms import BurstTerm, BurstTermDetector, poisson_log_sf

START = datetime(2024, 5, 1, 8, 0)
BUCKET = timedelta(minutes=5)


def _run(
    detector: BurstTermDetector, buckets: list[dict[str, int]], docs: int = 200
) -> list[list[BurstTerm]]:
    return [detector.update(START + i * BUCKET, counts, docs) for i, counts in enumerate(buckets)]


def _steady(rng: random.Random, n: int) -> list[dict[str, int]]:
    return [
        {"刹车": 1 + rng.randint(0, 1), "小米": 20 + rng.randint(-4, 4), "续航": rng.randint(0, 2)}
        for _ in range(n)
    ]


def test_a_term_jumping_from_one_to_thirty_flags() -> None:
    rng = random.Random(1)
    buckets = _steady(rng, 20) + [{"刹车": 30, "小米": 21, "续航": 1}]
    results = _run(BurstTermDetector(), buckets)
    assert all(not found for found in results[:-1])
    [burst] = results[-1]
    assert burst.term == "刹车" and burst.count == 30
    assert burst.ratio >= 10 and burst.score > 10 and 0.5 <= burst.baseline <= 3


def test_steady_terms_do_not_flag() -> None:
    rng = random.Random(2)
    buckets = [
        {"小米": rng.randint(15, 25), "汽车": rng.randint(40, 60), "刹车": rng.randint(0, 3)}
        for _ in range(200)
    ]
    assert all(not found for found in _run(BurstTermDetector(), buckets))


@pytest.mark.parametrize(
    ("term", "history", "now", "flags"),
    [
        ("低频词", 0, 4, False),  # below min_count
        ("旧词", 1, 4, False),  # below min_count although 4x
        ("旧词", 1, 6, True),
        ("新词", None, 8, False),  # new terms need new_term_min_count (10)
        ("新词", None, 12, True),
        ("常见词", 20, 45, False),  # below 3x
        ("常见词", 20, 80, True),
    ],
)
def test_thresholds_table(term: str, history: int | None, now: int, flags: bool) -> None:
    background = {"背景": 50}
    buckets = [dict(background, **({term: history} if history else {})) for _ in range(30)]
    results = _run(BurstTermDetector(), [*buckets, dict(background, **{term: now})])
    assert (term in {burst.term for burst in results[-1]}) is flags


@pytest.mark.parametrize(("min_count", "flags"), [(5, False), (3, True)])
def test_min_count_applies_even_when_the_test_would_pass(min_count: int, flags: bool) -> None:
    detector = BurstTermDetector(min_count=min_count, max_p_value=0.05)
    results = _run(detector, [{"背景": 50, "旧词": 1} for _ in range(30)] + [{"背景": 50, "旧词": 4}])
    assert bool(results[-1]) is flags


def test_nothing_is_reported_during_warmup() -> None:
    results = _run(BurstTermDetector(warmup_buckets=3), [{"新词": 100}, {"别的": 100}, {"第三": 100}])
    assert results == [[], [], []]


def test_baseline_scales_with_volume() -> None:
    """Twice the documents with twice the count is not a burst."""
    detector = BurstTermDetector()
    buckets = [{"刹车": 5} for _ in range(20)]
    _run(detector, buckets, docs=100)
    assert detector.update(START + 21 * BUCKET, {"刹车": 10}, 200) == []
    assert [b.term for b in detector.update(START + 22 * BUCKET, {"刹车": 60}, 100)] == ["刹车"]


def test_time_must_increase_and_empty_buckets_are_skipped() -> None:
    detector = BurstTermDetector()
    detector.update(START, {"a": 1}, 10)
    with pytest.raises(ValueError):
        detector.update(START, {"a": 1}, 10)
    assert detector.update(START + BUCKET, {"a": 100}, 0) == []


def test_gaps_decay_the_baseline_when_bucket_width_is_known() -> None:
    with_gap, without = BurstTermDetector(bucket=BUCKET), BurstTermDetector()
    for detector in (with_gap, without):
        _run(detector, [{"刹车": 8, "背景": 50} for _ in range(10)])
    late = START + 60 * BUCKET
    # Fifty empty buckets decay every baseline, so 刹车 at its old level is news again.
    assert "刹车" in {b.term for b in with_gap.update(late, {"刹车": 10, "背景": 50}, 200)}
    assert without.update(late, {"刹车": 10, "背景": 50}, 200) == []


def test_memory_is_bounded() -> None:
    detector = BurstTermDetector(max_terms=500)
    for i in range(100):
        detector.update(START + i * BUCKET, {f"词{i}_{j}": 1 for j in range(100)}, 100)
        assert len(detector) <= 500 + 100


@pytest.mark.parametrize(("count", "expected"), [(0, 1.0), (5, 0.5), (30, 1.0), (3, 3.0), (100, 10.0)])
def test_poisson_tail_matches_direct_sum(count: int, expected: float) -> None:
    def pmf(i: int) -> float:
        return math.exp(i * math.log(expected) - expected - math.lgamma(i + 1))

    direct = sum(map(pmf, range(count, count + 400))) if count > expected else 1 - sum(map(pmf, range(count)))
    assert math.isclose(math.exp(poisson_log_sf(count, expected)), direct, rel_tol=1e-9)


def test_poisson_tail_does_not_underflow() -> None:
    assert -math.inf < poisson_log_sf(5000, 1.0) < -20_000
