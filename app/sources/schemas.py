"""Request and response bodies for sources."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.json_schema import SkipJsonSchema

from app.core.masking import redact


class SourceCreate(BaseModel):
    """A new source; `options` depend on the kind (see docs/SOURCES.md)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "微博关键词-某品牌",
                    "kind": "rss",
                    "url": "https://rsshub.example.org/weibo/keyword/某品牌",
                    "interval_seconds": 300,
                    "options": {},
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=20)
    url: str | None = Field(default=None, max_length=2000)
    interval_seconds: int = Field(default=300, ge=1, le=7 * 86400)
    options: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    media: bool = Field(default=False, description="a news outlet: its posts count toward 影响类 (media)")
    hotlist: bool = Field(
        default=False, description="a 热搜/热榜 list: entries are ranked, a topic on the list raises 影响类"
    )


class SourceUpdate(BaseModel):
    """Fields that may change on an existing source; a field left out keeps its value.

    Only `url` may be null (a push source has none); null for another field is refused, since it has
    no meaning there (send `{}` to clear the options).
    """

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)] | SkipJsonSchema[None] = None
    url: str | None = Field(default=None, max_length=2000)
    interval_seconds: Annotated[int, Field(ge=1, le=7 * 86400)] | SkipJsonSchema[None] = None
    options: dict[str, Any] | SkipJsonSchema[None] = None
    enabled: bool | SkipJsonSchema[None] = None
    media: bool | SkipJsonSchema[None] = None
    hotlist: bool | SkipJsonSchema[None] = None

    @field_validator("name", "interval_seconds", "options", "enabled", "media", "hotlist", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            hint = " (send {} to clear the options)" if info.field_name == "options" else ""
            raise ValueError(f"{info.field_name} may not be null: leave it out to keep its value{hint}")
        return value


class SourceRead(BaseModel):
    """A source with its health; credentials inside options are never returned."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    url: str | None
    interval_seconds: int
    options: dict[str, Any]
    enabled: bool
    media: bool
    hotlist: bool
    demo: bool
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_status: str | None
    last_error: str | None
    consecutive_failures: int
    next_run_at: datetime | None
    created_at: datetime
    health: str = Field(
        default="ok", description="ok, never_run, disabled, silent, login_required, risk_control, …"
    )
    health_label: str = Field(default="", description="the state in Chinese, e.g. 被平台风控拦截")
    health_advice: str = Field(default="", description="what to do about it, in Chinese")
    last_new_at: datetime | None = Field(default=None, description="when a run last brought new posts")

    @field_validator("options", mode="after")
    @classmethod
    def _redact(cls, value: dict[str, Any]) -> dict[str, Any]:
        return redact(value)  # type: ignore[no-any-return]


class RunSummary(BaseModel):
    """The outcome of one collection run."""

    source_id: int
    source: str
    status: str = Field(description="ok, not_modified or error")
    new: int = 0
    duplicates: int = 0
    not_modified: bool = False
    error: str | None = None
    warnings: list[str] = Field(default_factory=list)
    duration_ms: int = 0


class RunRead(BaseModel):
    """A stored collection run, with the warnings it recorded (e.g. a big feed cut to `max_items`)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    started_at: datetime
    finished_at: datetime
    status: str = Field(description="ok, not_modified or error")
    new: int
    duplicates: int
    http_status: int | None
    error: str | None
    warnings: list[str]
    duration_ms: int


class PresetParam(BaseModel):
    """A parameter of a source preset."""

    name: str
    label: str
    example: str
    pattern: str


class SourcePresetRead(BaseModel):
    """A platform preset: add a source by filling in its parameters."""

    id: str
    platform: str
    name: str
    route: str
    base: str = Field(description="rsshub, wechat_bridge or direct (the route is a full URL)")
    params: list[PresetParam]
    interval_seconds: int
    media: bool
    hotlist: bool
    cookie: str | None = Field(description="the RSSHub setting the route may need (docs/SOURCES.md)")
    note: str
    available: bool = Field(description="false when the base URL it needs is not configured")


class SourceFromPreset(BaseModel):
    """A new source from a preset: its id and parameters; name and interval are optional."""

    model_config = ConfigDict(extra="forbid")

    preset: str = Field(min_length=1, max_length=50)
    params: dict[str, str] = Field(default_factory=dict)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    interval_seconds: int | None = Field(default=None, ge=60, le=7 * 86400)


class HotListEntryRead(BaseModel):
    """An entry of a hot list with its rank history."""

    title: str
    url: str | None
    post_id: int | None
    rank: int = Field(description="the rank in the latest snapshot that listed it (1 = top)")
    best_rank: int
    on_list: bool
    stints: int = Field(description="how many times it entered the list")
    first_seen_at: datetime
    entered_at: datetime
    last_seen_at: datetime
    left_at: datetime | None
    minutes_on_list: int = Field(description="minutes on the list over all stints, the current one included")

    @classmethod
    def of(cls, entry: Any, minutes_on_list: int) -> HotListEntryRead:
        """The read model of a `HotListEntry` row with its minutes on the list (as of now)."""
        return cls(
            title=entry.title,
            url=entry.url,
            post_id=entry.post_id,
            rank=entry.rank,
            best_rank=entry.best_rank,
            on_list=entry.on_list,
            stints=entry.stints,
            first_seen_at=entry.first_seen_at,
            entered_at=entry.entered_at,
            last_seen_at=entry.last_seen_at,
            left_at=entry.left_at,
            minutes_on_list=minutes_on_list,
        )
