"""The one lease method (app/core/leases.py): backoff formulas and their defaults, owner ids."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from app.core import leases
from app.core.config import load_settings
from app.core.leases import Backoff


def test_default_backoffs_keep_the_formulas_they_replaced() -> None:
    settings = load_settings()
    ingest = Backoff.ingest(settings)
    for attempts in range(1, 12):  # the push queue: 5 s doubling, at most 300 s, no jitter
        assert ingest.seconds(attempts) == min(5.0 * 2 ** (attempts - 1), 300.0)
    for interval in (60, 900, 3600, 30_000):  # a failing source: doubling, ≤ 8 intervals, ≤ 6 h
        for failures in range(1, 10):
            factor = min(2 ** max(failures - 1, 0), 8)
            expected = timedelta(seconds=min(interval * factor, 6 * 3600))
            assert Backoff.collect(settings, interval).delay(failures) == expected
    outbox, old, new = Backoff.outbox(settings), random.Random(7), random.Random(7)
    for attempts in range(1, 40):  # deliveries: full jitter, the same draws as before
        ceiling = min(1800.0, 10.0 * 2 ** min(attempts - 1, 30))
        assert outbox.seconds(attempts, rng=new) == old.uniform(0, ceiling)


@pytest.mark.parametrize("jitter", [0.0, 0.25, 1.0])
def test_jitter_is_the_random_fraction_and_retry_after_a_floor(jitter: float) -> None:
    backoff, rng = Backoff(base=2.0, cap=100.0, jitter=jitter), random.Random(1)
    for failures, ceiling in ((0, 2.0), (1, 2.0), (3, 8.0), (7, 100.0), (10_000, 100.0)):
        delays = [backoff.seconds(failures, rng=rng) for _ in range(200)]
        assert all((1 - jitter) * ceiling <= d <= ceiling for d in delays)
        if jitter:
            assert min(delays) < (1 - jitter * 0.8) * ceiling  # spread over the range
    assert backoff.seconds(1, retry_after=60.0, rng=rng) == 60.0


def test_settings_bound_the_parameters() -> None:
    settings = load_settings(ingest_retry_base_seconds=1, ingest_retry_max_seconds=4, ingest_retry_jitter=0)
    assert [Backoff.ingest(settings).seconds(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 4]
    with pytest.raises(Exception, match="OUTBOX_RETRY_JITTER"):
        load_settings(outbox_retry_jitter=1.5)


def test_owner_ids_name_the_process_and_differ_per_claimer() -> None:
    first, second = leases.owner_id(), leases.owner_id()
    assert first != second
    host, pid, suffix = first.split(":")
    assert host and int(pid) > 0 and len(suffix) == 6
