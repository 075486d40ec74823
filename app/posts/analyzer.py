"""The app's view of analysis/: one analyser per process, holding the tokenizer, the sentiment
model and the compiled topic rules (near-duplicate clusters live in the database: app/posts/clusters.py).

The text facts of a post (tokens, sentiment, keywords, SimHash) come from `analysis.analyze_posts`
with the project tokenizer alone: they never depend on which topics a deployment monitors, so the
service and `yuqing analyze` give the same answer for the same post. Topic rules match the
normalised text itself (`analysis.rules`), not the tokens.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis.analyze import analyze_posts
from analysis.rules import RuleSet, parse_any
from analysis.sentiment import SentimentModel
from analysis.simhash import to_signed
from analysis.tokenize import Tokenizer
from app.posts.ingest import StoredPost
from app.posts.models import Topic, simhash_bands
from collectors.base import RawPost

log = logging.getLogger(__name__)


@dataclass
class PostAnalysis:
    """Analysis of one post as the pipeline stores it."""

    text: str
    sentiment: str
    sentiment_score: float
    keywords: list[str]
    simhash: int
    topic_ids: list[int]


class PostAnalyzer:
    """Analyses posts for ingest and matches them to topics; safe to share across threads."""

    def __init__(self, model: SentimentModel | None = None, tokenizer: Tokenizer | None = None) -> None:
        self.model = model or SentimentModel.load()
        self.tokenizer = tokenizer or Tokenizer()
        self._topics: RuleSet[int] = RuleSet()
        self._topics_version: tuple[Any, ...] | None = None
        self._lock = threading.Lock()

    def refresh_topics(self, session: Session) -> None:
        """Reload compiled topic rules when topics changed since the last call."""
        version = tuple(session.execute(select(func.count(Topic.id), func.max(Topic.updated_at))).one())
        if version == self._topics_version:
            return
        compiled: RuleSet[int] = RuleSet()
        for topic in session.scalars(select(Topic).where(Topic.enabled.is_(True)).order_by(Topic.id)):
            try:
                rule = parse_any(topic.rule)
            except ValueError:  # a stored rule that no longer parses must not stop ingest
                log.warning("topic %s has a rule that does not parse; skipped", topic.id)
                continue
            compiled.add(topic.id, rule)
        with self._lock:
            self._topics = compiled
            self._topics_version = version

    def match(self, text: str) -> list[int]:
        """Ids of the topics whose rule matches the normalised text."""
        return self._topics.match(text)

    def analyze_many(self, raws: Sequence[RawPost]) -> list[PostAnalysis]:
        """The one analysis (``analysis.analyze.analyze_posts``) of a batch, plus topic matching."""
        analysed = analyze_posts(
            [(raw.title, raw.text or "") for raw in raws], tokenizer=self.tokenizer, model=self.model
        )
        return [
            PostAnalysis(
                text=result.normalized.text,
                sentiment=str(result.sentiment),
                sentiment_score=float(result.sentiment_score or 0.0),
                keywords=result.keywords,
                simhash=result.simhash,
                topic_ids=self.match(result.normalized.text),
            )
            for result in analysed
        ]

    def post_row(
        self, raw: RawPost, analysis: PostAnalysis, *, source_id: int, dedup_key: str, now: datetime
    ) -> dict[str, Any]:
        """The insert row for a new post."""
        published = raw.published_at or now  # checked and adjusted on the way in: app/posts/admission.py
        engagement = {k: int(v) for k, v in (raw.engagement or {}).items() if isinstance(v, int | float)}
        row = {
            "source_id": source_id,
            "dedup_key": dedup_key,
            "external_id": raw.external_id,
            "url": raw.url,
            "title": raw.title,
            "raw": raw.raw or raw.text,
            "text": analysis.text,
            "author": (raw.author or None) and raw.author[:255],
            "author_id": (raw.author_id or None) and raw.author_id[:255],
            "author_followers": raw.author_followers,
            "author_verified": raw.author_verified,
            "platform": raw.platform,
            "lang": raw.lang,
            "published_at": published,
            "collected_at": now,
            "engagement": engagement,
            "engagement_total": sum(engagement.values()),
            "sentiment": analysis.sentiment,
            "sentiment_score": analysis.sentiment_score,
            "keywords": analysis.keywords,
            "simhash": to_signed(analysis.simhash),
            **{f"simhash_band{n}": part for n, part in enumerate(simhash_bands(analysis.simhash))},
        }
        return {key: _no_nul(value) for key, value in row.items()}

    def stored_post(self, post_id: int, row: dict[str, Any], analysis: PostAnalysis) -> StoredPost:
        """The facts later stages need about a stored post."""
        return StoredPost(
            id=post_id,
            published_at=row["published_at"],
            sentiment=row["sentiment"],
            author=row["author"],
            source_id=row["source_id"],
            platform=row["platform"],
            engagement_total=row["engagement_total"],
            cluster_id=row.get("cluster_id"),
            topic_ids=analysis.topic_ids,
            keywords=analysis.keywords,
            text=analysis.text,
        )


def _no_nul(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL characters; feeds sometimes carry them."""
    return value.replace("\x00", "") if isinstance(value, str) else value
