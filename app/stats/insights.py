"""What a topic's posts say: window keywords, burst terms and near-duplicate clusters."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from analysis.keywords import BurstTermDetector, DocumentFrequencies, window_keywords
from analysis.rules import RuleError, parse_any
from analysis.textfold import fold_for_match
from app.posts.models import Post, PostTopic, Topic
from app.stats.rollups import BUCKET, bucket_start
from app.stats.schemas import BurstTermRead, ClusterRead, KeywordScore, TopicClusters, TopicKeywords

BACKGROUND_FACTOR = 6
MIN_BACKGROUND = timedelta(days=7)
MAX_BACKGROUND = timedelta(days=30)
MAX_KEYWORD_POSTS = 50_000
SAMPLE_CHARS = 280


def background_start(start: datetime, end: datetime) -> datetime:
    """Start of the longer window that document frequencies and burst baselines learn from."""
    span = min(max((end - start) * BACKGROUND_FACTOR, MIN_BACKGROUND), MAX_BACKGROUND)
    return start - span


def _keyword_rows(
    session: Session, topic_id: int, since: datetime, end: datetime
) -> list[tuple[datetime, list[str]]]:
    """(published_at, keywords) of the topic's newest posts in [since, end), oldest first."""
    stmt = (
        select(PostTopic.published_at, Post.keywords)
        .join(Post, Post.id == PostTopic.post_id)
        .where(PostTopic.topic_id == topic_id, PostTopic.published_at >= since, PostTopic.published_at < end)
        .order_by(PostTopic.published_at.desc(), PostTopic.post_id.desc())
        .limit(MAX_KEYWORD_POSTS)
    )
    rows = [(moment, [str(term) for term in (terms or [])]) for moment, terms in session.execute(stmt)]
    rows.reverse()
    return rows


def _window_scores(
    rows: list[tuple[datetime, list[str]]], start: datetime, k: int, hide: frozenset[str]
) -> list[KeywordScore]:
    """Window keywords; `hide` terms (the topic's own rule terms) are dropped when most posts have them."""
    frequencies = DocumentFrequencies()
    window_docs: list[list[str]] = []
    for moment, terms in rows:
        frequencies.add(terms)
        if moment >= start:
            window_docs.append(terms)
    posts_with = Counter(term for terms in window_docs for term in set(terms))
    obvious = {t for t, n in posts_with.items() if n * 2 > len(window_docs) and fold_for_match(t) in hide}
    scored = window_keywords(window_docs, frequencies, k + len(obvious))
    return [
        KeywordScore(term=term, score=round(score, 4), posts=posts_with[term])
        for term, score in scored
        if term not in obvious
    ][:k]


def burst_terms(
    rows: list[tuple[datetime, list[str]]], end: datetime, recent_buckets: int
) -> list[BurstTermRead]:
    """Run the burst detector causally over 5-minute buckets; keep terms bursting in the last buckets."""
    buckets: dict[datetime, Counter[str]] = defaultdict(Counter)
    documents: Counter[datetime] = Counter()
    for moment, terms in rows:
        key = bucket_start(moment)
        buckets[key].update(set(terms))
        documents[key] += 1
    detector = BurstTermDetector(bucket=BUCKET)
    recent_from = bucket_start(end - timedelta(microseconds=1)) - BUCKET * (recent_buckets - 1)
    best: dict[str, BurstTermRead] = {}
    for key in sorted(buckets):
        for burst in detector.update(key, buckets[key], documents[key]):
            if key < recent_from:
                continue
            found = BurstTermRead(
                term=burst.term,
                count=burst.count,
                baseline=burst.baseline,
                ratio=burst.ratio,
                score=burst.score,
                bucket_start=key,
            )
            if burst.term not in best or found.score > best[burst.term].score:
                best[burst.term] = found
    return sorted(best.values(), key=lambda item: (-item.score, item.term))


def rule_terms(topic: Topic) -> set[str]:
    """The terms of a topic's rule (none when a stored rule no longer parses)."""
    try:
        return parse_any(topic.rule).terms()
    except (RuleError, TypeError, ValueError):
        return set()


def topic_keywords(
    *,
    session: Session,
    topic: Topic,
    start: datetime,
    end: datetime,
    k: int = 20,
    recent_buckets: int = 12,
) -> TopicKeywords:
    """A topic's keywords over [start, end) — the one definition the dashboard, reports and chat
    messages show — and the burst terms of its last `recent_buckets` 5-minute buckets.

    Keywords: (posts of the window whose keywords contain the term) × IDF learned over a longer
    background window, two characters or more, no stop words. Rule terms found in most of the
    window's posts say what the topic is, not what is being said about it, so they are left out of
    the keywords (burst terms keep them).
    """
    hide = frozenset(fold_for_match(term) for term in rule_terms(topic))
    since = background_start(start, end)
    rows = _keyword_rows(session, topic.id, since, end)
    return TopicKeywords(
        topic_id=topic.id,
        start=start,
        end=end,
        background_start=since,
        posts=sum(1 for moment, _ in rows if moment >= start),
        background_posts=len(rows),
        keywords=_window_scores(rows, start, k, hide),
        burst_terms=burst_terms(rows, end, recent_buckets),
    )


def _cluster_groups(
    session: Session, topic_id: int, start: datetime, end: datetime, min_size: int, limit: int
) -> list[Any]:
    head = func.coalesce(Post.cluster_id, Post.id)
    size = func.count(Post.id)
    stmt = (
        select(
            head.label("head"),
            size.label("size"),
            func.count(func.distinct(Post.author)).label("authors"),
            func.count(func.distinct(Post.source_id)).label("sources"),
            func.sum(case((Post.sentiment == "negative", 1), else_=0)).label("negative"),
            func.min(Post.published_at).label("first_seen"),
            func.max(Post.published_at).label("last_seen"),
            func.min(Post.id).label("first_id"),
        )
        .join(PostTopic, and_(PostTopic.post_id == Post.id, PostTopic.topic_id == topic_id))
        .where(PostTopic.published_at >= start, PostTopic.published_at < end)
        .group_by(head)
        .having(size >= min_size)
        .order_by(size.desc(), func.max(Post.published_at).desc(), head.desc())
        .limit(limit)
    )
    return list(session.execute(stmt))


def topic_clusters(
    *, session: Session, topic_id: int, start: datetime, end: datetime, min_size: int = 2, limit: int = 20
) -> TopicClusters:
    """Near-duplicate clusters of the topic's posts in [start, end), largest first, with a sample post."""
    groups = _cluster_groups(session, topic_id, start, end, min_size, limit)
    wanted = {g.head for g in groups} | {g.first_id for g in groups}
    samples = (
        {
            row.id: row
            for row in session.execute(
                select(Post.id, Post.text, Post.title, Post.url).where(Post.id.in_(wanted))
            )
        }
        if wanted
        else {}
    )
    clusters = []
    for group in groups:
        sample = samples.get(group.head) or samples.get(group.first_id)
        text = (sample.text or sample.title or "") if sample else ""
        clusters.append(
            ClusterRead(
                head_id=group.head,
                size=group.size,
                authors=group.authors,
                sources=group.sources,
                negative=int(group.negative or 0),
                first_seen=group.first_seen,
                last_seen=group.last_seen,
                sample_text=text[:SAMPLE_CHARS],
                sample_url=sample.url if sample else None,
            )
        )
    return TopicClusters(topic_id=topic_id, start=start, end=end, clusters=clusters)
