"""The alert engine: detectors on the present window, graded alerts and
incidents, auto-resolve — all inside the caller's transaction (so notices land with the change)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from analysis.grading import GradePolicy, GradingInputs, critical_mentions, grade, headline
from app.alerts import detection, incidents
from app.alerts.models import Alert
from app.core import metrics
from app.posts.ingest import StoredPost
from app.posts.models import Post, PostTopic, Topic
from app.sources import service as sources
from app.stats import queries
from app.stats.rollups import BUCKET, bucket_start

log = logging.getLogger(__name__)
CONTEXT_WINDOW = timedelta(minutes=60)
ELEVATED_RATIO = 1.5
FULL_HISTORY = timedelta(days=7)  # a baseline on less history (a new topic) says so in the alert
PRIORITY = ("negative_volume", "volume", "negative_share")  # which headline leads when several fire
NoticeWriter = incidents.NoticeWriter


@dataclass
class EngineConfig:
    """Engine settings: critical terms, auto-resolve delay and grading thresholds."""

    critical_terms: Sequence[str] = ()
    quiet_for: timedelta = timedelta(minutes=120)
    lateness: timedelta = timedelta(minutes=60)  # posts published this long ago can still alert
    policy: GradePolicy = field(default_factory=GradePolicy)


class AlertEngine:
    """Turns stored posts (already in the rollups) into detector decisions, alerts and incidents."""

    def __init__(self, config: EngineConfig, write_notice: NoticeWriter | None = None) -> None:
        self.config = config
        self.write_notice: NoticeWriter = write_notice or (lambda *args: None)

    def on_stored(self, session: Session, stored: Sequence[StoredPost], now: datetime) -> None:
        """Pipeline hook, after the rollups' (`app.stats.rollups.on_stored`, which takes the topics'
        locks): mark replays for late posts, judge topics with posts inside the lateness allowance
        (event time: a burst that arrives late still alerts)."""
        oldest: dict[int, datetime] = {}
        fresh: dict[int, list[StoredPost]] = defaultdict(list)
        for post in stored:
            for topic_id in post.topic_ids:
                start = bucket_start(post.published_at)
                oldest[topic_id] = min(oldest.get(topic_id, start), start)
                if post.published_at >= now - max(self.config.lateness, 2 * BUCKET):
                    fresh[topic_id].append(post)
        current = bucket_start(now)
        # Topics in id order, each finished before the next, so concurrent transactions (pushes,
        # collections, the tick) take the row locks of several topics in the same order.
        for topic_id in sorted(oldest):
            if oldest[topic_id] < current:
                detection.mark_stale(session, topic_id, oldest[topic_id])
            if topic_id in fresh:
                self.evaluate(session, topic_id, now, fresh=fresh[topic_id], replay_history=False)

    def evaluate(
        self,
        session: Session,
        topic_id: int,
        now: datetime,
        fresh: Sequence[StoredPost] = (),
        replay_history: bool = True,
    ) -> str | None:
        """Judge one topic now; returns the detector that fired, if any (`replay_history`: see
        `detection.advance`; pushes leave replays caused by posts past the allowance to the tick)."""
        topic = session.get(Topic, topic_id)
        if topic is None or not topic.enabled:
            return None
        advanced = detection.advance(
            session, topic_id, bucket_start(now), self.config.lateness, replay_history=replay_history
        )
        decisions = detection.peek(advanced.live, topic_id, session, now)
        window = decisions.pop("_window")
        fired = [name for name in PRIORITY if decisions[name].alert]
        evidence = self._coordination_evidence(session, topic_id, fresh, now)
        if fired:
            self._raise(session, topic, fired[0], decisions, window, now, evidence)
            return fired[0]
        late = self._late_candidate(session, topic_id, advanced.judged)
        if late is not None:
            detector = next(name for name in PRIORITY if name in late.fired)
            self._raise(
                session,
                topic,
                detector,
                {**decisions, **late.decisions},
                late.counts,
                now,
                evidence,
                late=late,
            )
            return detector
        if evidence is not None:
            self._raise(session, topic, "coordination", decisions, window, now, evidence)
            return "coordination"
        self._track_signal(session, topic_id, decisions, now)
        return None

    def _late_candidate(
        self, session: Session, topic_id: int, judged: Sequence[detection.Judged]
    ) -> detection.Judged | None:
        """The first closed bucket inside the allowance on which a detector alerts and that no alert
        already covers: a burst judged only once its late posts arrived (or once its bucket closed).
        An alert of the bucket detectors within the allowance before it covers it: the live window
        judged that episode already."""
        for item in judged:
            if not item.fired:
                continue
            covered = session.scalar(
                select(func.count(Alert.id)).where(
                    Alert.topic_id == topic_id,
                    Alert.detector.in_(PRIORITY),
                    Alert.bucket_start >= item.bucket - self.config.lateness,
                )
            )
            if not covered:
                return item
        return None

    def _coordination_evidence(
        self, session: Session, topic_id: int, fresh: Sequence[StoredPost], now: datetime
    ) -> Any:
        if not fresh:
            return None
        clusters = {p.cluster_id if p.cluster_id is not None else p.id for p in fresh}
        found = detection.coordination(session, topic_id, now, clusters)
        return found[0] if found else None

    def _track_signal(
        self, session: Session, topic_id: int, decisions: dict[str, Any], now: datetime
    ) -> None:
        incident = incidents.active_incident(session, topic_id)
        if incident is None:
            return
        volume = decisions["volume"]
        if volume.ratio >= ELEVATED_RATIO and volume.observed >= 3:
            incidents.signal(incident, now)

    def _raise(
        self,
        session: Session,
        topic: Topic,
        detector: str,
        decisions: dict[str, Any],
        window: detection.Counts,
        now: datetime,
        evidence: Any,
        late: detection.Judged | None = None,
    ) -> None:
        decision = decisions["negative_volume" if detector == "negative_volume" else "volume"]
        inputs = self._inputs(session, topic, decision, window, now, decisions["negative_share"])
        grading = grade(
            inputs,
            GradePolicy.from_overrides({**vars(self.config.policy), **topic.settings.get("grading", {})}),
        )
        line = headline(  # led by volume or negativity; near-duplicates are evidence within it
            inputs,
            detector,
            similar=evidence.posts if evidence is not None else 0,
            similar_minutes=max(1, int(evidence.window_seconds // 60)) if evidence is not None else 0,
        )
        line += _history_note(decision.history_buckets)
        if late is not None:
            delay = detection.arrival_delay(session, topic.id, late.bucket)
            if delay >= BUCKET:  # judged on its closed bucket, its posts late by that much
                line += f"（数据晚到约 {round(delay / timedelta(minutes=1))} 分钟，按发布时间补判）"
        cluster_ids = [evidence.cluster_id] if evidence is not None else []
        alert, incident = incidents.record_alert(
            session,
            topic=topic,
            detector=detector,
            grading=grading,
            headline=line,
            observed=inputs.observed,
            baseline=inputs.baseline,
            ratio=inputs.ratio,
            score=float(decisions.get(detector, decision).score),
            bucket=late.bucket if late is not None else bucket_start(now),
            now=now,
            cluster_ids=cluster_ids,
            write_notice=self.write_notice,
        )
        if evidence is not None:
            incidents.coordination_event(session, incident, evidence, now)
        metrics.ALERTS.labels(grading.grade).inc()
        log.info(
            "alert topic=%s detector=%s grade=%s incident=%s", topic.id, detector, grading.grade, incident.id
        )

    def _inputs(
        self,
        session: Session,
        topic: Topic,
        decision: Any,
        window: detection.Counts,
        now: datetime,
        share: Any,
    ) -> GradingInputs:
        since = now - CONTEXT_WINDOW
        members = queries.members(session, topic.id, since)
        incident = incidents.active_incident(session, topic.id)
        engagement = queries.total(session, topic.id, bucket_start(since), counter="engagement")
        critical = critical_mentions(
            _recent_texts(session, topic.id, since),
            list(topic.critical_terms or []) or list(self.config.critical_terms),
        )
        baseline = float(decision.baseline or 0.0)
        max_followers, verified_authors = _reach(session, topic.id, since)
        return GradingInputs(
            observed=round(window.total, 1),
            baseline=round(baseline, 2),
            ratio=round(float(decision.ratio or 0.0), 2),
            z=round(float(decision.z or 0.0), 2),
            window_minutes=5,
            negative=int(round(window.negative)),
            negative_share=round(window.negative / window.total, 3) if window.total else 0.0,
            baseline_negative_share=round(float(share.baseline), 3),
            distinct_sources=len(members["s"]),
            distinct_platforms=len(members["p"]) or 1,
            media_sources=sources.count_media(session=session, source_ids=members["s"]),
            authors=len(members["a"]),
            engagement=int(engagement or 0),
            duration_minutes=round((now - incident.opened_at).total_seconds() / 60, 1) if incident else 0.0,
            recurrences=incidents.recurrences(session, topic.id, now) - (1 if incident else 0),
            critical_terms=critical.terms,
            critical_posts=critical.posts,
            scanned_posts=critical.scanned,
            max_followers=max_followers,
            verified_authors=verified_authors,
        )

    def tick(self, session: Session, now: datetime) -> None:
        """Periodic: judge every enabled topic (closes buckets even without new posts), auto-resolve."""
        topic_ids = session.scalars(select(Topic.id).where(Topic.enabled.is_(True)).order_by(Topic.id))
        for topic_id in topic_ids.all():  # in id order, like on_stored
            self.evaluate(session, topic_id, now)
        incidents.auto_resolve(
            session, now=now, quiet_for=self.config.quiet_for, write_notice=self.write_notice
        )


def _history_note(buckets: int) -> str:
    """Says how much history the baseline rests on while it is short of a week (a new topic)."""
    if buckets * BUCKET >= FULL_HISTORY:
        return ""
    return f"（基线仅依据 {max(1, round(buckets * BUCKET / timedelta(hours=1)))} 小时历史）"


def _reach(session: Session, topic_id: int, since: datetime) -> tuple[int | None, int]:
    """The wave's reach where sources gave it: the largest follower count among its authors (None when
    no post carried one) and how many distinct authors are verified (认证)."""
    verified = func.coalesce(Post.author_id, Post.author)
    stmt = (
        select(
            func.max(Post.author_followers),
            func.count(func.distinct(case((Post.author_verified.is_(True), verified)))),
        )
        .join(PostTopic, PostTopic.post_id == Post.id)
        .where(PostTopic.topic_id == topic_id, PostTopic.published_at >= since)
    )
    followers, verified_count = session.execute(stmt).one()
    return (None if followers is None else int(followers)), int(verified_count or 0)


def _recent_texts(session: Session, topic_id: int, since: datetime, limit: int = 300) -> list[str]:
    stmt = (
        select(Post.text)
        .join(PostTopic, PostTopic.post_id == Post.id)
        .where(PostTopic.topic_id == topic_id, PostTopic.published_at >= since)
        .order_by(PostTopic.published_at.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
