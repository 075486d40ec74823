"""HTTP routes for sources: CRUD and collect-now."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.core.config import Settings
from app.core.db import utcnow
from app.core.deps import AdminKey, Id, ReadKey, SessionDep, SettingsDep, WriteKey
from app.core.errors import BadRequest
from app.core.masking import mask_url, redact
from app.sources import health, hotlist, presets, service
from app.sources.collect import collect_by_worker
from app.sources.models import Source
from app.sources.schemas import (
    HotListEntryRead,
    PresetParam,
    RunRead,
    RunSummary,
    SourceCreate,
    SourceFromPreset,
    SourcePresetRead,
    SourceRead,
    SourceUpdate,
)

router = APIRouter(prefix="/api/v1/sources", tags=["sources"])


def source_read(session: Session, source: Source) -> SourceRead:
    """A source for the API with its health decided now (collectors/health.py names the causes)."""
    read = SourceRead.model_validate(source)
    state = health.health_of(session, source, utcnow())
    read.health, read.health_label, read.health_advice = state.health.value, state.label, state.advice
    read.last_new_at = state.last_new_at
    return read


preset_router = APIRouter(prefix="/api/v1/source-presets", tags=["sources"])


@preset_router.get("", response_model=list[SourcePresetRead])
def list_presets(settings: SettingsDep, _: ReadKey) -> list[SourcePresetRead]:
    """Platform presets: 微博, 知乎, B站, 抖音, 小红书, 贴吧, 今日头条, 公众号 and news sites."""
    return [preset_read(preset, settings) for preset in presets.PRESETS]


def preset_read(preset: presets.Preset, settings: Settings) -> SourcePresetRead:
    """A preset for the API, saying whether the base URL it needs is configured."""
    base = {
        presets.Base.RSSHUB: settings.rsshub_url,
        presets.Base.WECHAT_BRIDGE: settings.wechat_bridge_url,
        presets.Base.DIRECT: "direct",
    }[preset.base]
    return SourcePresetRead(
        id=preset.id,
        platform=preset.platform,
        name=preset.name,
        route=preset.route,
        base=preset.base.value,
        params=[
            PresetParam(name=p.name, label=p.label, example=p.example, pattern=p.pattern)
            for p in preset.params
        ],
        interval_seconds=preset.interval_seconds,
        media=preset.media,
        hotlist=preset.hotlist,
        cookie=preset.cookie,
        note=preset.note,
        available=bool(base),
    )


def _audit_details(body: SourceUpdate) -> dict[str, Any]:
    """The change as the audit log keeps it: credentials masked (the log is not encrypted)."""
    details = redact(body.model_dump(exclude_unset=True, mode="json"))
    if details.get("url"):
        details["url"] = mask_url(details["url"])
    return details  # type: ignore[no-any-return]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SourceRead)
def create_source(
    body: SourceCreate, session: SessionDep, settings: SettingsDep, key: WriteKey
) -> SourceRead:
    """Create a source; it is collected on its interval from now on."""
    source = service.create(session=session, data=body, allowlist=settings.url_allowlist)
    audit.record(
        session=session,
        actor=key.name,
        action="create",
        entity="source",
        entity_id=source.id,
        details={"name": source.name, "kind": source.kind, "url": mask_url(source.url or "")},
    )
    return source_read(session, source)


@router.post("/from-preset", status_code=status.HTTP_201_CREATED, response_model=SourceRead)
def create_from_preset(
    body: SourceFromPreset, session: SessionDep, settings: SettingsDep, key: WriteKey
) -> SourceRead:
    """Create a source from a platform preset (`GET /api/v1/source-presets`) and its parameters."""
    data = presets.source_for(
        body.preset, body.params, settings, name=body.name, interval_seconds=body.interval_seconds
    )
    return create_source(data, session, settings, key)


@router.get("", response_model=list[SourceRead])
def list_sources(session: SessionDep, _: ReadKey, kind: str | None = None) -> list[SourceRead]:
    """All sources with their health."""
    return [source_read(session, s) for s in service.list_sources(session=session, kind=kind)]


@router.get("/{source_id}", response_model=SourceRead)
def get_source(source_id: Id, session: SessionDep, _: ReadKey) -> SourceRead:
    """One source with its health (last success, last error, failures, next run)."""
    return source_read(session, service.get(session=session, source_id=source_id))


@router.get("/{source_id}/hotlist", response_model=list[HotListEntryRead])
def get_hotlist(source_id: Id, session: SessionDep, _: ReadKey, limit: int = 100) -> list[HotListEntryRead]:
    """A hot-list source's entries (热搜/热榜): those on the list by rank, then those that left.

    Each entry has its current and best rank and its time on the list; 400 for a source that is
    not a hot list.
    """
    source = service.get(session=session, source_id=source_id)
    if not source.hotlist:
        raise BadRequest(f"来源「{source.name}」不是热榜来源（hotlist 为 false）")
    now = utcnow()
    return [
        HotListEntryRead.of(entry, hotlist.minutes_on_list(entry, now))
        for entry in hotlist.entries(session, source.id, limit=max(1, min(limit, 500)))
    ]


@router.get("/{source_id}/runs", response_model=list[RunRead])
def list_runs(
    source_id: Id, session: SessionDep, _: ReadKey, limit: int = Query(20, ge=1, le=200)
) -> list[RunRead]:
    """The source's latest collection runs, newest first, with their warnings."""
    service.get(session=session, source_id=source_id)
    runs = service.recent_runs(session=session, source_id=source_id, limit=limit)
    return [RunRead.model_validate(run) for run in runs]


@router.patch("/{source_id}", response_model=SourceRead)
def update_source(
    source_id: Id, body: SourceUpdate, session: SessionDep, settings: SettingsDep, key: WriteKey
) -> SourceRead:
    """Change a source's name, URL, interval, options or enabled flag."""
    source = service.update(session=session, source_id=source_id, data=body, allowlist=settings.url_allowlist)
    audit.record(
        session=session,
        actor=key.name,
        action="update",
        entity="source",
        entity_id=source_id,
        details=_audit_details(body),
    )
    return source_read(session, source)


@router.delete("/{source_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_source(source_id: Id, session: SessionDep, key: AdminKey) -> Response:
    """Delete a source and everything collected from it."""
    service.delete(session=session, source_id=source_id)
    audit.record(session=session, actor=key.name, action="delete", entity="source", entity_id=source_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{source_id}/collect", response_model=RunSummary)
async def collect_now(source_id: Id, request: Request, _: WriteKey) -> RunSummary:
    """Run the source now and return the run summary.

    An `api` process does not collect itself: it makes the source due and waits for the run a
    worker records (so API processes never load the analyser).
    """
    services = request.app.state.services
    with services.db.session() as session:
        source = service.get(session=session, source_id=source_id)
        if source.kind == service.PUSH_KIND:
            from app.core.errors import BadRequest

            raise BadRequest(
                "push sources receive posts through POST /api/v1/posts; there is nothing to collect"
            )
    if services.pipeline.queue_pushes:
        wait = services.settings.collect_budget + 30
        return await asyncio.to_thread(collect_by_worker, services.db, source_id, timeout=wait)
    return await services.pipeline.collect(source_id, services.fetcher)
