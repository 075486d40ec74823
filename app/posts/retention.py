"""Retention: raw posts older than the configured number of days are pruned in small batches.

Rollups (5-minute, hourly and daily, with the hourly and daily distinct members), incidents, alerts and
cases are kept, so trends, reports and the case library outlive raw posts. The 5-minute member rows of
the pruned period go with the posts (`app.stats.rollups.prune_members`, run by the same job): nothing
reads them once their buckets are history (a rebuild after a rule change recomputes from stored posts).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, select

from app.core.db import Database
from app.posts.models import Post, PostTopic

log = logging.getLogger(__name__)


def prune(db: Database, *, older_than: datetime, batch: int = 2000, max_batches: int = 500) -> int:
    """Delete posts published before `older_than`, `batch` rows per transaction; returns the count."""
    removed = 0
    for _ in range(max_batches):
        with db.session() as session:
            ids = list(session.scalars(select(Post.id).where(Post.published_at < older_than).limit(batch)))
            if not ids:
                break
            session.execute(delete(PostTopic).where(PostTopic.post_id.in_(ids)))
            session.execute(delete(Post).where(Post.id.in_(ids)))
        removed += len(ids)
    if removed:
        log.info("retention pruned %d posts older than %s", removed, older_than.isoformat())
    return removed
