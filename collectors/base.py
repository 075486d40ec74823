"""What every collector shares: the post and state records, the result, the error tree, the base class.

A collector turns a `SourceSpec` plus its saved `SourceState` into a `CollectResult` (posts and the new
state), or raises one of the typed errors re-exported here from `collectors.errors`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from collectors.errors import (
    BodyTooLargeError,
    CollectorError,
    ConfigError,
    EncodingError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    InvalidJSONError,
    NetworkError,
    NotAFeedError,
    ParseError,
    RateLimitedError,
)

if TYPE_CHECKING:
    from collectors.http import Fetcher

__all__ = [
    "BodyTooLargeError",
    "CollectResult",
    "Collector",
    "CollectorError",
    "ConfigError",
    "EncodingError",
    "FetchError",
    "FetchTimeout",
    "HTTPStatusError",
    "InvalidJSONError",
    "NetworkError",
    "NotAFeedError",
    "ParseError",
    "RateLimitedError",
    "RawPost",
    "SourceSpec",
    "SourceState",
]


def to_utc(value: datetime | None) -> datetime | None:
    """The same instant in UTC; a naive datetime is taken to be UTC already."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True, kw_only=True)
class RawPost:
    """One collected post, before analysis. `text` is plain text; `raw` is the content as received."""

    external_id: str | None = None
    url: str | None = None
    title: str | None = None
    text: str
    raw: str = ""
    author: str | None = None
    # The author's account as the platform names it, its follower count and its verified (认证)
    # status, where the source gives them; None when it does not.
    author_id: str | None = None
    author_followers: int | None = None
    author_verified: bool | None = None
    published_at: datetime | None = None
    engagement: dict[str, int] = field(default_factory=dict)
    platform: str | None = None
    lang: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "published_at", to_utc(self.published_at))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the time as ISO 8601), for queues and files."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["published_at"] = self.published_at.isoformat() if self.published_at else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RawPost:
        """The inverse of `to_dict`."""
        published = data.get("published_at")
        fields = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        fields["published_at"] = datetime.fromisoformat(published) if published else None
        return cls(**fields)


@dataclass
class SourceSpec:
    """A source definition: its kind, its URL, kind-specific options, and the zone of times that
    carry no offset when the options do not name one (the deployment's `YUQING_TIMEZONE`)."""

    kind: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)
    timezone: str = "UTC"


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass
class SourceState:
    """What a source remembers between polls: HTTP validators, a cursor, and collector extras."""

    etag: str | None = None
    last_modified: str | None = None
    cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (see `from_dict`)."""
        return {
            "etag": self.etag,
            "last_modified": self.last_modified,
            "cursor": self.cursor,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SourceState:
        """Rebuild from `to_dict` output; missing or mistyped keys fall back to empty values."""
        data = data or {}
        extra = data.get("extra")
        return cls(
            etag=_str_or_none(data.get("etag")),
            last_modified=_str_or_none(data.get("last_modified")),
            cursor=_str_or_none(data.get("cursor")),
            extra=dict(extra) if isinstance(extra, Mapping) else {},
        )


@dataclass
class CollectResult:
    """The outcome of one successful collection run."""

    posts: list[RawPost] = field(default_factory=list)
    state: SourceState = field(default_factory=SourceState)
    not_modified: bool = False
    warnings: list[str] = field(default_factory=list)
    http_status: int | None = None
    retry_after: float | None = None


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming each bad option, e.g. `limit: Input should be less than or equal to 40`."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "options"
        message = str(err.get("msg", "invalid"))
        if err.get("type") == "extra_forbidden":
            message = "unknown option"
        parts.append(f"{loc}: {message.removeprefix('Value error, ')}")
    return "; ".join(parts)


OptionsT = TypeVar("OptionsT", bound=BaseModel)


class Collector(ABC, Generic[OptionsT]):
    """One source kind: a unique `kind`, a pydantic options model, and `collect`."""

    kind: ClassVar[str]
    options_model: type[OptionsT]

    def parse_options(self, options: Mapping[str, Any] | None) -> OptionsT:
        """The options as a validated model; raises ConfigError naming each bad option."""
        if options is not None and not isinstance(options, Mapping):
            raise ConfigError(f"options for kind {self.kind!r} must be a JSON object")
        try:
            return self.options_model.model_validate(dict(options or {}))
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc)) from None

    def validate_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validate options and return them normalised (defaults filled in), or raise ConfigError."""
        return self.parse_options(options).model_dump(mode="json")

    @abstractmethod
    async def collect(self, spec: SourceSpec, state: SourceState, fetcher: Fetcher) -> CollectResult:
        """Fetch and parse the source once; raise a CollectorError subclass on failure."""
