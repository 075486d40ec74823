"""Posts, the monitored topics (监测方案) whose rules tag them, and their topic matches.

The topic row lives here, below everything that reads it (analysis tags posts with it; rollups,
alerts, channels and reports read it); managing topics and every `/topics/{id}/…` view is `app/topics/`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class Topic(Base):
    """A monitored topic: a rule (string or structured form) and alerting settings."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    rule: Mapped[Any] = mapped_column(JSONType)
    rule_version: Mapped[int] = mapped_column(Integer, default=1)
    retagged_version: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    critical_terms: Mapped[list[str]] = mapped_column(JSONType, default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Post(Base):
    """A collected or pushed post: raw content kept, analysis results beside it."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("source_id", "dedup_key"),
        Index("ix_posts_source_published", "source_id", "published_at"),
        *(Index(f"ix_posts_simhash_band{n}", f"simhash_band{n}", "id") for n in range(4)),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    dedup_key: Mapped[str] = mapped_column(String(300))
    external_id: Mapped[str | None] = mapped_column(String(512))
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(255))
    # The author's platform account id, follower count and verified (认证) status where the source
    # gives them (NULL: unknown); incidents name the accounts that carried a story by these.
    author_id: Mapped[str | None] = mapped_column(String(255))
    author_followers: Mapped[int | None] = mapped_column(BigInteger)
    author_verified: Mapped[bool | None] = mapped_column(Boolean)
    platform: Mapped[str | None] = mapped_column(String(32))
    lang: Mapped[str | None] = mapped_column(String(16))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    engagement: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    engagement_total: Mapped[int] = mapped_column(BigInteger, default=0)
    sentiment: Mapped[str | None] = mapped_column(String(10))  # the model's label, or an analyst's correction
    sentiment_score: Mapped[float | None] = mapped_column(Float)  # the model's polarity score
    # The model's label once an analyst has corrected `sentiment` (NULL: never corrected).
    sentiment_model: Mapped[str | None] = mapped_column(String(10))
    keywords: Mapped[list[str]] = mapped_column(JSONType, default=list)
    simhash: Mapped[int | None] = mapped_column(BigInteger)
    # The SimHash's four 16-bit bands, indexed with the id: near-duplicate candidates by band.
    simhash_band0: Mapped[int | None] = mapped_column(Integer)
    simhash_band1: Mapped[int | None] = mapped_column(Integer)
    simhash_band2: Mapped[int | None] = mapped_column(Integer)
    simhash_band3: Mapped[int | None] = mapped_column(Integer)
    cluster_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # The search index's terms (app/posts/search_index.py): a tsvector with a GIN index on PostgreSQL,
    # the FTS5 table `post_search`'s external content on SQLite. Not loaded with the post.
    search_terms: Mapped[str | None] = mapped_column(
        Text().with_variant(TSVECTOR(), "postgresql"), deferred=True
    )


SIMHASH_BAND_BITS = 16
SIMHASH_BANDS = 4  # near-duplicates within 3 bits share at least one band (app/posts/clusters.py)


def simhash_bands(value: int) -> list[int]:
    """The four 16-bit bands of an unsigned 64-bit SimHash, lowest first."""
    mask = (1 << SIMHASH_BAND_BITS) - 1
    return [(value >> (n * SIMHASH_BAND_BITS)) & mask for n in range(SIMHASH_BANDS)]


class PostTopic(Base):
    """A post matched to a topic; published_at and sentiment are copied for fast range queries."""

    __tablename__ = "post_topics"
    __table_args__ = (Index("ix_post_topics_topic_published", "topic_id", "published_at"),)

    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True)
    post_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sentiment: Mapped[str | None] = mapped_column(String(10))


class SentimentCorrection(Base):
    """An analyst's verdict on a post's sentiment (人工校正): who, when, the label before and after.

    A verdict equal to the model's label is a confirmation. Rows outlive the post (retention prunes
    posts, not corrections): they keep the text the model saw, for `yuqing train-sentiment
    --corrections`, and the post's source, for the sentiment-quality figures.
    """

    __tablename__ = "sentiment_corrections"
    __table_args__ = (Index("ix_sentiment_corrections_post", "post_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    post_id: Mapped[int] = mapped_column(BigInteger)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    model_label: Mapped[str | None] = mapped_column(String(10))
    previous_label: Mapped[str | None] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str] = mapped_column(String(100))
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class IngestBatch(Base):
    """A pushed batch an API process accepted and queued; a worker analyses and stores it.

    `posts` holds the validated posts (`RawPost.to_dict`). Workers claim a batch with a lease;
    a batch that keeps failing becomes `failed` after `ingest_max_attempts` claims and is kept.
    """

    __tablename__ = "ingest_batches"
    __table_args__ = (Index("ix_ingest_batches_status_available", "status", "available_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    posts: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    size: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set in the transaction that stored the posts; rollups and detectors run in a second one
    # that deletes the batch (app/posts/queue.py), so a worker dying between them loses nothing.
    stored_post_ids: Mapped[list[int] | None] = mapped_column(JSONType)
