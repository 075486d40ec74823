"""Trend query latency over 1 million and 10 million stored posts on PostgreSQL.

Data are made in SQL (`INSERT … SELECT … FROM generate_series`) in a dedicated database, dropped
afterwards: 40 sources with a run every 10 minutes (a few failing stretches, so `gaps` has work),
20 topics of skewed size, posts over 60 days with skewed authors, 60% of the posts tagged with one
topic and 10% with a second. The rollups are then built in SQL with the counts
`app.stats.rollups.apply` maintains at ingest: 5-minute `rollups` and `rollup_members` ('a', 's',
'p') from the tagged posts; hourly and daily members ('a', 's') from the finer grain's members (what
`apply` relies on: a member new to an hour is new to its 5-minute bucket); hourly and daily rollups
summing the 5-minute counters, with distinct authors and sources counted from their own members; then
`VACUUM ANALYZE`. The secondary indexes of `posts` and `post_topics` are dropped for the bulk load and
re-created with their migration definitions, so the final schema is the service's.

Queries: `app.stats.trends.trend(session, topic_id, start, end, interval)` for random topics and
ranges — 24 h at 5m, 7 d at 1h, 30 d at 1d — each in its own session, as the API does per request.
`BENCH_TREND_SIZES` (comma-separated post counts, e.g. `1000000`) overrides the sizes.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench.common import (
    Figure,
    Section,
    Target,
    load_corpus,
    number,
    percentile,
    pg_version,
    scratch_database,
)

TOPICS = 20
SOURCES = 40
AUTHORS = 500_000
DAYS = 60
ROUND_SECONDS = 75.0  # a round stops early (after at least MIN_PER_ROUND queries) when queries are slow
MIN_PER_ROUND = 20
TABLES = (
    "posts",
    "post_topics",
    "rollups",
    "rollup_members",
    "rollups_1h",
    "rollup_members_1h",
    "rollups_1d",
    "rollup_members_1d",
    "source_runs",
)
KINDS = (
    ("24 h at 5m", timedelta(hours=24), "5m"),
    ("7 d at 1h", timedelta(days=7), "1h"),
    ("30 d at 1d", timedelta(days=30), "1d"),
)

POST_INDEXES = {
    "uq_posts_source_id_dedup_key": "ALTER TABLE posts ADD CONSTRAINT uq_posts_source_id_dedup_key "
    "UNIQUE (source_id, dedup_key)",
    "ix_posts_cluster_id": "CREATE INDEX ix_posts_cluster_id ON posts (cluster_id)",
    "ix_posts_published_at": "CREATE INDEX ix_posts_published_at ON posts (published_at)",
    "ix_posts_source_published": "CREATE INDEX ix_posts_source_published ON posts (source_id, published_at)",
    "ix_posts_search_terms": "CREATE INDEX ix_posts_search_terms ON posts USING gin (search_terms)",
    "ix_post_topics_post_id": "CREATE INDEX ix_post_topics_post_id ON post_topics (post_id)",
    "ix_post_topics_topic_published": "CREATE INDEX ix_post_topics_topic_published ON post_topics "
    "(topic_id, published_at)",
}

_INSERT_POSTS = """
INSERT INTO posts (id, source_id, dedup_key, external_id, url, title, raw, text, author, platform, lang,
                   published_at, collected_at, engagement, engagement_total, sentiment, sentiment_score,
                   keywords, simhash, cluster_id)
SELECT g, s.source_id, 'id:' || g, g::text, 'https://example.org/p/' || g, NULL, s.body, s.body,
       'u' || floor(power(random(), 3) * :authors)::int, s.platform, NULL, s.published_at,
       s.published_at + interval '2 minutes', '{}'::jsonb, s.engagement, s.sentiment, s.score,
       '["关键词", "话题"]'::jsonb, NULL, NULL
FROM generate_series(:lo, :hi) AS g
CROSS JOIN LATERAL (
    SELECT 1 + (g % :sources)::int AS source_id,
           (CAST(:bodies AS text[]))[1 + (g % :nbodies)::int] AS body,
           (ARRAY['weibo', 'wechat', 'douyin', 'news', 'forum'])[1 + (g % 5)::int] AS platform,
           :now - random() * interval ':days days' AS published_at,
           floor(power(random(), 4) * 2000)::int AS engagement,
           (ARRAY['negative', 'neutral', 'positive', 'neutral'])[1 + (hashint8(g) & 3)::int] AS sentiment,
           random() AS score
) AS s
"""

_INSERT_TOPICS = """
INSERT INTO post_topics (topic_id, post_id, published_at, sentiment)
SELECT t.topic_id, p.id, p.published_at, p.sentiment
FROM posts p
CROSS JOIN LATERAL (
    SELECT 1 + floor(:topics * power(((hashint8(p.id) & 65535) / 65536.0), 1.6))::int AS topic_id
    WHERE (hashint8(p.id + 7) & 1023) < 614
    UNION
    SELECT 1 + ((hashint8(p.id + 13) & 65535) % :topics)::int
    WHERE (hashint8(p.id + 29) & 1023) < 102
) AS t
WHERE p.id BETWEEN :lo AND :hi
"""

_BUCKET = "date_bin('{size}', {col}, timestamptz '1970-01-01 00:00:00+00')"

_ROLLUPS = f"""
INSERT INTO rollups (topic_id, bucket_start, total, positive, neutral, negative, authors, sources, engagement)
SELECT pt.topic_id, {_BUCKET.format(size="5 minutes", col="pt.published_at")} AS bucket, count(*),
       count(*) FILTER (WHERE p.sentiment = 'positive'), count(*) FILTER (WHERE p.sentiment = 'neutral'),
       count(*) FILTER (WHERE p.sentiment = 'negative'), count(DISTINCT p.author),
       count(DISTINCT p.source_id),
       sum(p.engagement_total)
FROM post_topics pt JOIN posts p ON p.id = pt.post_id
GROUP BY 1, 2
"""

_MEMBERS = f"""
INSERT INTO rollup_members (topic_id, bucket_start, kind, member)
SELECT DISTINCT pt.topic_id, {_BUCKET.format(size="5 minutes", col="pt.published_at")},
       CAST(:kind AS varchar), {{member}}
FROM post_topics pt JOIN posts p ON p.id = pt.post_id
WHERE {{member}} IS NOT NULL
"""

# coarse members from the finer grain's members, kinds 'a' and 's' (as apply cascades them)
_COARSE_MEMBERS = """
INSERT INTO {table} (topic_id, kind, bucket_start, member)
SELECT DISTINCT topic_id, kind, {bucket}, member
FROM {finer}
WHERE kind = CAST(:kind AS varchar)
"""

# coarse rollups: the 5-minute counters summed, distinct counts from the grain's own members
_COARSE_ROLLUPS = """
INSERT INTO {table} (topic_id, bucket_start, total, positive, neutral, negative, authors, sources, engagement)
SELECT r.topic_id, r.bucket, r.total, r.positive, r.neutral, r.negative,
       coalesce(m.authors, 0), coalesce(m.sources, 0), r.engagement
FROM (
    SELECT topic_id, {bucket} AS bucket, sum(total) AS total, sum(positive) AS positive,
           sum(neutral) AS neutral, sum(negative) AS negative, sum(engagement) AS engagement
    FROM rollups GROUP BY 1, 2
) AS r
LEFT JOIN (
    SELECT topic_id, bucket_start, count(*) FILTER (WHERE kind = 'a') AS authors,
           count(*) FILTER (WHERE kind = 's') AS sources
    FROM {members} GROUP BY 1, 2
) AS m ON m.topic_id = r.topic_id AND m.bucket_start = r.bucket
"""

_RUNS = """
INSERT INTO source_runs (source_id, started_at, finished_at, status, new, duplicates, http_status, error,
                         duration_ms)
SELECT s, t, t + interval '3 seconds',
       CASE WHEN (s * 7 + extract(day FROM t)::int) % 29 = 0 AND extract(hour FROM t) < 3
            THEN 'error' ELSE 'ok' END,
       5, 1, 200, NULL, 3000
FROM generate_series(1, :sources) AS s,
     generate_series(:start, :now, interval '10 minutes') AS t
"""


class Dataset:
    """Builds and grows the synthetic store in one scratch database."""

    def __init__(self, engine: Engine, now: datetime, bodies: list[str]) -> None:
        self.engine, self.now, self.bodies = engine, now, bodies
        self.posts = 0
        self.timings: dict[str, float] = {}

    def _timed(self, label: str, action: Callable[[], Any]) -> None:
        started = time.perf_counter()
        action()
        self.timings[label] = self.timings.get(label, 0.0) + time.perf_counter() - started

    def _execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(text("SET LOCAL work_mem = '512MB'"))
            connection.execute(text("SET LOCAL synchronous_commit = off"))
            # bulk load: skip the per-row foreign-key triggers (rows are consistent by construction)
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text(sql), params)

    def setup(self) -> None:
        """Sources, topics and source runs (once)."""
        start = self.now - timedelta(days=DAYS)
        with self.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO sources (id, name, kind, url, interval_seconds, options, enabled, demo, "
                    "state, "
                    "consecutive_failures, created_at, updated_at) SELECT s, 'source-' || s, 'rss', "
                    "'http://127.0.0.1/feed/' || s, 600, '{}'::jsonb, true, false, '{}'::jsonb, 0, :start, "
                    ":start "
                    "FROM generate_series(1, :n) AS s"
                ),
                {"n": SOURCES, "start": start},
            )
            connection.execute(
                text(
                    "INSERT INTO topics (id, name, description, rule, rule_version, retagged_version, "
                    "enabled, demo, "
                    "critical_terms, settings, created_at, updated_at) SELECT t, '话题' || t, '', "
                    "to_jsonb('品牌' || t), 1, 1, true, false, '[]'::jsonb, '{}'::jsonb, :start, :start "
                    "FROM generate_series(1, :n) AS t"
                ),
                {"n": TOPICS, "start": start},
            )
        self._timed("source runs", lambda: self._execute(_RUNS, sources=SOURCES, start=start, now=self.now))

    def _drop_indexes(self) -> None:
        with self.engine.begin() as connection:
            for name in POST_INDEXES:
                if name.startswith("uq_"):
                    connection.execute(text(f"ALTER TABLE posts DROP CONSTRAINT IF EXISTS {name}"))
                else:
                    connection.execute(text(f"DROP INDEX IF EXISTS {name}"))

    def _create_indexes(self) -> None:
        def build(statement: str) -> None:
            with self.engine.begin() as connection:
                connection.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
                connection.execute(text(statement))

        self._parallel([lambda s=s: build(s) for s in POST_INDEXES.values()])  # type: ignore[misc]

    @staticmethod
    def _parallel(jobs: list[Callable[[], None]], workers: int = 2) -> None:
        """Run jobs on `workers` connections (one PostgreSQL backend, i.e. one core, each)."""
        pending = list(jobs)
        lock = threading.Lock()
        errors: list[BaseException] = []

        def worker() -> None:
            while True:
                with lock:
                    if not pending or errors:
                        return
                    job = pending.pop(0)
                try:
                    job()
                except BaseException as exc:  # surfaced after join
                    errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    def grow(self, total: int) -> None:
        """Add posts up to `total` (ids continue), tag them, rebuild rollups and members, ANALYZE."""
        lo, hi = self.posts + 1, total
        chunk = 500_000
        ranges = [(a, min(a + chunk - 1, hi)) for a in range(lo, hi + 1, chunk)]
        self._drop_indexes()
        params = {
            "authors": AUTHORS,
            "sources": SOURCES,
            "bodies": self.bodies,
            "nbodies": len(self.bodies),
            "now": self.now,
        }
        days = _INSERT_POSTS.replace(":days days", f"{DAYS} days")
        self._timed(
            "posts",
            lambda: self._parallel(
                [lambda a=a, b=b: self._execute(days, lo=a, hi=b, **params) for a, b in ranges]
            ),
        )  # type: ignore[misc]
        self._timed(
            "post_topics",
            lambda: self._parallel(
                [
                    lambda a=a, b=b: self._execute(_INSERT_TOPICS, lo=a, hi=b, topics=TOPICS)  # type: ignore[misc]
                    for a, b in ranges
                ]
            ),
        )
        self._timed("indexes", self._create_indexes)
        self.posts = total
        self._timed("rollups", self._rebuild_rollups)
        self._timed("vacuum analyze", self._analyze)

    def _rebuild_rollups(self) -> None:
        self._execute(
            "TRUNCATE rollups, rollup_members, rollups_1h, rollup_members_1h, rollups_1d, rollup_members_1d"
        )
        members = [("a", "p.author"), ("s", "p.source_id::text"), ("p", "p.platform")]
        self._parallel(
            [lambda: self._execute(_ROLLUPS)]
            + [
                lambda k=k, m=m: self._execute(_MEMBERS.format(member=m), kind=k)
                for k, m in members  # type: ignore[misc]
            ]
        )
        for table, finer, size in (
            ("rollup_members_1h", "rollup_members", "1 hour"),
            ("rollup_members_1d", "rollup_members_1h", "1 day"),
        ):
            sql = _COARSE_MEMBERS.format(
                table=table, finer=finer, bucket=_BUCKET.format(size=size, col="bucket_start")
            )
            self._parallel([lambda k=k, q=sql: self._execute(q, kind=k) for k in ("a", "s")])  # type: ignore[misc]
        self._parallel(
            [
                lambda t=t, m=m, z=z: self._execute(  # type: ignore[misc]
                    _COARSE_ROLLUPS.format(
                        table=t, members=m, bucket=_BUCKET.format(size=z, col="bucket_start")
                    )
                )
                for t, m, z in (
                    ("rollups_1h", "rollup_members_1h", "1 hour"),
                    ("rollups_1d", "rollup_members_1d", "1 day"),
                )
            ]
        )

    def _analyze(self) -> None:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"VACUUM (ANALYZE) {', '.join(TABLES)}"))

    def counts(self) -> dict[str, int]:
        """Row counts of the tables the trend reads or depends on."""
        with self.engine.connect() as connection:
            return {
                name: int(connection.execute(text(f"SELECT count(*) FROM {name}")).scalar() or 0)
                for name in TABLES
            }

    def sizes(self) -> dict[str, int]:
        """On-disk size (table, indexes and TOAST) of each table, and of the posts time index."""
        with self.engine.connect() as connection:
            found = {
                name: int(connection.execute(text(f"SELECT pg_total_relation_size('{name}')")).scalar() or 0)
                for name in TABLES
            }
            found["ix_posts_published_at"] = int(
                connection.execute(text("SELECT pg_relation_size('ix_posts_published_at')")).scalar() or 0
            )
            return found


def time_queries(
    engine: Engine, now: datetime, rounds: int, per_round: int, warmup: int, seed: int
) -> dict[str, list[list[float]]]:
    """Per kind, per round: the latencies (ms) of `trend` for random topics and ranges."""
    from sqlalchemy.orm import Session

    from app.stats.trends import trend

    rng = random.Random(seed)
    results: dict[str, list[list[float]]] = {label: [] for label, *_ in KINDS}

    def one(span: timedelta, interval: str) -> float:
        topic = rng.randint(1, TOPICS)
        end = now - timedelta(seconds=rng.uniform(0, (timedelta(days=DAYS) - span).total_seconds()))
        started = time.perf_counter()
        with Session(engine) as session:
            found = trend(session, topic, end - span, end, interval)
        elapsed = (time.perf_counter() - started) * 1000
        if not found["buckets"]:
            raise RuntimeError("trend returned no buckets")
        return elapsed

    for label, span, interval in KINDS:
        for _ in range(warmup):
            one(span, interval)
        for _ in range(rounds):
            deadline = time.perf_counter() + ROUND_SECONDS
            latencies = []
            while len(latencies) < per_round and (
                len(latencies) < MIN_PER_ROUND or time.perf_counter() < deadline
            ):
                latencies.append(one(span, interval))
            results[label].append(latencies)
    return results


def breakdown(engine: Engine, now: datetime, samples: int) -> str:
    """Markdown: mean time of each query `trend` makes, per kind, at the current size."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from app.stats import trends
    from app.stats.rollups import GRAIN, bucket_start

    rng = random.Random(5)
    lines = [
        "| kind | rollup rows of the grain | gaps (one query) | topic_source_ids (alone) |",
        "|---|---|---|---|",
    ]
    for label, span, interval in KINDS:
        parts = {"rollups": 0.0, "gaps": 0.0, "sources": 0.0}
        table = GRAIN[interval].rollup.__table__
        for _ in range(samples):
            topic = rng.randint(1, TOPICS)
            end = now - timedelta(seconds=rng.uniform(0, (timedelta(days=DAYS) - span).total_seconds()))
            start = bucket_start(end - span, trends.INTERVALS[interval])
            with Session(engine) as session:
                t0 = time.perf_counter()
                session.execute(
                    select(table).where(
                        table.c.topic_id == topic, table.c.bucket_start >= start, table.c.bucket_start < end
                    )
                ).all()
                t1 = time.perf_counter()
                trends.gaps(session, topic, start, end)
                t2 = time.perf_counter()
                trends.topic_source_ids(session, topic)
                t3 = time.perf_counter()
            parts["rollups"] += t1 - t0
            parts["gaps"] += t2 - t1
            parts["sources"] += t3 - t2
        cells = " | ".join(f"{1000 * parts[k] / samples:,.1f} ms" for k in ("rollups", "gaps", "sources"))
        lines.append(f"| {label} | {cells} |")
    return "\n".join(lines)


def run(quick: bool) -> Section:
    """Generate the store at two sizes and time trend queries at each."""
    section = Section("trend", "3. Trend query latency on PostgreSQL")
    if not pg_version():
        section.skipped = "PostgreSQL is not reachable"
        return section
    sizes: tuple[int, ...] = (100_000, 300_000) if quick else (1_000_000, 10_000_000)
    if os.environ.get("BENCH_TREND_SIZES"):
        sizes = tuple(int(n) for n in os.environ["BENCH_TREND_SIZES"].split(","))
    rounds, per_round, warmup = (1, 30, 5) if quick else (3, 70, 10)
    section.intro = (
        f"A dedicated database with {SOURCES} sources (a run every 10 minutes for {DAYS} days, a few failing "
        f"stretches), {TOPICS} topics of skewed size, posts spread over {DAYS} days from {AUTHORS:,} authors "
        "(skewed), ~61% tagged with one topic and ~10% with a second; rollups and their distinct members at "
        "5 minutes, 1 hour and 1 day built with `INSERT … SELECT … GROUP BY` with the counts ingest "
        "maintains, then `VACUUM ANALYZE`. A trend reads the rollup rows of its interval's grain. "
        f"Each figure: {rounds} round(s) of {per_round} `trend()` calls on random topics and random ranges "
        f"within the {DAYS} days, after {warmup} warm-up calls per kind; each call opens its own session "
        "(pooled connection) like an API request. Stock PostgreSQL settings (shared_buffers 128 MB)."
    )
    corpus = load_corpus(limit=64)
    bodies = [t[:120] for t in corpus.texts]
    now = datetime.now(UTC).replace(microsecond=0)
    from sqlalchemy import create_engine

    from app.core.migrate import upgrade

    with scratch_database("yq_bench_trend") as url:
        upgrade(url)
        engine = create_engine(url, pool_size=2)
        try:
            data = Dataset(engine, now, bodies)
            data.setup()
            for size in sizes:
                started = time.perf_counter()
                data.grow(size)
                generation = time.perf_counter() - started
                counts = data.counts()
                results = time_queries(engine, now, rounds, per_round, warmup, seed=size)
                label = f"{size / 1e6:g}M posts"
                section.notes.append(
                    f"{label}: queries timed per kind: "
                    + ", ".join(f"{kind} {sum(len(r) for r in rs)}" for kind, rs in results.items())
                    + (f" (a round stops after {ROUND_SECONDS:.0f} s once it has {MIN_PER_ROUND} queries).")
                )
                for kind, latencies in results.items():
                    p99_target = Target("<", 50) if size == sizes[-1] else None
                    section.add(
                        Figure(
                            f"{label}, {kind}: p50", [percentile(r, 50) for r in latencies], "ms", digits=1
                        )
                    )
                    section.add(
                        Figure(
                            f"{label}, {kind}: p99",
                            [percentile(r, 99) for r in latencies],
                            "ms",
                            p99_target,
                            digits=1,
                        )
                    )
                section.notes.append(
                    f"**{label}**: generated in {generation:,.0f} s ("
                    + ", ".join(f"{k} {v:,.0f} s" for k, v in data.timings.items())
                    + "; cumulative over sizes). "
                    "Rows: "
                    + ", ".join(f"{k} {number(v)}" for k, v in counts.items())
                    + ". On disk (with indexes): "
                    + ", ".join(f"{k} {v / 2**20:,.0f} MiB" for k, v in data.sizes().items())
                    + "."
                )
                section.notes.append(
                    f"Mean time per query inside `trend()` at {label} "
                    f"({10 if quick else 15} samples per kind):\n\n"
                    + breakdown(engine, now, 10 if quick else 15)
                )
                data.timings.clear()
        finally:
            engine.dispose()
    return section
