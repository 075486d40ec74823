"""Rollups at every grain (5m, 1h, 1d) equal a direct count from the stored posts — totals, per
sentiment, engagement, exact distinct authors and sources — after ingest (late posts included), after
a rebuild and after retention; trends read them; gaps of all a topic's sources match the run-by-run
reference."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from app.posts.ingest import StoredPost
from app.posts.models import Post, PostTopic
from app.sources.models import Source, SourceRun
from app.stats import queries, rollups, trends
from app.stats.models import RollupMember
from app.stats.rollups import GRAINS, bucket_start
from app.topics import service as topics
from app.topics.schemas import TopicCreate

NOW = datetime(2026, 11, 20, 6, 2, 30, tzinfo=UTC)
COUNTS = ("total", "positive", "neutral", "negative", "engagement", "authors", "sources")
Batch = tuple[str, list[tuple[float, str, str]]]  # source, [(hours before NOW, author, text)]


def _texts(brand: str, n: int) -> list[str]:
    moods = ["很好用，满意", "质量太差了，气死了", "今天发布了新款", "客服态度恶劣，投诉", "还行吧"]
    return [f"{brand}{moods[i % len(moods)]} 第{i}条" for i in range(n)]


A, B, AB = _texts("甲品牌", 40), _texts("乙品牌", 40), [f"甲品牌和乙品牌对比 {i}" for i in range(10)]

# Each scenario is a list of pushed batches; later batches carry late posts into earlier buckets.
SCENARIOS: dict[str, list[Batch]] = {
    "one bucket, repeated authors": [
        ("weibo", [(0.01, f"u{i % 3}", A[i]) for i in range(8)]),
    ],
    "hours and days apart, authors repeat across buckets": [
        (
            "weibo",
            [(h, f"u{i % 4}", A[i]) for i, h in enumerate([0.1, 0.5, 0.9, 1.2, 5, 23.5, 24.2, 49, 50])],
        ),
        ("news", [(h, f"u{i % 2}", B[i]) for i, h in enumerate([0.1, 0.2, 26, 27, 27.05])]),
    ],
    "late posts into buckets already counted": [
        ("weibo", [(0.05, "u1", A[0]), (0.05, "u2", A[1]), (2.0, "u1", A[2]), (30, "u3", A[3])]),
        # same 5m bucket / same hour other bucket / same day other hour / new day, known authors
        (
            "weibo",
            [(0.06, "u1", A[4]), (0.4, "u2", A[5]), (6.0, "u1", A[6]), (31, "u3", A[7]), (70, "u9", A[8])],
        ),
        ("forum", [(0.05, "u1", A[9]), (2.01, "u4", A[10]), (30.02, "u3", A[11])]),
        ("weibo", [(0.07, "", A[12]), (0.08, "x" * 60, A[13]), (0.09, "x" * 60, A[14])]),
    ],
    "two topics, shared posts and sources": [
        ("weibo", [(0.02 * i, f"u{i % 5}", (A + B)[i * 3 % 80]) for i in range(20)]),
        ("news", [(1 + i, f"u{i % 3}", AB[i]) for i in range(10)]),
        ("weibo", [(3.3 + i, f"u{i % 4}", AB[i]) for i in range(5)]),
    ],
}


def _push(services, batches: list[Batch]) -> None:  # type: ignore[no-untyped-def]
    for index, (source, rows) in enumerate(batches):
        posts = [
            {
                "id": f"{index}-{n}",
                "text": text,
                "author": author or None,
                "published_at": (NOW - timedelta(hours=hours)).isoformat(),
                "engagement": {"likes": n * 3 + index},
            }
            for n, (hours, author, text) in enumerate(rows)
        ]
        result = services.pipeline.push(source, posts)
        assert not result.rejected and result.accepted == len(posts)


def _expected(session, grain) -> dict[tuple[int, datetime], dict[str, int]]:  # type: ignore[no-untyped-def]
    """The grain's buckets counted straight from the stored posts and their topic tags."""
    stmt = select(
        PostTopic.topic_id,
        Post.published_at,
        Post.sentiment,
        Post.author,
        Post.source_id,
        Post.engagement_total,
    ).join(Post, Post.id == PostTopic.post_id)
    counts: dict[tuple[int, datetime], dict[str, Any]] = defaultdict(
        lambda: {
            "total": 0,
            "positive": 0,
            "neutral": 0,
            "negative": 0,
            "engagement": 0,
            "a": set(),
            "s": set(),
        }
    )
    for topic_id, published, sentiment, author, source_id, engagement in session.execute(stmt):
        bucket = counts[(topic_id, bucket_start(published, grain.size))]
        bucket["total"] += 1
        if sentiment in ("positive", "neutral", "negative"):
            bucket[sentiment] += 1
        bucket["engagement"] += engagement
        bucket["s"].add(source_id)
        if author:
            bucket["a"].add(author)
    return {
        key: {
            **{k: v for k, v in c.items() if k not in ("a", "s")},
            "authors": len(c["a"]),
            "sources": len(c["s"]),
        }
        for key, c in counts.items()
    }


def _stored(session, grain) -> dict[tuple[int, datetime], dict[str, int]]:  # type: ignore[no-untyped-def]
    return {
        (row.topic_id, row.bucket_start): {name: getattr(row, name) for name in COUNTS}
        for row in session.scalars(select(grain.rollup))
    }


def _assert_rollups_match_posts(db) -> dict[str, dict[tuple[int, datetime], dict[str, int]]]:  # type: ignore[no-untyped-def]
    found = {}
    with db.session() as session:
        for grain in GRAINS:
            expected = _expected(session, grain)
            assert expected, "the scenario stored no tagged posts"
            assert _stored(session, grain) == expected, f"{grain.name} rollups differ from the posts"
            found[grain.name] = expected
    return found


def _topics(db) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return {
            name: topics.create(session=session, data=TopicCreate(name=name, rule=name)).id
            for name in ("甲品牌", "乙品牌")
        }


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_grain_equals_a_direct_count_after_ingest_and_rebuild(services, db, scenario: str) -> None:  # type: ignore[no-untyped-def]
    services.pipeline.clock = lambda: NOW
    ids = _topics(db)
    _push(services, SCENARIOS[scenario])
    found = _assert_rollups_match_posts(db)
    if scenario != "one bucket, repeated authors":  # the data can tell a per-bucket sum from a distinct count
        day = found["1d"]
        assert any(c["authors"] < c["total"] for c in day.values())
        assert sum(c["authors"] for c in day.values()) < sum(c["authors"] for c in found["1h"].values())

    with db.session() as session:  # a rule change re-tags: some posts leave the topic, then rebuild
        dropped = session.scalars(
            select(PostTopic.post_id).where(PostTopic.topic_id == ids["甲品牌"]).order_by(PostTopic.post_id)
        ).all()[::3]
        session.execute(
            delete(PostTopic).where(PostTopic.topic_id == ids["甲品牌"], PostTopic.post_id.in_(dropped))
        )
        for topic_id in ids.values():
            rollups.rebuild(session, topic_id)
    _assert_rollups_match_posts(db)


def test_trend_reads_each_grain_and_counts_distinct_members_exactly(services, db) -> None:  # type: ignore[no-untyped-def]
    services.pipeline.clock = lambda: NOW
    ids = _topics(db)
    _push(services, SCENARIOS["hours and days apart, authors repeat across buckets"])
    found = _assert_rollups_match_posts(db)
    topic = ids["甲品牌"]
    end = bucket_start(NOW, timedelta(days=1)) + timedelta(days=1)
    with db.session() as session:
        for interval, span in (
            ("5m", timedelta(days=1)),
            ("1h", timedelta(days=3)),
            ("1d", timedelta(days=3)),
        ):
            result = trends.trend(session, topic, end - span, end, interval)
            size = trends.INTERVALS[interval]
            assert len(result["buckets"]) == span / size
            got = {(topic, b["start"]): {k: b[k] for k in COUNTS} for b in result["buckets"] if b["total"]}
            assert got == {
                k: v for k, v in found[interval].items() if k[0] == topic and end - span <= k[1] < end
            }
            assert set(result["buckets"][0]) >= {"start", "total", "negative_share", "authors", "sources"}
        day = bucket_start(NOW, timedelta(days=1))
        for start, stop in (
            (day, day + timedelta(days=1)),
            (day - timedelta(hours=8), day + timedelta(hours=16)),
        ):
            direct = session.scalar(
                select(func.count(func.distinct(Post.author)))
                .join(PostTopic, PostTopic.post_id == Post.id)
                .where(PostTopic.topic_id == topic, Post.published_at >= start, Post.published_at < stop)
            )
            assert queries.distinct_members(session, topic, start, stop, "a") == direct > 0


def test_retention_prunes_five_minute_members_and_keeps_every_grain(services, db) -> None:  # type: ignore[no-untyped-def]
    from app.posts.retention import prune

    services.pipeline.clock = lambda: NOW
    ids = _topics(db)
    _push(services, SCENARIOS["hours and days apart, authors repeat across buckets"])
    with db.session() as session:
        before = {grain.name: _stored(session, grain) for grain in GRAINS}
        old_authors = queries.distinct_members(
            session, ids["甲品牌"], NOW - timedelta(days=3), bucket_start(NOW, timedelta(hours=1)), "a"
        )
    cutoff = NOW - timedelta(hours=20)
    assert prune(db, older_than=cutoff) > 0
    with db.session() as session:
        assert rollups.prune_members(session, ids.values(), cutoff) > 0
    with db.session() as session:
        assert {grain.name: _stored(session, grain) for grain in GRAINS} == before
        members = session.scalars(select(RollupMember.bucket_start)).all()
        assert members and min(members) >= bucket_start(cutoff)
        assert session.scalar(select(func.count()).select_from(Post)) < sum(
            c["total"] for c in before["1d"].values()
        )
        # hour-aligned windows count authors from the hourly members, which outlive the raw posts
        assert (
            queries.distinct_members(
                session, ids["甲品牌"], NOW - timedelta(days=3), bucket_start(NOW, timedelta(hours=1)), "a"
            )
            == old_authors
            > 0
        )


# --------------------------------------------------------------------------- gaps


def _reference_gaps(runs: list[tuple[int, datetime, str]], start: datetime, end: datetime) -> list[tuple]:  # type: ignore[type-arg]
    """The run-by-run definition: a stretch opens at a failed run and ends when a later run of the
    source does not fail (runs that finished before start − 1 day or started after end are ignored)."""
    result = []
    for source_id in sorted({s for s, _, _ in runs}):
        current = None
        mine = sorted((t, status) for s, t, status in runs if s == source_id)
        for started, status in mine:
            finished = started + timedelta(seconds=3)
            if finished < start - timedelta(days=1) or started >= end:
                continue
            if status == "error" and current is None:
                current = [started, None]
            elif status != "error" and current is not None:
                current[1] = finished
                result.append((source_id, *current))
                current = None
        if current is not None:
            result.append((source_id, *current))
    clipped = [
        (s, max(a, start), min(b, end) if b else None)
        for s, a, b in result
        if (b is None or b > start) and a < end
    ]
    return sorted(clipped, key=lambda g: (g[1], g[0]))


PATTERNS = {  # one character per 10-minute run, oldest first: e = error, o = ok, n = not modified
    "calm": "oooooooooooooooooooooooo",
    "failing before start, recovers inside": "ooeeeeeeeeeeooooooooooooo",
    "two stretches": "oooooeeooooeeeonooooooooo",
    "still failing at end": "oooooooooooooooooooeeeeeee",
    "fails from the first run": "eeeooooooooooooooooooo",
    "single failures": "oeoeoeoeoeoeoeoeoe",
    "recovers with an unchanged feed": "ooooooooooeeeennnnnnnnnnnn",
    "fails for hours": "o" + "e" * 30 + "o",
}


@pytest.mark.parametrize("window", [(1.0, 3.0), (0.0, 4.5), (2.2, 2.6), (3.6, 5.0)])
def test_gaps_of_all_sources_in_one_query_match_the_run_by_run_reference(db, window) -> None:  # type: ignore[no-untyped-def]
    origin = NOW - timedelta(hours=6)
    with db.session() as session:
        topic = topics.create(session=session, data=TopicCreate(name="甲品牌", rule="甲品牌")).id
        runs = []
        for index, (name, pattern) in enumerate(PATTERNS.items(), start=1):
            session.add(Source(id=index, name=name, kind="push", options={}, state={}))
            session.flush()
            for n, status in enumerate(pattern):
                started = origin + timedelta(minutes=10 * n + index)
                finished = started + timedelta(seconds=3)
                state = {"e": "error", "o": "ok", "n": "not_modified"}[status]
                runs.append((index, started, state))
                session.add(
                    SourceRun(
                        source_id=index,
                        started_at=started,
                        finished_at=finished,
                        status=state,
                        error="timeout" if state == "error" else None,
                    )
                )
        session.add(Source(id=99, name="other topic", kind="push", options={}, state={}))
        session.flush()
        session.add(SourceRun(source_id=99, started_at=origin, finished_at=origin, status="error"))
        session.flush()
        # the topic's sources are the ones that fed it (daily members); source 99 never did
        rollups.apply(
            session,
            [
                StoredPost(
                    id=i,
                    published_at=origin - timedelta(days=i % 3),
                    sentiment="neutral",
                    author="u",
                    source_id=i,
                    platform=None,
                    engagement_total=0,
                    cluster_id=None,
                    topic_ids=[topic],
                    keywords=[],
                    text="",
                )
                for i in range(1, len(PATTERNS) + 1)
            ],
        )
    start, end = (origin + timedelta(hours=h) for h in window)
    with db.session() as session:
        assert trends.topic_source_ids(session, topic) == list(range(1, len(PATTERNS) + 1))
        got = [(g["source_id"], g["start"], g["end"]) for g in trends.gaps(session, topic, start, end)]
        names = {g["source"] for g in trends.gaps(session, topic, start, end)}
    expected = _reference_gaps(runs, start, end)
    assert sorted(got, key=lambda g: (g[1], g[0])) == expected
    assert names <= set(PATTERNS)
    if window == (0.0, 4.5):
        assert len(expected) >= 8  # the reference is not trivially empty
