"""Analysts' sentiment corrections (人工校正): record them, apply them everywhere, measure the model.

A correction changes the post's stored label and its topic tags' copy, and runs the relabel hooks the
caller passes (wired in `app/runtime/container.py`: every rollup bucket at every grain that counted the post,
exactly one sentiment counter down and the other up; then the topics' detectors, marked stale from
that bucket so they replay with the corrected counts). Trends, reports, exports
and detectors therefore use the analyst's label from then on. The verdict is kept in
`sentiment_corrections` (who, when, the label before and after, the model's label, the text) and in
the audit log. Services never commit: the caller owns the transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from analysis.sentiment.labels import SentimentLabel
from app.audit import service as audit
from app.core.errors import NotFound
from app.posts.models import Post, PostTopic, SentimentCorrection
from app.sources.models import Source

RelabelHook = Callable[[Session, Sequence[int], datetime, str | None, str], object]
"""(session, topic ids, published_at, previous label, new label): a post's label changed."""


def model_text(post: Post) -> str:
    """The text a post's sentiment was judged on, as kept for retraining: title and text."""
    title = (post.title or "").strip()
    text = post.text or ""
    return f"{title}\n{text}" if title and not text.startswith(title) else text


def correct(
    *,
    session: Session,
    post_id: int,
    label: SentimentLabel,
    actor: str,
    now: datetime,
    hooks: Sequence[RelabelHook],
) -> SentimentCorrection:
    """Record an analyst's label for a post and apply it to the post and its tags, and through `hooks`
    to its rollups and detectors (the first hook, the rollups', takes the topics' locks)."""
    post = session.get(Post, post_id, with_for_update=True)
    if post is None:
        raise NotFound(f"post {post_id} not found")
    topic_ids = sorted(session.scalars(select(PostTopic.topic_id).where(PostTopic.post_id == post.id)))
    previous = post.sentiment
    model_label = post.sentiment_model or previous
    if label != previous:
        for hook in hooks:  # the rollups' first: it locks the topics before the tags change
            hook(session, topic_ids, post.published_at, previous, label.value)
        post.sentiment = label.value
        post.sentiment_model = model_label
        session.execute(update(PostTopic).where(PostTopic.post_id == post.id).values(sentiment=label.value))
    row = SentimentCorrection(
        post_id=post.id,
        source_id=post.source_id,
        text=model_text(post),
        model_label=model_label,
        previous_label=previous,
        label=label.value,
        actor=actor,
        corrected_at=now,
    )
    session.add(row)
    audit.record(
        session=session,
        actor=actor,
        action="correct_sentiment" if label != model_label else "confirm_sentiment",
        entity="post",
        entity_id=post.id,
        details={"from": previous, "to": label.value, "model": model_label, "topics": topic_ids},
    )
    return row


@dataclass(frozen=True)
class Verdict:
    """The latest analyst verdict on one post."""

    post_id: int
    source_id: int | None
    model_label: str | None
    label: str


def latest_verdicts(session: Session, *, since: datetime, topic_id: int | None = None) -> list[Verdict]:
    """Each reviewed post's latest verdict given since `since` (optionally only the topic's posts)."""
    latest = (
        select(func.max(SentimentCorrection.id))
        .where(SentimentCorrection.corrected_at >= since)
        .group_by(SentimentCorrection.post_id)
    )
    stmt = select(
        SentimentCorrection.post_id,
        SentimentCorrection.source_id,
        SentimentCorrection.model_label,
        SentimentCorrection.label,
    ).where(SentimentCorrection.id.in_(latest))
    if topic_id is not None:
        tagged = select(PostTopic.post_id).where(PostTopic.topic_id == topic_id)
        stmt = stmt.where(SentimentCorrection.post_id.in_(tagged))
    return [Verdict(*row) for row in session.execute(stmt.order_by(SentimentCorrection.post_id))]


@dataclass
class Agreement:
    """How often analysts agreed with the model over a set of reviewed posts."""

    reviewed: int = 0
    corrected: int = 0

    @property
    def disagreement_rate(self) -> float:
        """Share of reviewed posts whose label the analysts changed (0 when none were reviewed)."""
        return round(self.corrected / self.reviewed, 4) if self.reviewed else 0.0


def quality(
    session: Session, *, topic_id: int, since: datetime
) -> tuple[Agreement, dict[tuple[str, str], int], list[tuple[int | None, str, Agreement]]]:
    """Agreement over the topic's reviewed posts, the model→analyst label counts, and per source."""
    verdicts = latest_verdicts(session, since=since, topic_id=topic_id)
    overall = Agreement()
    confusion: Counter[tuple[str, str]] = Counter()
    per_source: dict[int | None, Agreement] = {}
    for verdict in verdicts:
        changed = verdict.label != verdict.model_label
        for bucket in (overall, per_source.setdefault(verdict.source_id, Agreement())):
            bucket.reviewed += 1
            bucket.corrected += changed
        confusion[(verdict.model_label or "unknown", verdict.label)] += 1
    known = [source_id for source_id in per_source if source_id]
    names = {
        row.id: row.name
        for row in session.execute(select(Source.id, Source.name).where(Source.id.in_(known)))
    }
    sources = sorted(
        (
            (source_id, names.get(source_id, "（已删除）") if source_id else "（已删除）", agreement)
            for source_id, agreement in per_source.items()
        ),
        key=lambda item: (-item[2].reviewed, item[1]),
    )
    return overall, dict(confusion), sources


def training_rows(session: Session) -> Iterator[dict[str, str]]:
    """Each corrected or confirmed post's latest verdict as a labelled row {text, label}."""
    latest = select(func.max(SentimentCorrection.id)).group_by(SentimentCorrection.post_id)
    stmt = (
        select(SentimentCorrection.text, SentimentCorrection.label)
        .where(SentimentCorrection.id.in_(latest))
        .order_by(SentimentCorrection.id)
    )
    for text, label in session.execute(stmt):
        if text.strip():
            yield {"text": text, "label": label}
