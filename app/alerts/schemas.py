"""Bodies for alerts, incidents, silences and trends."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from analysis.grading import Grade, rule_label
from app.core.deps import OptionalUTCTime, UTCTime
from app.core.vocab import AlertStatus, IncidentStatus


class AlertRead(BaseModel):
    """A graded alert with every input and the rules that fired."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    topic_id: int
    incident_id: int | None
    detector: str
    fired_at: datetime
    bucket_start: datetime
    grade: Grade
    status: AlertStatus
    observed: float
    baseline: float
    ratio: float
    score: float
    headline: str
    inputs: dict[str, Any]
    rules: list[str]

    @computed_field(description="the rules that held, in Chinese (rules keeps their codes)")  # type: ignore[prop-decorator]
    @property
    def rule_labels(self) -> list[str]:
        """Chinese names of `rules`."""
        return [rule_label(code) for code in self.rules]


class EventRead(BaseModel):
    """A line of an incident's timeline."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    kind: str
    actor: str
    message: str
    data: dict[str, Any]


class IncidentRead(BaseModel):
    """An incident: grade, reasons, checklist and (on detail) its timeline."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    topic_id: int
    status: IncidentStatus
    grade: Grade
    grade_label: str = ""
    title: str
    headline: str
    inputs: dict[str, Any]
    rules: list[str]
    reasons: list[str] = Field(default_factory=list)
    checklist: list[dict[str, Any]]
    cluster_ids: list[int]
    silenced: bool = Field(default=False, description="a silence covers this incident right now (computed)")
    opened_at: datetime
    last_signal_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    timeline: list[EventRead] = Field(default_factory=list)

    @computed_field(description="the rules that held, in Chinese (rules keeps their codes)")  # type: ignore[prop-decorator]
    @property
    def rule_labels(self) -> list[str]:
        """Chinese names of `rules`."""
        return [rule_label(code) for code in self.rules]


class NoteCreate(BaseModel):
    """A note on an incident."""

    text: str = Field(min_length=1, max_length=10_000)


class ActionBody(BaseModel):
    """An optional note with acknowledge/resolve."""

    note: str | None = Field(default=None, max_length=10_000)


class ChecklistUpdate(BaseModel):
    """Tick or untick one playbook step."""

    code: str = Field(min_length=1, max_length=40)
    done: bool = True


class SilenceCreate(BaseModel):
    """Mute notices for a topic (or all) up to a grade during a time range."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "topic_id": 1,
                    "max_grade": "persistent",
                    "starts_at": "2026-12-01T00:00:00Z",
                    "ends_at": "2026-12-02T00:00:00Z",
                    "reason": "新品发布会，预期声量上升",
                }
            ]
        }
    )

    topic_id: int | None = None
    max_grade: Grade | None = None
    starts_at: UTCTime
    ends_at: UTCTime
    reason: str = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _ordered(self) -> SilenceCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class SilenceRead(SilenceCreate):
    """A stored silence."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    created_by: str
    created_at: datetime


class TrendBucket(BaseModel):
    """One bucket of a topic's trend."""

    start: datetime
    total: int
    positive: int
    neutral: int
    negative: int
    negative_share: float
    authors: int
    sources: int
    engagement: int


class Gap(BaseModel):
    """A time range in which a source of the topic was failing."""

    source_id: int
    source: str
    start: datetime
    end: datetime | None
    error: str | None


class TrendRead(BaseModel):
    """A topic's trend with source gaps."""

    interval: str
    buckets: list[TrendBucket]
    gaps: list[Gap]


class BacktestRequest(BaseModel):
    """Run the volume detector over stored history."""

    start: OptionalUTCTime = None
    end: OptionalUTCTime = None
    series: str = Field(default="total", pattern="^(total|negative)$")


class BacktestPoint(BaseModel):
    """One bucket of a backtest."""

    start: datetime
    value: float
    score: float
    alert: bool


class BacktestResult(BaseModel):
    """Detector scores over history; alerts at most once per episode."""

    topic_id: int
    series: str
    alerts: int
    points: list[BacktestPoint]


class StoryBucket(BaseModel):
    """One bucket of the topic's trend around an incident."""

    bucket_start: datetime
    total: int
    negative: int


class StoryAlert(BaseModel):
    """An alert moment of the incident, to mark on its trend."""

    fired_at: datetime
    detector: str
    grade: Grade
    headline: str


class StoryPost(BaseModel):
    """A post of the story, with what an analyst needs to cite it as evidence."""

    id: int
    text: str
    title: str | None
    url: str | None
    author: str | None
    author_followers: int | None = None
    author_verified: bool | None = None
    platform: str | None
    source: str
    published_at: datetime
    collected_at: datetime
    sentiment: str | None
    engagement: int
    cluster_id: int | None


class StoryAccount(BaseModel):
    """An account that carried the story: its posts and their engagement in the window, and its
    reach where the source gave it (the largest follower count seen; verified if any post said so)."""

    author: str
    author_id: str | None = None
    followers: int | None = Field(default=None, description="粉丝数（未知为 null）")
    verified: bool | None = Field(default=None, description="是否认证账号（未知为 null）")
    platform: str | None
    posts: int
    engagement: int
    negative: int
    first_seen: datetime


class StorySource(BaseModel):
    """A source that carried the story."""

    source_id: int
    source: str
    media: bool
    posts: int
    engagement: int
    negative: int
    first_seen: datetime


class StorySpread(BaseModel):
    """Posts of one platform in one bucket: how the story spread across platforms over time."""

    bucket_start: datetime
    platform: str
    posts: int


class IncidentStory(BaseModel):
    """What happened, where and who: the incident's window, trend, first posts, posts, accounts,
    sources and spread (see app/alerts/story.py)."""

    incident_id: int
    topic_id: int
    start: datetime
    end: datetime
    grain: str = Field(description="grain of trend and spread: 5m up to a day, 1h beyond")
    bucket_minutes: int
    posts_total: int = Field(description="the topic's posts in the story window")
    trend: list[StoryBucket]
    alerts: list[StoryAlert]
    first_posts: list[StoryPost] = Field(description="首发: the earliest posts of the window and clusters")
    posts: list[StoryPost] = Field(description="most engagement first; page with limit and offset")
    accounts: list[StoryAccount]
    sources: list[StorySource]
    spread: list[StorySpread]
