"""Settings: one pydantic-settings object; nothing else reads os.environ."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite:///./data/yuqing.db"
ENV_FILE_VARIABLE = "YUQING_ENV_FILE"  # which .env file to read; empty: none (the test suite sets this)


class Settings(BaseSettings):
    """Runtime configuration, read from YUQING_* environment variables and an optional .env file."""

    model_config = SettingsConfigDict(env_prefix="YUQING_", env_file=".env", extra="ignore")

    database_url: str = DEFAULT_SQLITE_URL
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    base_url: str = "http://127.0.0.1:8000"
    url_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    auth_failure_burst: int = Field(default=10, ge=1)
    auth_failure_per_minute: float = Field(default=6.0, gt=0)
    max_page_size: int = Field(default=500, ge=1, le=10_000)
    retention_days: int = Field(default=90, ge=1)
    scheduler_enabled: bool = True
    collect_timeout_seconds: float = Field(default=30.0, gt=0)
    collect_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    collect_host_interval_seconds: float = Field(default=1.0, ge=0)
    collect_concurrency: int = Field(default=8, ge=1, le=256)
    collect_lease_seconds: float | None = Field(default=None, gt=0)
    # A failing source is retried after its interval, doubled per failure in a row, at most this many
    # intervals and this many seconds; jitter is the random fraction of that delay (app/core/leases.py).
    collect_retry_max_intervals: float = Field(default=8.0, ge=1)
    collect_retry_max_seconds: float = Field(default=6 * 3600.0, gt=0)
    collect_retry_jitter: float = Field(default=0.0, ge=0, le=1)
    push_mode: Literal["auto", "inline", "queue"] = "auto"
    ingest_lease_seconds: float = Field(default=120.0, gt=0)
    ingest_max_attempts: int = Field(default=5, ge=1, le=100)
    # A queued batch that failed is due again after base × 2^(attempts − 1) seconds, at most max;
    # jitter is the random fraction of that delay (0: exact, 1: uniform in [0, delay)).
    ingest_retry_base_seconds: float = Field(default=5.0, gt=0)
    ingest_retry_max_seconds: float = Field(default=300.0, gt=0)
    ingest_retry_jitter: float = Field(default=0.0, ge=0, le=1)
    # Posts waiting in the push queue at which pushes get 503 + Retry-After (backpressure).
    ingest_max_queued_posts: int = Field(default=50_000, ge=1)
    # Harm, danger and legal trouble only: everyday complaint words (召回, 维权, 诈骗, bare 泄露)
    # run through ordinary grumbling and would mark calm chatter as a crisis.
    critical_terms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "死亡",
            "身亡",
            "伤亡",
            "猝死",
            "爆炸",
            "起火",
            "中毒",
            "坍塌",
            "数据泄露",
            "信息泄露",
            "立案调查",
        ]
    )
    auto_resolve_minutes: int = Field(default=120, ge=5)
    detect_lateness_minutes: int = Field(default=60, ge=0, le=24 * 60)  # how late posts may still alert
    timezone: str = "Asia/Shanghai"  # IANA zone of times without an offset (imports, json sources)
    rsshub_url: str | None = None  # base URL of your RSSHub for platform presets (its host is allow-listed)
    wechat_bridge_url: str | None = None  # base URL of a wewe-rss instance for 公众号 presets (allow-listed)
    sentiment_model: Path | None = (
        None  # a model trained with `yuqing train-sentiment`; None: the shipped one
    )
    outbox_max_age_minutes: int = Field(default=24 * 60, ge=1)
    # A delivery that failed is due again after base × 2^(attempts − 1) seconds (at most max, at least
    # the vendor's Retry-After); jitter is the random fraction of that delay: 1 is full jitter, uniform
    # in [0, delay) (app/core/leases.py).
    outbox_retry_base_seconds: float = Field(default=10.0, gt=0)
    outbox_retry_max_seconds: float = Field(default=30 * 60.0, gt=0)
    outbox_retry_jitter: float = Field(default=1.0, ge=0, le=1)
    outbox_send_timeout_seconds: float = Field(default=15.0, gt=0)
    outbox_lease_seconds: float = Field(default=120.0, gt=0)
    outbox_batch_size: int = Field(default=20, ge=1, le=500)
    outbox_min_interval_minutes: float = Field(default=10.0, ge=0)
    outbox_digest_threshold: int = Field(default=3, ge=2)
    reminder_interval_minutes: float = Field(default=30.0, gt=0)
    demo_sink_enabled: bool = True
    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None

    @field_validator("url_allowlist", "cors_origins", "critical_terms", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("url_allowlist")
    @classmethod
    def _check_allowlist(cls, value: list[str]) -> list[str]:
        for entry in value:
            if "/" in entry or entry.replace(".", "").isdigit() or ":" in entry:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError as exc:
                    raise ValueError(
                        f"url_allowlist entry {entry!r} is neither a CIDR nor a host name"
                    ) from exc
        return value

    @field_validator("collect_lease_seconds")
    @classmethod
    def _check_collect_lease(cls, value: float | None, info: ValidationInfo) -> float | None:
        timeout = info.data.get("collect_timeout_seconds")
        if value is not None and timeout is not None and value <= timeout * 4:
            raise ValueError(
                f"must be longer than a collection may take (4 × collect timeout = {timeout * 4:g} s)"
            )
        return value

    @field_validator("rsshub_url", "wechat_bridge_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parsed = urlsplit(value.strip())
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"not an http(s) base URL: {value!r}")
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _allow_configured_bridges(self) -> Settings:
        """The RSSHub and 公众号 bridge the operator configured are reachable although private."""
        for base in (self.rsshub_url, self.wechat_bridge_url):
            host = urlsplit(base).hostname if base else None
            if host and host not in self.url_allowlist:
                self.url_allowlist.append(host)
        return self

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)"
            ) from None
        return value

    @field_validator("sentiment_model")
    @classmethod
    def _check_sentiment_model(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        from analysis.sentiment.model import model_file

        return model_file(value)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://") :]
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://") :]
        if not (value.startswith("sqlite") or value.startswith("postgresql+psycopg://")):
            raise ValueError("database_url must be sqlite:///PATH or postgresql://USER@HOST/DB")
        return value

    @model_validator(mode="after")
    def _check_outbox_timing(self) -> Settings:
        if self.outbox_lease_seconds <= self.outbox_send_timeout_seconds:
            raise ValueError("outbox_lease_seconds must be longer than outbox_send_timeout_seconds")
        return self

    @property
    def collect_budget(self) -> float:
        """Longest one collection may run before it is abandoned (seconds)."""
        return self.collect_timeout_seconds * 4

    @property
    def collect_lease(self) -> float:
        """How long a worker's claim on a source lasts before another worker may take it (seconds)."""
        if self.collect_lease_seconds is not None:
            return self.collect_lease_seconds
        return self.collect_budget + 60

    def queues_pushes(self, role: str) -> bool:
        """Whether pushes to a process of this role are queued for workers instead of analysed in it.

        `auto` queues in the `api` role only, so API processes never load the analyser.
        """
        return self.push_mode == "queue" or (self.push_mode == "auto" and role == "api")

    @property
    def is_sqlite(self) -> bool:
        """True when the embedded SQLite store is in use."""
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        """Return the SQLite file path, or None for PostgreSQL / in-memory databases."""
        if not self.is_sqlite:
            return None
        path = self.database_url.split("///", 1)[-1]
        return None if path in ("", ":memory:") else Path(path)


class SettingsError(RuntimeError):
    """Settings could not be loaded; the message is one clear line."""


def env_file() -> str | None:
    """The .env file settings are read from: `YUQING_ENV_FILE`, `.env` by default, none when empty."""
    return os.environ.get(ENV_FILE_VARIABLE, ".env") or None


def load_settings(**overrides: object) -> Settings:
    """Load settings, turning validation errors into one readable line."""
    try:
        return Settings(_env_file=env_file(), **overrides)  # type: ignore[arg-type,call-arg]
    except ValidationError as exc:
        problems = "; ".join(
            f"YUQING_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"invalid configuration: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, loaded once."""
    return load_settings()
