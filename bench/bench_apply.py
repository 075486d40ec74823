"""Cost of `app.stats.rollups.apply` per batch of 1,000 stored posts on PostgreSQL.

Run on its own (not a section of `python -m bench`): `.venv/bin/python -m bench.bench_apply`.
A scratch database `yq_bench_apply` gets 20 topics; batches of 1,000 `StoredPost`s (40 sources, five
platforms, 200,000 skewed authors, ~1.1 topics a post) go through `apply`, each batch in its own
transaction with its commit timed. Two shapes: *fresh* (published in the minute before the batch's
clock, which advances 20 s a batch, as a live collector sees them) and *late* (published anywhere in the
7 days before the clock: every batch touches hundreds of old buckets). Warm-up batches fill the tables
first so the indexes are not empty.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench.common import pg_version, scratch_database

TOPICS = 20
SOURCES = 40
AUTHORS = 200_000
BATCH = 1000
PLATFORMS = ("weibo", "wechat", "douyin", "news", "forum")
SENTIMENTS = ("negative", "neutral", "positive", "neutral")


def _posts(rng: random.Random, first_id: int, clock: datetime, spread: timedelta) -> list:  # type: ignore[type-arg]
    from app.posts.ingest import StoredPost

    posts = []
    for i in range(BATCH):
        topics = [1 + int(TOPICS * rng.random() ** 1.6)]
        if rng.random() < 0.1:
            topics.append(rng.randint(1, TOPICS))
        posts.append(
            StoredPost(
                id=first_id + i,
                published_at=clock - timedelta(seconds=rng.uniform(0, spread.total_seconds())),
                sentiment=rng.choice(SENTIMENTS),
                author=f"u{int(rng.random() ** 3 * AUTHORS)}",
                source_id=rng.randint(1, SOURCES),
                platform=rng.choice(PLATFORMS),
                engagement_total=int(rng.random() ** 4 * 2000),
                cluster_id=None,
                topic_ids=sorted(set(topics)),
                keywords=[],
                text="",
            )
        )
    return posts


def measure(url: str, spread: timedelta, warmup: int, timed: int, seed: int) -> list[float]:
    """Milliseconds per batch of 1,000 posts through `apply` + commit, after `warmup` batches."""
    from app.stats import rollups

    engine = create_engine(url)
    rng = random.Random(seed)
    clock = datetime(2026, 11, 1, tzinfo=UTC)
    results: list[float] = []
    next_id = 1
    for index in range(warmup + timed):
        posts = _posts(rng, next_id, clock, spread)
        next_id += BATCH
        started = time.perf_counter()
        with Session(engine) as session, session.begin():
            rollups.apply(session, posts, clock)
        if index >= warmup:
            results.append((time.perf_counter() - started) * 1000)
        clock += timedelta(seconds=20)
    engine.dispose()
    return results


def _setup(url: str) -> None:
    from app.core.migrate import upgrade

    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO topics (id, name, description, rule, rule_version, retagged_version, enabled, "
                "demo, critical_terms, settings, created_at, updated_at) SELECT t, 'topic' || t, '', "
                "to_jsonb('brand' || t), 1, 1, true, false, '[]'::jsonb, '{}'::jsonb, now(), now() "
                "FROM generate_series(1, :n) AS t"
            ),
            {"n": TOPICS},
        )
    engine.dispose()


def main(argv: list[str] | None = None) -> None:
    """Print median / p90 / mean milliseconds per 1,000 posts for each shape."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_apply", description=__doc__)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--batches", type=int, default=40)
    args = parser.parse_args(argv)
    if not pg_version():
        raise SystemExit("PostgreSQL is not reachable")
    shapes: list[tuple[str, timedelta]] = [("fresh", timedelta(minutes=1)), ("late", timedelta(days=7))]
    report: Callable[[str, list[float]], str] = lambda name, values: (  # noqa: E731
        f"{name}: median {statistics.median(values):.1f} ms, "
        f"p90 {statistics.quantiles(values, n=10)[-1]:.1f} ms, mean {statistics.fmean(values):.1f} ms "
        f"per {BATCH:,} posts ({len(values)} batches)"
    )
    for name, spread in shapes:
        with scratch_database("yq_bench_apply") as url:
            _setup(url)
            print(report(name, measure(url, spread, args.warmup, args.batches, seed=3)), flush=True)


if __name__ == "__main__":
    main()
