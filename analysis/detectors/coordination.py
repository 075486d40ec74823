"""Coordinated-posting evidence: similar posts (same simhash cluster) from many accounts in a short time.

This reports evidence for a person to judge, never a verdict: many accounts can post alike for
innocent reasons (a news headline, a shared petition, a trending quote). For every cluster it keeps
the posts created in the last two windows and looks for any span of `window` holding at least
`min_posts` posts from at least `min_authors` distinct accounts. A cluster is reported once per
episode; the episode closes once the cluster has had no new post for `quiet_period`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Self

from analysis.detectors.decision import check_increasing, parse_timestamp, timestamp_text

STATE_VERSION = 1
ClusterId = str | int


@dataclass(frozen=True)
class PostSignal:
    """What the coordination detector needs to know about one post."""

    cluster_id: ClusterId  # near-duplicate (simhash) cluster of the post text
    author: str
    source: str
    created_at: datetime
    followers: int | None = None  # None when the platform does not say


@dataclass(frozen=True)
class CoordinationEvidence:
    """Similar posts from many accounts in a short time: evidence to review, not an accusation."""

    cluster_id: ClusterId
    posts: int
    distinct_authors: int
    window_seconds: float
    authors_sample: tuple[str, ...]
    sources: tuple[str, ...]
    share_low_follower_authors: float | None  # among authors whose follower count is known
    first_seen: datetime
    last_seen: datetime

    @property
    def summary(self) -> str:
        """Neutral one-line description for a reviewer."""
        minutes = (self.last_seen - self.first_seen).total_seconds() / 60.0
        return (
            f"{self.posts} similar posts from {self.distinct_authors} accounts within {minutes:.0f} min "
            "(worth a look; similar wording alone proves nothing)"
        )


@dataclass(frozen=True)
class CoordinationParams:
    """Parameters of `CoordinationDetector`."""

    window: timedelta = timedelta(minutes=10)  # span in which the posts must fall
    min_posts: int = 10  # near-identical posts needed in the span
    min_authors: int = 8  # distinct accounts needed among them
    low_follower_threshold: int = 50  # fewer followers than this counts as a low-follower account
    quiet_period: timedelta = timedelta(hours=1)  # no new post in the cluster this long ends an episode
    sample_size: int = 10  # authors listed in the evidence
    max_posts_per_cluster: int = 2000  # memory bound: newest posts kept per cluster
    max_clusters: int = 10000  # memory bound: most recently active clusters kept

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (durations in seconds)."""
        data = asdict(self)
        data["window"] = self.window.total_seconds()
        data["quiet_period"] = self.quiet_period.total_seconds()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CoordinationParams:
        """Inverse of `to_dict`."""
        values = dict(data)
        for key in ("window", "quiet_period"):
            if key in values:
                values[key] = timedelta(seconds=values[key])
        return cls(**values)


@dataclass
class _ClusterState:
    """Recent posts of one cluster, oldest first, and whether it was already reported."""

    posts: list[PostSignal] = field(default_factory=list)
    reported: bool = False
    last_post_at: datetime | None = None


class CoordinationDetector:
    """Sliding-window detector of many near-duplicate posts from many accounts."""

    def __init__(self, params: CoordinationParams | None = None) -> None:
        self.params = params if params is not None else CoordinationParams()
        self._clusters: dict[ClusterId, _ClusterState] = {}
        self._last_t: datetime | None = None

    @property
    def last_t(self) -> datetime | None:
        """The moment of the last `update` (the next one must come strictly after it)."""
        return self._last_t

    def update(self, t: datetime, posts: Sequence[PostSignal]) -> list[CoordinationEvidence]:
        """Add the posts that arrived by `t`; return evidence for clusters newly crossing the thresholds."""
        check_increasing(self._last_t, t)
        self._last_t = t
        horizon = t - 2 * self.params.window
        self._forget(t, horizon)
        touched: set[ClusterId] = set()
        for post in posts:
            if post.created_at > horizon:
                self._add(post)
                touched.add(post.cluster_id)
        self._bound(t)
        found = []
        for cluster_id in sorted(touched, key=str):
            cluster = self._clusters.get(cluster_id)
            if cluster is None or cluster.reported:
                continue
            evidence = self._evidence(cluster_id, cluster.posts)
            if evidence is not None:
                cluster.reported = True
                found.append(evidence)
        return found

    def _add(self, post: PostSignal) -> None:
        """Insert a post in its cluster, keeping creation order and the per-cluster bound."""
        cluster = self._clusters.setdefault(post.cluster_id, _ClusterState())
        cluster.posts.append(post)
        if len(cluster.posts) > 1 and cluster.posts[-2].created_at > post.created_at:
            cluster.posts.sort(key=lambda p: p.created_at)
        del cluster.posts[: -self.params.max_posts_per_cluster]
        if cluster.last_post_at is None or post.created_at > cluster.last_post_at:
            cluster.last_post_at = post.created_at

    def _forget(self, t: datetime, horizon: datetime) -> None:
        """Drop posts older than the horizon and close the episodes of clusters gone quiet."""
        for cluster_id in list(self._clusters):
            cluster = self._clusters[cluster_id]
            cluster.posts = [p for p in cluster.posts if p.created_at > horizon]
            quiet = cluster.last_post_at is None or t - cluster.last_post_at >= self.params.quiet_period
            if quiet:
                cluster.reported = False
            if not cluster.posts and not cluster.reported:
                del self._clusters[cluster_id]

    def _bound(self, t: datetime) -> None:
        """Keep only the `max_clusters` most recently active clusters."""
        if len(self._clusters) > self.params.max_clusters:
            by_activity = sorted(self._clusters, key=lambda c: self._clusters[c].last_post_at or t)
            for cluster_id in by_activity[: len(self._clusters) - self.params.max_clusters]:
                del self._clusters[cluster_id]

    def _evidence(self, cluster_id: ClusterId, posts: list[PostSignal]) -> CoordinationEvidence | None:
        """Find the span of `window` with the most distinct authors that meets both thresholds."""
        p = self.params
        authors: Counter[str] = Counter()
        best: tuple[int, int, int] | None = None  # (distinct authors, left, right)
        left = 0
        for right, post in enumerate(posts):
            authors[post.author] += 1
            while post.created_at - posts[left].created_at > p.window:
                authors[posts[left].author] -= 1
                if authors[posts[left].author] == 0:
                    del authors[posts[left].author]
                left += 1
            qualifies = right - left + 1 >= p.min_posts and len(authors) >= p.min_authors
            if qualifies and (best is None or len(authors) > best[0]):
                best = (len(authors), left, right)
        return None if best is None else self._describe(cluster_id, posts[best[1] : best[2] + 1])

    def _describe(self, cluster_id: ClusterId, span: list[PostSignal]) -> CoordinationEvidence:
        """Summarise the qualifying posts as evidence."""
        first_post_by_author = {p.author: p for p in reversed(span)}
        known = [p.followers for p in first_post_by_author.values() if p.followers is not None]
        low = sum(1 for f in known if f < self.params.low_follower_threshold)
        return CoordinationEvidence(
            cluster_id=cluster_id,
            posts=len(span),
            distinct_authors=len(first_post_by_author),
            window_seconds=self.params.window.total_seconds(),
            authors_sample=tuple(sorted(first_post_by_author)[: self.params.sample_size]),
            sources=tuple(sorted({p.source for p in span})),
            share_low_follower_authors=low / len(known) if known else None,
            first_seen=span[0].created_at,
            last_seen=span[-1].created_at,
        )

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable snapshot (bounded by the window, max_posts_per_cluster and max_clusters)."""
        clusters = [
            {
                "cluster_id": cid,
                "reported": c.reported,
                "last_post_at": timestamp_text(c.last_post_at),
                "posts": [[p.author, p.source, timestamp_text(p.created_at), p.followers] for p in c.posts],
            }
            for cid, c in self._clusters.items()
        ]
        return {
            "version": STATE_VERSION,
            "kind": "coordination",
            "params": self.params.to_dict(),
            "state": {"last_t": timestamp_text(self._last_t), "clusters": clusters},
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Self:
        """Rebuild a detector from `state_dict()` output."""
        if data.get("version") != STATE_VERSION or data.get("kind") != "coordination":
            raise ValueError(f"not a coordination detector state of version {STATE_VERSION}")
        detector = cls(CoordinationParams.from_dict(data["params"]))
        detector._last_t = parse_timestamp(data["state"]["last_t"])
        for item in data["state"]["clusters"]:
            cid = item["cluster_id"]
            posts = [PostSignal(cid, a, s, datetime.fromisoformat(c), f) for a, s, c, f in item["posts"]]
            last_post_at = parse_timestamp(item["last_post_at"])
            detector._clusters[cid] = _ClusterState(posts, item["reported"], last_post_at)
        return detector
