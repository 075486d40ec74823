"""Source CRUD and health bookkeeping; services never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.bulk import dialect_insert
from app.core.config import Settings
from app.core.errors import BadRequest, Conflict, NotFound
from app.core.leases import Backoff
from app.core.masking import restore_redacted
from app.core.urls import check_url
from app.sources.models import Source, SourceRun
from app.sources.schemas import SourceCreate, SourceUpdate
from collectors.base import ConfigError
from collectors.registry import KINDS, get_collector

PUSH_KIND = "push"
SOURCE_KINDS = (*KINDS, PUSH_KIND)


def _validate(
    kind: str, url: str | None, options: dict[str, Any], allowlist: Sequence[str]
) -> dict[str, Any]:
    if kind not in SOURCE_KINDS:
        raise BadRequest(f"unknown source kind {kind!r}; known kinds: {', '.join(SOURCE_KINDS)}")
    if kind == PUSH_KIND:
        return options
    if not url:
        raise BadRequest(f"a source of kind {kind!r} needs a url")
    check_url(url, allowlist)
    try:
        return get_collector(kind).validate_options(options)
    except ConfigError as exc:
        raise BadRequest(f"invalid options for kind {kind!r}: {exc}") from None


def get(*, session: Session, source_id: int) -> Source:
    """A source by id, or NotFound."""
    source = session.get(Source, source_id)
    if source is None:
        raise NotFound(f"source {source_id} not found")
    return source


def get_by_name(*, session: Session, name: str) -> Source | None:
    """A source by its unique name, or None."""
    return session.scalar(select(Source).where(Source.name == name))


def list_sources(*, session: Session, kind: str | None = None) -> list[Source]:
    """All sources, optionally of one kind, in id order."""
    stmt = select(Source).order_by(Source.id)
    if kind:
        stmt = stmt.where(Source.kind == kind)
    return list(session.scalars(stmt))


def create(
    *, session: Session, data: SourceCreate, allowlist: Sequence[str] = (), demo: bool = False
) -> Source:
    """Create a source after validating its kind, URL and options."""
    if get_by_name(session=session, name=data.name) is not None:
        raise Conflict(f"a source named {data.name!r} already exists")
    try:
        restore_redacted(data.options, None)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    options = _validate(data.kind, data.url, data.options, allowlist)
    source = Source(
        name=data.name,
        kind=data.kind,
        url=data.url,
        interval_seconds=data.interval_seconds,
        options=options,
        enabled=data.enabled,
        media=data.media,
        hotlist=data.hotlist,
        demo=demo,
        state={},
        consecutive_failures=0,
    )
    session.add(source)
    session.flush()
    return source


def update(*, session: Session, source_id: int, data: SourceUpdate, allowlist: Sequence[str] = ()) -> Source:
    """Apply a partial update; URL and options are re-validated."""
    source = get(session=session, source_id=source_id)
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] != source.name:
        if get_by_name(session=session, name=changes["name"]) is not None:
            raise Conflict(f"a source named {changes['name']!r} already exists")
    if "options" in changes:
        try:
            changes["options"] = restore_redacted(changes["options"], source.options)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
    if "url" in changes or "options" in changes:
        url = changes.get("url", source.url)
        changes["options"] = _validate(source.kind, url, changes.get("options", source.options), allowlist)
        if changes.get("url", source.url) != source.url:
            source.state = {}
    for field, value in changes.items():
        setattr(source, field, value)
    return source


def delete(*, session: Session, source_id: int) -> None:
    """Delete a source and, through the cascade, its posts and runs."""
    session.delete(get(session=session, source_id=source_id))


def ensure_push_source(*, session: Session, name: str) -> Source:
    """The push source with this name, created on first use; refuses a non-push name."""
    source = get_by_name(session=session, name=name)
    if source is None:
        # Concurrent first pushes to a new name: one insert wins (the others wait for its commit and
        # insert nothing), then every request reads the one row.
        session.execute(
            dialect_insert(session, Source.__table__)
            .values(name=name, kind=PUSH_KIND, url=None, options={}, state={}, consecutive_failures=0)
            .on_conflict_do_nothing(index_elements=[Source.__table__.c.name])
        )
        source = get_by_name(session=session, name=name)
        if source is None:
            raise RuntimeError(f"push source {name!r} could not be created")
    if source.kind != PUSH_KIND:
        raise Conflict(f"source {name!r} is of kind {source.kind!r}; push needs a source of kind 'push'")
    return source


def failure_backoff(settings: Settings, interval_seconds: int, failures: int) -> timedelta:
    """Delay before retrying a failing source: its interval doubled per failure in a row, capped by
    the `collect_retry_*` settings (app/core/leases.py; by default 8 intervals or 6 hours)."""
    return Backoff.collect(settings, interval_seconds).delay(failures)


MAX_RUN_WARNINGS = 20


def record_run(
    *,
    session: Session,
    source: Source,
    started_at: datetime,
    finished_at: datetime,
    status: str,
    new: int = 0,
    duplicates: int = 0,
    error: str | None = None,
    http_status: int | None = None,
    warnings: list[str] | None = None,
) -> SourceRun:
    """Store a run (with what it noticed without failing) and update the source's health fields."""
    duration_ms = int((finished_at - started_at).total_seconds() * 1000)
    run = SourceRun(
        source_id=source.id,
        started_at=started_at,
        finished_at=finished_at,
        status=status,
        new=new,
        duplicates=duplicates,
        error=error,
        http_status=http_status,
        duration_ms=duration_ms,
        warnings=list(warnings or [])[:MAX_RUN_WARNINGS],
    )
    session.add(run)
    source.last_run_at = finished_at
    source.last_status = status
    if status == "error":
        source.last_error = error
        source.consecutive_failures = (source.consecutive_failures or 0) + 1
    else:
        source.last_success_at = finished_at
        source.last_error = None
        source.consecutive_failures = 0
    return run


def recent_runs(*, session: Session, source_id: int, limit: int = 20) -> list[SourceRun]:
    """The latest runs of a source, newest first."""
    stmt = (
        select(SourceRun).where(SourceRun.source_id == source_id).order_by(SourceRun.id.desc()).limit(limit)
    )
    return list(session.scalars(stmt))


def count_media(*, session: Session, source_ids: Iterable[int | str]) -> int:
    """How many of these sources are news outlets (`media`), e.g. among a burst's sources."""
    ids = sorted({int(s) for s in source_ids if str(s).isdigit()})
    if not ids:
        return 0
    stmt = select(func.count()).select_from(Source).where(Source.id.in_(ids), Source.media.is_(True))
    return int(session.scalar(stmt) or 0)
