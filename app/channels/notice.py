"""The notice: what one alert change tells the chat groups, stored as JSON in the outbox.

A digest is a `Notice` with `kind=NoticeKind.DIGEST` whose `items` are the notices it bundles; every
other kind has `items == []`. One class keeps the outbox column, `to_dict()/from_dict()` and `render()`
single-pathed; `make_digest()` builds one from several notices. A scheduled 舆情简报 is a notice of
`kind=NoticeKind.REPORT` without an incident: `period` (day/week) says which, `reasons` carry its
overview, `events` the incidents of the period, `incident_url` the full HTML report.
Kind, grade and status are the vocabularies' enums (`NoticeKind`, `Grade`, `IncidentStatus`);
strings given to the constructor are converted, and an unknown word is a `ValueError`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from analysis.grading import Grade
from app.core.vocab import IncidentStatus, NoticeKind

NOTICE_SCHEMA_VERSION = 1


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class NoticePost:
    """One post quoted in a notice (usually a top negative post)."""

    text: str
    url: str | None = None
    author: str | None = None
    source: str | None = None
    published_at: datetime | None = None
    sentiment_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "text": self.text,
            "url": self.url,
            "author": self.author,
            "source": self.source,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "sentiment_score": self.sentiment_score,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NoticePost:
        """Inverse of `to_dict()`."""
        return cls(
            text=data["text"],
            url=data.get("url"),
            author=data.get("author"),
            source=data.get("source"),
            published_at=_parse_time(data.get("published_at")),
            sentiment_score=data.get("sentiment_score"),
        )


@dataclass(frozen=True)
class Notice:
    """One message-worthy alert change; `id` is the idempotency key receivers dedupe on."""

    id: str
    kind: NoticeKind
    incident_id: int | None
    topic: str
    grade: Grade
    headline: str
    created_at: datetime
    reasons: list[str] = field(default_factory=list)
    trend: list[int] = field(default_factory=list)
    top_posts: list[NoticePost] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    checklist: list[str] = field(default_factory=list)
    incident_url: str | None = None
    api_url: str | None = None
    mention: list[str] = field(default_factory=list)
    status: IncidentStatus = IncidentStatus.OPEN
    items: list[Notice] = field(default_factory=list)
    period: str | None = None  # reports only: "day" | "week"
    events: list[str] = field(default_factory=list)  # reports only: the incidents of the period

    def __post_init__(self) -> None:
        for name, vocabulary in (("kind", NoticeKind), ("grade", Grade), ("status", IncidentStatus)):
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, vocabulary(value))
            except ValueError:
                raise ValueError(f"unknown {name} {value!r}") from None
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")
        if self.items and self.kind != NoticeKind.DIGEST:
            raise ValueError("only a digest notice has items")
        if (self.period is not None) != (self.kind == NoticeKind.REPORT) or self.period not in (
            None,
            "day",
            "week",
        ):
            raise ValueError("a report notice (and only a report) has a period: day or week")

    @property
    def period_label(self) -> str:
        """日报 / 周报 for a report, else empty."""
        return {"day": "日报", "week": "周报"}.get(self.period or "", "")

    @property
    def grade_label(self) -> str:
        """The grade in Chinese (一般/纠缠性/影响类/严重)."""
        return self.grade.label

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (datetimes as ISO 8601), suitable for the outbox table."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "incident_id": self.incident_id,
            "topic": self.topic,
            "grade": self.grade.value,
            "grade_label": self.grade_label,
            "headline": self.headline,
            "reasons": list(self.reasons),
            "trend": list(self.trend),
            "top_posts": [post.to_dict() for post in self.top_posts],
            "keywords": list(self.keywords),
            "checklist": list(self.checklist),
            "incident_url": self.incident_url,
            "api_url": self.api_url,
            "created_at": self.created_at.isoformat(),
            "mention": list(self.mention),
            "status": self.status.value,
            "items": [item.to_dict() for item in self.items],
            "period": self.period,
            "events": list(self.events),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notice:
        """Inverse of `to_dict()`; derived keys such as `grade_label` are ignored, words are checked."""
        return cls(
            id=data["id"],
            kind=data["kind"],
            incident_id=data.get("incident_id"),
            topic=data["topic"],
            grade=data["grade"],
            headline=data["headline"],
            created_at=datetime.fromisoformat(data["created_at"]),
            reasons=list(data.get("reasons", [])),
            trend=[int(value) for value in data.get("trend", [])],
            top_posts=[NoticePost.from_dict(post) for post in data.get("top_posts", [])],
            keywords=list(data.get("keywords", [])),
            checklist=list(data.get("checklist", [])),
            incident_url=data.get("incident_url"),
            api_url=data.get("api_url"),
            mention=list(data.get("mention", [])),
            status=data.get("status", IncidentStatus.OPEN),
            items=[cls.from_dict(item) for item in data.get("items", [])],
            period=data.get("period"),
            events=list(data.get("events", [])),
        )


def make_digest(
    notices: Sequence[Notice], *, created_at: datetime, digest_id: str | None = None, url: str | None = None
) -> Notice:
    """Bundle several notices into one digest notice (grade = the most serious item's grade)."""
    if not notices:
        raise ValueError("a digest needs at least one notice")
    grade = max((notice.grade for notice in notices), key=lambda value: value.rank)
    topics = list(dict.fromkeys(notice.topic for notice in notices))
    topic = topics[0] if len(topics) == 1 else f"{len(topics)} 个话题"
    mention = list(dict.fromkeys(user for notice in notices for user in notice.mention))
    return Notice(
        id=digest_id or str(uuid.uuid4()),
        kind=NoticeKind.DIGEST,
        incident_id=None,
        topic=topic,
        grade=grade,
        headline=f"{len(notices)} 条预警变化",
        created_at=created_at,
        incident_url=url,
        mention=mention,
        items=list(notices),
    )
