"""Idempotent storage of a batch of posts: dedupe, analyse what is new, insert, tag topics.

One call is one part of the caller's transaction; nothing here commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from app.core.bulk import in_values, insert_ignore, is_postgresql
from app.posts import clusters, search_index
from app.posts.admission import SENT_TIME_KEY
from app.posts.models import Post, PostTopic
from collectors.base import RawPost

if TYPE_CHECKING:
    from app.posts.analyzer import PostAnalyzer

MAX_KEY = 300
_CHUNK = 500


def dedup_key(raw: RawPost) -> str:
    """Identity of a post within its source: external id, then link, then a content hash."""
    if raw.external_id and raw.external_id.strip():
        key = "id:" + raw.external_id.strip()
    elif raw.url and raw.url.strip():
        key = "url:" + raw.url.strip()
    else:
        published = raw.extra.get(SENT_TIME_KEY) or (raw.published_at.isoformat() if raw.published_at else "")
        digest = hashlib.sha1(f"{raw.title or ''}\x1f{published}\x1f{raw.text}".encode()).hexdigest()
        return "hash:" + digest
    if len(key) > MAX_KEY:
        key = key[:2] + "#" + hashlib.sha1(key.encode()).hexdigest()
    return key


@dataclass
class StoredPost:
    """What later stages (rollups, detectors) need to know about a newly stored post."""

    id: int
    published_at: datetime
    sentiment: str | None
    author: str | None
    source_id: int
    platform: str | None
    engagement_total: int
    cluster_id: int | None
    topic_ids: list[int]
    keywords: list[str]
    text: str


@dataclass
class IngestResult:
    """Counts of one batch plus the newly stored posts."""

    new: int = 0
    duplicates: int = 0
    stored: list[StoredPost] = field(default_factory=list)


def _existing_keys(session: Session, source_id: int, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        stmt = select(Post.dedup_key).where(
            Post.source_id == source_id, in_values(session, Post.__table__.c.dedup_key, chunk)
        )
        found.update(session.scalars(stmt))
    return found


def post_ids(session: Session, source_id: int, keys: Sequence[str]) -> dict[str, int]:
    """The stored posts' ids by dedup key, for these keys of one source."""
    found: dict[str, int] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        stmt = select(Post.dedup_key, Post.id).where(
            Post.source_id == source_id, in_values(session, Post.__table__.c.dedup_key, chunk)
        )
        found.update({key: post_id for key, post_id in session.execute(stmt)})
    return found


def _fresh(raws: Sequence[RawPost], existing: set[str]) -> tuple[list[tuple[str, RawPost]], int]:
    seen: set[str] = set()
    fresh: list[tuple[str, RawPost]] = []
    duplicates = 0
    for raw in raws:
        key = dedup_key(raw)
        if key in existing or key in seen:
            duplicates += 1
            continue
        seen.add(key)
        fresh.append((key, raw))
    return fresh, duplicates


def unseen(
    session: Session, source_id: int, raws: Sequence[RawPost]
) -> tuple[list[tuple[str, RawPost]], int]:
    """The posts of a batch not stored yet for this source (with their keys), and how many are not."""
    keys = [dedup_key(raw) for raw in raws]
    return _fresh(raws, _existing_keys(session, source_id, keys))


def ingest_posts(
    *, session: Session, source_id: int, raws: Sequence[RawPost], analyzer: PostAnalyzer, now: datetime
) -> IngestResult:
    """Store the posts of one batch that are not stored yet; analysis runs only on new posts."""
    fresh, duplicates = unseen(session, source_id, raws)
    result = IngestResult(duplicates=duplicates)
    if not fresh:
        return result
    analysed = analyzer.analyze_many([raw for _, raw in fresh])
    rows = [
        analyzer.post_row(raw, analysis, source_id=source_id, dedup_key=key, now=now)
        for (key, raw), analysis in zip(fresh, analysed, strict=True)
    ]
    search_index.add_terms(session, rows)
    inserted = {
        row.dedup_key: row.id for row in insert_ignore(session, Post.__table__, rows, ("id", "dedup_key"))
    }
    result.duplicates += len(rows) - len(inserted)
    result.new = len(inserted)
    new_posts = [
        (inserted[row["dedup_key"]], row, analysis)
        for row, analysis in zip(rows, analysed, strict=True)
        if row["dedup_key"] in inserted
    ]
    heads = clusters.assign(session, [(post_id, analysis.simhash) for post_id, _, analysis in new_posts])
    for post_id, row, analysis in new_posts:
        row["cluster_id"] = heads.get(post_id)
        result.stored.append(analyzer.stored_post(post_id, row, analysis))
    _set_clusters(session, [{"pid": post_id, "cid": head} for post_id, head in heads.items()])
    _tag_topics(session, result.stored)
    return result


def stored_posts(session: Session, post_ids: Sequence[int]) -> list[StoredPost]:
    """Rebuild what later stages need about posts stored by an earlier transaction (id order).

    A queued batch whose worker died between storing its posts and applying them to rollups is
    finished from here; the topics are the ones tagged when the posts were stored.
    """
    topic_ids: dict[int, list[int]] = {post_id: [] for post_id in post_ids}
    posts: list[Post] = []
    for start in range(0, len(post_ids), _CHUNK):
        chunk = list(post_ids[start : start + _CHUNK])
        posts.extend(session.scalars(select(Post).where(Post.id.in_(chunk))))
        links = select(PostTopic.post_id, PostTopic.topic_id).where(PostTopic.post_id.in_(chunk))
        for post_id, topic_id in session.execute(links.order_by(PostTopic.topic_id)):
            topic_ids[post_id].append(topic_id)
    return [
        StoredPost(
            id=post.id,
            published_at=post.published_at,
            sentiment=post.sentiment,
            author=post.author,
            source_id=post.source_id,
            platform=post.platform,
            engagement_total=post.engagement_total,
            cluster_id=post.cluster_id,
            topic_ids=topic_ids[post.id],
            keywords=list(post.keywords or []),
            text=post.text,
        )
        for post in sorted(posts, key=lambda post: post.id)
    ]


def _tag_topics(session: Session, stored: Sequence[StoredPost]) -> None:
    rows = [
        {
            "topic_id": topic_id,
            "post_id": post.id,
            "published_at": post.published_at,
            "sentiment": post.sentiment,
        }
        for post in stored
        for topic_id in post.topic_ids
    ]
    insert_ignore(session, PostTopic.__table__, rows)


def _set_clusters(session: Session, params: list[dict[str, int]]) -> None:
    """Store cluster heads; on PostgreSQL one statement with two arrays (it runs under the cluster lock)."""
    if not params:
        return
    table: Any = Post.__table__
    if is_postgresql(session):
        session.execute(
            text(
                "UPDATE posts SET cluster_id = heads.cid FROM (SELECT unnest(CAST(:pids AS BIGINT[])) "
                "AS pid, unnest(CAST(:cids AS BIGINT[])) AS cid) AS heads WHERE posts.id = heads.pid"
            ),
            {"pids": [p["pid"] for p in params], "cids": [p["cid"] for p in params]},
        )
        return
    stmt = update(table).where(table.c.id == bindparam("pid")).values(cluster_id=bindparam("cid"))
    session.connection().execute(stmt, params)
