"""Gather a topic's report for a window: trend, sentiment split, top posts and sources, keywords
and the incidents of the period with their handling. Reads rollups for counts, posts for samples."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from analysis.grading import GRADE_LABELS
from app.alerts.models import Incident, IncidentEvent
from app.core.errors import NotFound
from app.posts.models import Post, PostTopic, Topic
from app.reports.periods import Window, window
from app.sources.models import Source
from app.stats import insights, queries, trends
from collectors.health import classify, label

TOP_POSTS = 5
CANDIDATES = 20  # rows read per listed post, so near-duplicates can be skipped
TOP_SOURCES = 8
TOP_KEYWORDS = 15
HIGHLIGHT_KINDS = ("opened", "escalated", "acknowledged", "coordination", "note", "silenced", "resolved")
MAX_HIGHLIGHTS = 10
SENTIMENTS = ("positive", "neutral", "negative")


@dataclass
class Bar:
    """One chart bar: a bucket start (UTC) and its sentiment counts."""

    start: datetime
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    total: int = 0


@dataclass
class PostItem:
    """A post as a report lists it."""

    id: int
    text: str
    author: str | None
    source: str
    published_at: datetime
    engagement: int
    sentiment: str | None
    score: float | None
    url: str | None


@dataclass
class IncidentItem:
    """An incident of the period with its handling."""

    id: int
    title: str
    grade: str
    grade_label: str
    status: str
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    reasons: list[str]
    highlights: list[dict[str, Any]]
    checklist: list[dict[str, Any]]
    resolution: str | None

    @property
    def checklist_done(self) -> int:
        """How many playbook steps are ticked."""
        return sum(1 for item in self.checklist if item.get("done"))


@dataclass
class Report:
    """Everything a 舆情简报 shows for one topic and window."""

    topic_id: int
    topic: str
    window: Window
    generated_at: datetime
    bars: list[Bar]
    totals: dict[str, int]
    previous_total: int
    authors: int
    top_engaged: list[PostItem] = field(default_factory=list)
    top_negative: list[PostItem] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    keywords: list[tuple[str, int]] = field(default_factory=list)
    incidents: list[IncidentItem] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)  # 本时段「微博」数据源中断 35 分钟（被平台风控拦截）

    def share(self, sentiment: str) -> float:
        """Share of a sentiment among all posts of the window (0 when there are none)."""
        total = self.totals["total"]
        return self.totals[sentiment] / total if total else 0.0


def build_report(*, session: Session, topic_id: int, period: str, day: date | None, now: datetime) -> Report:
    """The report of a topic for the day or week (China time) containing `day`."""
    topic = session.get(Topic, topic_id)
    if topic is None:
        raise NotFound(f"topic {topic_id} not found")
    win = window(period, day, now=now)
    bars = _bars(session, topic_id, win)
    totals = {name: sum(getattr(bar, name) for bar in bars) for name in (*SENTIMENTS, "total")}
    previous = queries.total(session, topic_id, win.start - (win.end - win.start), win.start)
    return Report(
        topic_id=topic.id,
        topic=topic.name,
        window=win,
        generated_at=now,
        bars=bars,
        totals=totals,
        previous_total=previous,
        authors=queries.distinct_members(session, topic_id, win.start, win.end, "a"),
        top_engaged=_posts(session, topic_id, win, negative=False),
        top_negative=_posts(session, topic_id, win, negative=True),
        sources=_sources(session, topic_id, win),
        keywords=_keywords(session, topic, win),
        incidents=_incidents(session, topic_id, win),
        gaps=gap_lines(session, topic_id, win.start, min(win.end, now)),
    )


def gap_lines(session: Session, topic_id: int, start: datetime, end: datetime) -> list[str]:
    """Each stretch in which a source of the topic was failing, as one Chinese line with its cause, so
    nobody reads a broken collector as a calm period."""
    lines = []
    for gap in trends.gaps(session, topic_id, start, end):
        until = gap["end"] or end
        minutes = max(1, round((until - gap["start"]).total_seconds() / 60))
        cause = label(classify(gap.get("error")))
        ongoing = "，仍未恢复" if gap["end"] is None else ""
        lines.append(f"本时段「{gap['source']}」数据源中断 {minutes} 分钟（{cause}{ongoing}）")
    return lines


def _bars(session: Session, topic_id: int, win: Window) -> list[Bar]:
    bars = [Bar(start) for start in win.buckets()]
    for row in queries.read(session, topic_id, win.start, win.end):
        bar = bars[int((row.bucket_start - win.start) / win.step)]
        bar.total += row.total
        for name in SENTIMENTS:
            setattr(bar, name, getattr(bar, name) + getattr(row, name))
    return bars


def _in_window(topic_id: int, win: Window) -> Any:
    return (
        select(Post, Source.name)
        .join(PostTopic, PostTopic.post_id == Post.id)
        .join(Source, Source.id == Post.source_id)
        .where(
            PostTopic.topic_id == topic_id,
            PostTopic.published_at >= win.start,
            PostTopic.published_at < win.end,
        )
    )


def _posts(session: Session, topic_id: int, win: Window, *, negative: bool) -> list[PostItem]:
    """The top posts, one per near-duplicate cluster (copies of one text are listed once)."""
    stmt = _in_window(topic_id, win)
    if negative:
        stmt = stmt.where(Post.sentiment == "negative").order_by(
            Post.sentiment_score.asc(), Post.engagement_total.desc(), Post.id
        )
    else:
        stmt = stmt.order_by(Post.engagement_total.desc(), Post.published_at.desc(), Post.id)
    items: list[PostItem] = []
    seen: set[object] = set()
    for post, name in session.execute(stmt.limit(TOP_POSTS * CANDIDATES)):
        keys = {("c", post.cluster_id or post.id), ("t", post.text)}
        if keys & seen:
            continue
        seen |= keys
        items.append(
            PostItem(
                id=post.id,
                text=post.text,
                author=post.author,
                source=name,
                published_at=post.published_at,
                engagement=post.engagement_total,
                sentiment=post.sentiment,
                score=post.sentiment_score,
                url=post.url,
            )
        )
        if len(items) == TOP_POSTS:
            break
    return items


def _sources(session: Session, topic_id: int, win: Window) -> list[dict[str, Any]]:
    negative = func.sum(case((Post.sentiment == "negative", 1), else_=0))
    stmt = (
        select(Source.name, func.count(Post.id).label("posts"), negative.label("negative"))
        .join(Post, Post.source_id == Source.id)
        .join(PostTopic, PostTopic.post_id == Post.id)
        .where(
            PostTopic.topic_id == topic_id,
            PostTopic.published_at >= win.start,
            PostTopic.published_at < win.end,
        )
        .group_by(Source.name)
        .order_by(func.count(Post.id).desc(), Source.name)
        .limit(TOP_SOURCES)
    )
    return [
        {"name": name, "posts": int(posts), "negative": int(neg or 0)}
        for name, posts, neg in session.execute(stmt)
    ]


def _keywords(session: Session, topic: Topic, win: Window) -> list[tuple[str, int]]:
    """The topic's keywords over the window (the one definition, `insights.topic_keywords`) with the
    number of posts that have each."""
    found = insights.topic_keywords(
        session=session, topic=topic, start=win.start, end=win.end, k=TOP_KEYWORDS, recent_buckets=1
    )
    return [(keyword.term, keyword.posts) for keyword in found.keywords]


def _incidents(session: Session, topic_id: int, win: Window) -> list[IncidentItem]:
    stmt = (
        select(Incident)
        .where(
            Incident.topic_id == topic_id,
            Incident.opened_at < win.end,
            (Incident.resolved_at.is_(None)) | (Incident.resolved_at >= win.start),
        )
        .order_by(Incident.opened_at)
    )
    return [_incident_item(session, incident) for incident in session.scalars(stmt)]


def _incident_item(session: Session, incident: Incident) -> IncidentItem:
    stmt = select(IncidentEvent).where(IncidentEvent.incident_id == incident.id).order_by(IncidentEvent.id)
    events = list(session.scalars(stmt))
    opened = next((e for e in reversed(events) if e.kind in ("opened", "escalated")), None)
    resolved = next((e for e in reversed(events) if e.kind == "resolved"), None)
    highlights = [
        {"at": e.at, "kind": e.kind, "actor": e.actor, "message": e.message}
        for e in events
        if e.kind in HIGHLIGHT_KINDS
    ]
    if len(highlights) > MAX_HIGHLIGHTS:
        highlights = highlights[: MAX_HIGHLIGHTS - 1] + highlights[-1:]
    return IncidentItem(
        id=incident.id,
        title=incident.title,
        grade=incident.grade,
        grade_label=GRADE_LABELS.get(incident.grade, incident.grade),
        status=incident.status,
        opened_at=incident.opened_at,
        acknowledged_at=incident.acknowledged_at,
        resolved_at=incident.resolved_at,
        resolved_by=incident.resolved_by,
        reasons=list((opened.data or {}).get("reasons", [])) if opened else [],
        highlights=highlights,
        checklist=list(incident.checklist or []),
        resolution=resolved.message if resolved else None,
    )
