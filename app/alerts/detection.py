"""How the service runs analysis/ detectors: which detectors, what they are fed, and their state
persisted per topic in `detector_states` — the bucket detectors fed from rollups by event time
(replayed from rollups when late posts change the past, or when a stored state is of an older
format), and the coordination detector fed with newly stored posts, one shared state for all workers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from analysis.detectors import (
    CoordinationDetector,
    CoordinationEvidence,
    NegativeShareShiftDetector,
    NegativeVolumeSpikeDetector,
    PostSignal,
    VolumeSpikeDetector,
)
from app.alerts.models import DetectorState
from app.core.bulk import dialect_insert
from app.posts.models import Post, PostTopic
from app.stats import queries
from app.stats.models import Rollup
from app.stats.rollups import BUCKET, bucket_start

log = logging.getLogger(__name__)
LOOKBACK = timedelta(days=7)
COORDINATION = "coordination"  # its detector_states row: shared by every worker, kept across restarts


@dataclass(frozen=True)
class Counts:
    """A bucket's counts as detectors see them."""

    total: float = 0.0
    negative: float = 0.0

    @classmethod
    def of(cls, rollup: Rollup | None) -> Counts:
        """Counts of a stored rollup (zeros for an empty bucket)."""
        return cls(float(rollup.total), float(rollup.negative)) if rollup else cls()

    def blend(self, previous: Counts, weight: float) -> Counts:
        """A sliding 5-minute window: this partial bucket plus the tail of the previous one."""
        return Counts(self.total + previous.total * weight, self.negative + previous.negative * weight)


@dataclass(frozen=True)
class DetectorSpec:
    """A detector the service runs: how to build, restore and feed it."""

    name: str
    build: Callable[[], Any]
    restore: Callable[[dict[str, Any]], Any]
    feed: Callable[[Any, datetime, Counts], Any]


SPECS: tuple[DetectorSpec, ...] = (
    DetectorSpec(
        "volume", VolumeSpikeDetector, VolumeSpikeDetector.from_state, lambda d, t, c: d.update(t, c.total)
    ),
    DetectorSpec(
        "negative_volume",
        NegativeVolumeSpikeDetector,
        NegativeVolumeSpikeDetector.from_state,
        lambda d, t, c: d.update(t, c.negative),
    ),
    DetectorSpec(
        "negative_share",
        NegativeShareShiftDetector,
        NegativeShareShiftDetector.from_state,
        lambda d, t, c: d.update(t, round(c.negative), round(c.total)),
    ),
)

BUCKET_DETECTORS = tuple(spec.name for spec in SPECS)  # fed from rollups (COORDINATION is fed posts)
CHECKPOINT = "@settled"  # suffix of a detector's second row: its state up to the lateness allowance


def checkpoint(name: str) -> str:
    """Row name of a bucket detector's checkpoint: its state fed only the buckets older than the
    lateness allowance, which posts arriving within the allowance cannot change."""
    return name + CHECKPOINT


STATE_ROWS = (*BUCKET_DETECTORS, *(checkpoint(name) for name in BUCKET_DETECTORS))


def load_counts(session: Session, topic_id: int, start: datetime, end: datetime) -> dict[datetime, Counts]:
    """Counts per bucket of a topic in [start, end)."""
    return {row.bucket_start: Counts.of(row) for row in queries.read(session, topic_id, start, end)}


def earliest_bucket(session: Session, topic_id: int) -> datetime | None:
    """The topic's first stored bucket."""
    return queries.earliest(session, topic_id)


def mark_stale(session: Session, topic_id: int, oldest_bucket: datetime) -> None:
    """Posts landed in buckets a detector already processed: replay it from rollups next time."""
    session.execute(
        update(DetectorState)
        .where(
            DetectorState.topic_id == topic_id,
            DetectorState.detector.in_(STATE_ROWS),
            DetectorState.last_bucket >= oldest_bucket,
        )
        .values(stale=True)
    )


def relabeled(
    session: Session, topic_ids: Sequence[int], published_at: datetime, old: str | None, new: str
) -> None:
    """A post's label changed (an analyst's correction): its topics' detectors replay from its bucket."""
    for topic_id in topic_ids:
        mark_stale(session, topic_id, bucket_start(published_at))


def _state_rows(session: Session, topic_id: int) -> dict[str, DetectorState]:
    """The topic's detector state rows, created empty when missing.

    A push and the scheduler's tick (or two pushes in other buckets) may judge a new topic at the
    same moment: the rows are inserted if absent, so the later transaction waits for the earlier
    one's commit and then reads its rows instead of failing on the primary key.
    """
    stmt = select(DetectorState).where(DetectorState.topic_id == topic_id)
    rows = {row.detector: row for row in session.scalars(stmt)}
    missing = [name for name in STATE_ROWS if name not in rows]
    if missing:
        session.execute(
            dialect_insert(session, DetectorState.__table__).on_conflict_do_nothing(),
            [
                {"topic_id": topic_id, "detector": name, "state": {}, "last_bucket": None, "stale": False}
                for name in missing
            ],
        )
        found = session.scalars(stmt.where(DetectorState.detector.in_(missing)))
        rows.update({row.detector: row for row in found})
    return rows


@dataclass(frozen=True)
class Judged:
    """A closed bucket inside the lateness allowance as the persisted detectors judged it."""

    bucket: datetime
    counts: Counts
    decisions: dict[str, Any]

    @property
    def fired(self) -> list[str]:
        """The detectors that alert on this bucket."""
        return [name for name, decision in self.decisions.items() if decision.alert]


@dataclass(frozen=True)
class Advanced:
    """The live detectors after `advance`, and the closed buckets they judged within the allowance."""

    live: dict[str, Any]
    judged: list[Judged]


def _restore(spec: DetectorSpec, row: DetectorState, topic_id: int, stale_ok: bool = False) -> Any | None:
    """The stored detector, or None when it must be rebuilt from rollups: stale (late posts changed
    its past), never fed, or stored in a format this version cannot read (an older state version)."""
    if (row.stale and not stale_ok) or not row.state or row.last_bucket is None:
        return None
    try:
        return spec.restore(row.state)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning(
            "topic %s: stored %s detector state (version %s) cannot be restored (%s); rebuilt from rollups",
            topic_id,
            spec.name,
            row.state.get("version"),
            exc,
        )
        return None


def advance(
    session: Session,
    topic_id: int,
    current: datetime,
    lateness: timedelta = timedelta(0),
    *,
    replay_history: bool = True,
) -> Advanced:
    """Bring every detector of a topic up to the last closed bucket.

    Detectors run on event time: a bucket is fed once it has closed. Each detector keeps two states:
    the live one, fed up to the last closed bucket, and a checkpoint fed only the buckets older than
    the lateness allowance. Late posts mark the states whose buckets they change stale
    (`mark_stale`): posts within the allowance leave the checkpoint intact, so the live state is
    replayed from it over the allowance only; older posts replay both from rollups (7 days). The
    decisions on closed buckets that started within `lateness` of the current one are returned with
    their counts, so the engine can still alert on a burst whose posts arrived late; older buckets
    are history only. Without `replay_history` (a push judging its topics) a checkpoint made stale
    by posts older than the allowance is used as it is and stays marked, as long as it already rests
    on all the history there is: those posts cannot alert, and the next tick replays the history
    once, however many pushes brought such posts meanwhile. A checkpoint younger than the history
    (history back-filled into a new topic) is replayed at once, so the first burst meets a warm
    baseline.
    """
    rows = _state_rows(session, topic_id)
    first = earliest_bucket(session, topic_id)
    floor = max(first, current - LOOKBACK) if first else current
    settled = bucket_start(current - lateness)
    defer = not replay_history and _covers(rows[checkpoint("volume")], floor)
    restored: dict[str, tuple[Any | None, datetime, Any | None, datetime]] = {}
    for spec in SPECS:
        saved: list[Any | None] = []
        nexts: list[datetime] = []
        for name in (checkpoint(spec.name), spec.name):
            row = rows[name]
            detector = _restore(spec, row, topic_id, stale_ok=defer and name != spec.name)
            saved.append(detector)
            nexts.append(floor if detector is None or row.last_bucket is None else row.last_bucket + BUCKET)
        restored[spec.name] = (saved[0], nexts[0], saved[1], nexts[1])
    begin = min(min(ck_next, live_next) for _, ck_next, _, live_next in restored.values())
    counts = load_counts(session, topic_id, begin, current) if begin < current else {}
    judged_from = current - lateness
    judged: dict[datetime, dict[str, Any]] = {}
    live: dict[str, Any] = {}
    for spec in SPECS:
        settled_detector, moment, detector, live_next = restored[spec.name]
        row = rows[checkpoint(spec.name)]
        keep_stale = row.stale and settled_detector is not None
        fed = settled_detector is None
        if settled_detector is None:
            settled_detector = spec.build()
        while moment < settled:
            spec.feed(settled_detector, moment, counts.get(moment, Counts()))
            moment += BUCKET
            fed = True
        if fed:
            row.state, row.last_bucket, row.stale = settled_detector.state_dict(), moment - BUCKET, keep_stale
        row = rows[spec.name]
        fed = detector is None
        if detector is None:  # replayed from the checkpoint
            detector, live_next = spec.restore(settled_detector.state_dict()), moment
        moment = live_next
        while moment < current:
            decision = spec.feed(detector, moment, counts.get(moment, Counts()))
            if moment >= judged_from:
                judged.setdefault(moment, {})[spec.name] = decision
            moment += BUCKET
            fed = True
        if fed:
            row.state, row.last_bucket, row.stale = detector.state_dict(), current - BUCKET, False
        live[spec.name] = detector
    return Advanced(
        live=live,
        judged=[Judged(b, counts.get(b, Counts()), judged[b]) for b in sorted(judged)],
    )


def _covers(row: DetectorState, floor: datetime) -> bool:
    """Whether a volume checkpoint's state was fed every bucket from `floor` (the history there is)."""
    seen = (row.state or {}).get("state", {}).get("seen")
    if not isinstance(seen, int) or row.last_bucket is None:
        return False
    return row.last_bucket + BUCKET - seen * BUCKET <= floor


def replay(session: Session, topic_id: int) -> None:
    """The topic's posts changed wholesale (a re-tag rebuilt its rollups): rebuild every detector
    from the rollups on the next judgement, so back-filled history warms them."""
    session.execute(
        update(DetectorState)
        .where(DetectorState.topic_id == topic_id, DetectorState.detector.in_(STATE_ROWS))
        .values(stale=True)
    )


def coordination(
    session: Session, topic_id: int, now: datetime, clusters: Collection[int]
) -> list[CoordinationEvidence]:
    """Judge the near-duplicate clusters that new posts of a topic joined, for coordinated posting.

    The posts come from the database (the clusters' posts of the last two windows, stored by any
    worker), and the topic's `detector_states` row keeps the episodes already reported; it is locked
    until commit (PostgreSQL; SQLite has one writer), so workers storing posts of one episode report
    it once, and a restart remembers it. The row stays small whatever the topic's volume: posts are
    not copied into it.
    """
    stmt = (
        select(DetectorState)
        .where(DetectorState.topic_id == topic_id, DetectorState.detector == COORDINATION)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = session.scalars(stmt).one_or_none()
    if row is None:  # the topic's first: created once, whichever worker comes first
        session.execute(
            dialect_insert(session, DetectorState.__table__).on_conflict_do_nothing(),
            [
                {
                    "topic_id": topic_id,
                    "detector": COORDINATION,
                    "state": {},
                    "last_bucket": None,
                    "stale": False,
                }
            ],
        )
        row = session.scalars(stmt).one()
    detector = CoordinationDetector()
    if row.state:
        try:
            detector = CoordinationDetector.from_state(row.state)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning(
                "topic %s: stored coordination state (version %s) cannot be restored (%s); started afresh",
                topic_id,
                row.state.get("version"),
                exc,
            )
    last = detector.last_t
    moment = now if last is None or now > last else last + timedelta(microseconds=1)
    posts = _cluster_posts(session, topic_id, clusters, moment - 2 * detector.params.window)
    found = detector.update(moment, posts)
    state = detector.state_dict()
    state["state"]["clusters"] = [dict(c, posts=[]) for c in state["state"]["clusters"] if c["reported"]]
    row.state, row.last_bucket = state, bucket_start(moment)
    return found


def _cluster_posts(
    session: Session, topic_id: int, clusters: Collection[int], after: datetime, limit: int = 20_000
) -> list[PostSignal]:
    """The topic's posts in these near-duplicate clusters published after `after`, oldest first."""
    if not clusters:
        return []
    ids = sorted(clusters)
    head = func.coalesce(Post.cluster_id, Post.id)
    stmt = (
        select(head, Post.author, Post.source_id, Post.published_at, Post.author_followers)
        .join(PostTopic, PostTopic.post_id == Post.id)
        .where(
            PostTopic.topic_id == topic_id,
            PostTopic.published_at > after,
            or_(Post.cluster_id.in_(ids), Post.id.in_(ids)),
        )
        .order_by(Post.published_at)
        .limit(limit)
    )
    return [
        PostSignal(
            cluster_id=int(cluster),
            author=author or "",
            source=str(source),
            created_at=published,
            followers=followers,  # the follower count where the source gave one (low-follower evidence)
        )
        for cluster, author, source, published, followers in session.execute(stmt)
    ]


def arrival_delay(session: Session, topic_id: int, bucket: datetime, limit: int = 1000) -> timedelta:
    """How late a bucket's posts typically arrived: the median of stored time minus publication time."""
    stmt = (
        select(Post.collected_at, Post.published_at)
        .join(PostTopic, PostTopic.post_id == Post.id)
        .where(
            PostTopic.topic_id == topic_id,
            PostTopic.published_at >= bucket,
            PostTopic.published_at < bucket + BUCKET,
        )
        .limit(limit)
    )
    delays = sorted(collected - published for collected, published in session.execute(stmt))
    return delays[len(delays) // 2] if delays else timedelta(0)


def peek(live: Mapping[str, Any], topic_id: int, session: Session, now: datetime) -> dict[str, Any]:
    """Judge the present: a sliding 5-minute window ending now, without changing saved state."""
    current = bucket_start(now)
    counts = load_counts(session, topic_id, current - BUCKET, current + BUCKET)
    elapsed = (now - current) / BUCKET
    window = counts.get(current, Counts()).blend(
        counts.get(current - BUCKET, Counts()), max(0.0, 1.0 - elapsed)
    )
    decisions = {}
    for spec in SPECS:
        probe = spec.restore(live[spec.name].state_dict())
        decisions[spec.name] = spec.feed(probe, current, window)
    decisions["_window"] = window
    return decisions
