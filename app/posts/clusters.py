"""Near-duplicate clusters kept in the database, so every worker and every restart agrees.

A post joins the cluster of the earliest recent post within Hamming distance `MAX_DISTANCE` of its
64-bit SimHash; otherwise it starts its own (its `cluster_id` stays NULL and its id is the head).
Candidates are found by banding (pigeonhole): two hashes within distance 3 agree exactly on at
least one of four 16-bit bands, stored beside the hash with an index `(band, id)` each, so a
batch needs four indexed lookups restricted to the most recent `HORIZON_POSTS` posts, each
returning only the earliest post of every distinct hash.

Workers on PostgreSQL take a transaction-scoped advisory lock before looking, so a batch sees
every batch committed before it: two workers storing copies of one story at the same moment still
put them in one cluster. The lock is held until the batch commits, so that transaction is kept
short: the analysis is done before it, and a queued batch applies rollups, detectors and notices
in a second transaction (app/posts/queue.py).
"""

from __future__ import annotations

from bisect import insort
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis.simhash import from_signed, hamming
from app.core import locks
from app.core.bulk import in_values, is_postgresql
from app.core.locks import LockKey
from app.posts.models import SIMHASH_BANDS, Post, simhash_bands

MAX_DISTANCE = 3
HORIZON_POSTS = 200_000
BAND_COLUMNS: list[Any] = [Post.simhash_band0, Post.simhash_band1, Post.simhash_band2, Post.simhash_band3]


def assign(session: Session, posts: Sequence[tuple[int, int]]) -> dict[int, int]:
    """Cluster newly inserted posts, given as (id, unsigned simhash); returns {post id: head id}.

    Posts that start their own cluster are absent from the result. The caller stores the heads.
    """
    if not posts:
        return {}
    if is_postgresql(session):
        locks.xact_lock(session, LockKey.CLUSTERS)
    ours = {post_id for post_id, _ in posts}
    horizon = min(ours) - HORIZON_POSTS
    new_posts = sorted((post_id, value, simhash_bands(value)) for post_id, value in posts)
    values: list[set[int]] = [set() for _ in range(SIMHASH_BANDS)]
    for _, _, bands in new_posts:
        for number, part in enumerate(bands):
            values[number].add(part)
    known: dict[int, tuple[int, int]] = {}  # id -> (simhash, head): candidates, then this batch
    others = ~in_values(session, Post.__table__.c.id, sorted(ours))
    for number in range(SIMHASH_BANDS):
        # Of posts with one SimHash only the earliest can ever be the nearest (same distance,
        # earlier id): a story reposted thousands of times sends one candidate per distinct hash.
        earliest = (
            select(func.min(Post.id))
            .where(
                in_values(session, BAND_COLUMNS[number], sorted(values[number])),
                Post.id > horizon,
                Post.simhash.is_not(None),
                others,
            )
            .group_by(Post.simhash)
        )
        stmt = select(Post.id, Post.simhash, Post.cluster_id).where(Post.id.in_(earliest.scalar_subquery()))
        for row in session.execute(stmt):
            known[row.id] = (from_signed(row.simhash), row.cluster_id or row.id)
    buckets: list[dict[int, list[int]]] = [defaultdict(list) for _ in range(SIMHASH_BANDS)]

    def remember(post_id: int, bands: list[int]) -> None:
        for number, part in enumerate(bands):
            insort(buckets[number][part], post_id)  # id order: the first match is the earliest

    for post_id in sorted(known):
        remember(post_id, simhash_bands(known[post_id][0]))
    heads: dict[int, int] = {}
    for post_id, value, bands in new_posts:
        nearest = min(
            (
                match
                for number, part in enumerate(bands)
                if (match := _earliest_within(buckets[number].get(part, ()), value, known)) is not None
            ),
            default=None,
        )
        head = known[nearest][1] if nearest is not None else post_id
        if head != post_id:
            heads[post_id] = head
        known[post_id] = (value, head)
        remember(post_id, bands)
    return heads


def _earliest_within(bucket: Sequence[int], value: int, known: dict[int, tuple[int, int]]) -> int | None:
    """The earliest post of an id-ordered band bucket within `MAX_DISTANCE` of `value`.

    A story reposted thousands of times fills its buckets with copies; the first one usually
    matches, so the scan stops at once instead of measuring every copy.
    """
    for other in bucket:
        if hamming(value, known[other][0]) <= MAX_DISTANCE:
            return other
    return None
