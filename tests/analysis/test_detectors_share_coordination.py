"""Negative-share shift and coordinated-posting evidence: tables of inputs and expected verdicts."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import pytest

from analysis.detectors import (
    CoordinationDetector,
    CoordinationParams,
    NegativeShareParams,
    NegativeShareShiftDetector,
    PostSignal,
)
from analysis.detectors.share import binomial_upper_tail

START = datetime(2024, 5, 6, 8, 0)
BUCKET = timedelta(minutes=5)


def warmed_share_detector(
    share: float, buckets: int = 96, per_bucket: int = 100
) -> NegativeShareShiftDetector:
    """A detector that has seen `buckets` buckets of `per_bucket` posts at the given negative share."""
    detector = NegativeShareShiftDetector()
    for i in range(buckets):
        assert not detector.update(START + i * BUCKET, round(share * per_bucket), per_bucket).alert
    return detector


AFTER_WARMUP = START + 96 * BUCKET


@pytest.mark.parametrize(
    ("baseline", "negative", "total", "expected", "reason"),
    [
        (0.10, 2, 3, False, "normal"),  # 67% of three posts: not significant
        (0.10, 3, 3, False, "normal"),  # p = 0.001: not significant at 1e-4
        (0.10, 5, 5, False, "below_min_count"),  # significant, but five posts are too few to judge
        (0.10, 60, 100, True, "negative_share_shift"),
        (0.10, 15, 100, False, "normal"),  # 15% vs 10%: chance
        (0.10, 12, 20, True, "negative_share_shift"),  # 60% of twenty posts
        (0.10, 11, 19, False, "below_min_count"),
        (0.40, 52, 100, False, "normal"),  # 12 points up: below the minimum shift
        (0.10, 260, 2000, False, "normal"),  # significant on 2000 posts, but only 3 points up
        (0.02, 25, 100, True, "negative_share_shift"),
        (0.50, 0, 100, False, "normal"),  # a drop in negativity is not an alarm
    ],
)
def test_negative_share_shift_table(
    baseline: float, negative: int, total: int, expected: bool, reason: str
) -> None:
    decision = warmed_share_detector(baseline).update(AFTER_WARMUP, negative, total)
    assert (decision.alert, decision.reason) == (expected, reason)
    assert decision.baseline == pytest.approx(baseline, abs=0.005)
    assert decision.observed == pytest.approx(negative / total)
    assert decision.p_value is not None and (decision.score >= 1.0) == (decision.p_value <= 1e-4)


def test_negative_share_needs_a_baseline_first() -> None:
    detector = NegativeShareShiftDetector()
    detector.update(START, 1, 50)
    decision = detector.update(START + BUCKET, 45, 50)
    assert (decision.alert, decision.reason) == (False, "warming_up")


def test_negative_share_alerts_once_per_episode_and_rearms_after_quiet() -> None:
    detector = warmed_share_detector(0.10)
    pattern = [(60, 100)] * 6 + [(10, 100)] * 26 + [(60, 100)] * 3  # shift, two quiet hours, shift
    verdicts = [detector.update(AFTER_WARMUP + i * BUCKET, n, total) for i, (n, total) in enumerate(pattern)]
    assert [i for i, d in enumerate(verdicts) if d.alert] == [0, 32]
    assert [d.reason for d in verdicts[1:32]] == ["in_episode"] * 30 + ["normal"]  # closed after 2 h


@pytest.mark.parametrize(("negative", "total"), [(-1, 10), (11, 10)])
def test_negative_share_rejects_impossible_counts(negative: int, total: int) -> None:
    with pytest.raises(ValueError):
        NegativeShareShiftDetector().update(START, negative, total)


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [(0, 10, 0.3), (1, 1, 0.5), (2, 3, 0.1), (7, 20, 0.1), (15, 20, 0.9), (60, 100, 0.1), (5, 100, 0.2)],
)
def test_binomial_upper_tail_matches_direct_sum(k: int, n: int, p: float) -> None:
    direct = sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1))
    assert binomial_upper_tail(k, n, p) == pytest.approx(direct, rel=1e-9, abs=1e-15)


def test_negative_share_state_round_trip() -> None:
    pattern = [(10, 100)] * 40 + [(55, 100)] * 3 + [(9, 90), (0, 0)] * 20 + [(70, 100)]
    times = [START + i * BUCKET for i in range(len(pattern))]
    unbroken_detector = NegativeShareShiftDetector(NegativeShareParams(quiet_period=timedelta(minutes=30)))
    unbroken = [unbroken_detector.update(t, n, total) for t, (n, total) in zip(times, pattern, strict=True)]
    for cut in (1, 41, 45, 60):
        first = NegativeShareShiftDetector(NegativeShareParams(quiet_period=timedelta(minutes=30)))
        head = [first.update(t, n, total) for t, (n, total) in zip(times[:cut], pattern[:cut], strict=True)]
        restored = NegativeShareShiftDetector.from_state(json.loads(json.dumps(first.state_dict())))
        tail = [
            restored.update(t, n, total) for t, (n, total) in zip(times[cut:], pattern[cut:], strict=True)
        ]
        assert head + tail == unbroken
    assert [i for i, d in enumerate(unbroken) if d.alert] == [40, len(pattern) - 1]


def burst(
    cluster: str | int,
    posts: int,
    authors: int,
    spread: timedelta,
    start: datetime = START,
    followers: int | None = 10,
) -> list[PostSignal]:
    """`posts` posts of one cluster spread evenly over `spread`, cycling through `authors` accounts."""
    step = spread / max(posts - 1, 1)
    return [
        PostSignal(cluster, f"user{i % authors}", "weibo", start + i * step, followers) for i in range(posts)
    ]


@pytest.mark.parametrize(
    ("posts", "authors", "spread_minutes", "min_authors", "expected"),
    [
        (10, 10, 5, 8, True),
        (10, 8, 5, 8, True),
        (10, 7, 5, 8, False),  # too few distinct accounts
        (9, 9, 5, 8, False),  # too few posts
        (10, 9, 5, 10, False),  # 9 authors vs 10 required
        (10, 10, 5, 10, True),
        (10, 10, 9, 8, True),  # inside the 10-minute window
        (10, 10, 15, 8, False),  # the same posts spread over 15 minutes: never 10 within 10
        (30, 30, 15, 8, True),  # denser: some 10 minutes hold enough
    ],
)
def test_coordination_thresholds(
    posts: int, authors: int, spread_minutes: int, min_authors: int, expected: bool
) -> None:
    detector = CoordinationDetector(CoordinationParams(min_authors=min_authors))
    signals = burst("c1", posts, authors, timedelta(minutes=spread_minutes))
    found = detector.update(START + timedelta(minutes=spread_minutes), signals)
    assert bool(found) is expected


def test_coordination_evidence_fields_and_wording() -> None:
    signals = burst("c1", 8, 8, timedelta(minutes=4)) + burst(
        "c1", 4, 4, timedelta(minutes=2), START + timedelta(minutes=5), followers=5000
    )
    signals = [
        PostSignal(s.cluster_id, f"{s.author}-{i}", s.source, s.created_at, s.followers)
        for i, s in enumerate(signals)
    ]
    signals.append(PostSignal("c1", "anon", "douyin", START + timedelta(minutes=7), None))
    (evidence,) = CoordinationDetector().update(START + timedelta(minutes=8), signals)
    assert (evidence.cluster_id, evidence.posts, evidence.distinct_authors) == ("c1", 13, 13)
    assert evidence.window_seconds == 600.0 and evidence.sources == ("douyin", "weibo")
    assert evidence.share_low_follower_authors == pytest.approx(8 / 12)  # unknown follower counts left out
    assert (evidence.first_seen, evidence.last_seen) == (START, START + timedelta(minutes=7))
    assert len(evidence.authors_sample) == 10
    assert evidence.summary.startswith("13 similar posts from 13 accounts within 7 min")
    for word in ("bot", "fake", "troll", "水军", "campaign", "coordinated"):
        assert word not in evidence.summary.lower()


def test_coordination_reports_once_per_episode_and_sees_bursts_across_updates() -> None:
    detector = CoordinationDetector()
    first_half = burst("c1", 12, 12, timedelta(minutes=8), START + timedelta(minutes=3))
    assert detector.update(START + timedelta(minutes=5), first_half[:5]) == []
    assert (
        len(detector.update(START + timedelta(minutes=10), first_half[5:] + burst("c2", 3, 3, BUCKET))) == 1
    )
    more = burst("c1", 12, 12, timedelta(minutes=4), START + timedelta(minutes=12))
    assert detector.update(START + timedelta(minutes=15), more) == []  # same episode
    later = START + timedelta(hours=2)
    assert [e.cluster_id for e in detector.update(later, burst("c1", 12, 12, BUCKET, later - BUCKET))] == [
        "c1"
    ]


def test_coordination_ignores_old_posts_and_bounds_memory() -> None:
    detector = CoordinationDetector(CoordinationParams(max_clusters=5, max_posts_per_cluster=20))
    stale = burst("old", 20, 20, BUCKET, START - timedelta(hours=1))
    assert detector.update(START, stale) == []
    for i in range(50):
        detector.update(START + (i + 1) * timedelta(seconds=1), burst(f"k{i}", 30, 1, BUCKET, START))
    state = detector.state_dict()["state"]
    assert len(state["clusters"]) == 5 and all(len(c["posts"]) <= 20 for c in state["clusters"])


def test_coordination_state_round_trip() -> None:
    batches = [
        [
            PostSignal("c1", f"u{i}-{j}", "weibo", START + i * BUCKET + j * timedelta(seconds=30))
            for j in range(5)
        ]
        + burst(7, 3, 3, BUCKET, START)
        for i in range(4)
    ]
    times = [START + (i + 1) * BUCKET for i in range(4)]
    unbroken_detector = CoordinationDetector()
    unbroken = [unbroken_detector.update(t, b) for t, b in zip(times, batches, strict=True)]
    first = CoordinationDetector()
    head = [first.update(t, b) for t, b in zip(times[:2], batches[:2], strict=True)]
    restored = CoordinationDetector.from_state(json.loads(json.dumps(first.state_dict())))
    tail = [restored.update(t, b) for t, b in zip(times[2:], batches[2:], strict=True)]
    assert head + tail == unbroken and sum(len(found) for found in unbroken) == 1
