"""HTTP routes: alert channels (CRUD and a test message) and the delivery log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError

from app.audit import service as audit
from app.channels import sending, service
from app.channels.base import DeliveryResult, Outcome
from app.channels.models import ChannelRow
from app.channels.registry import get_channel
from app.channels.schemas import (
    AttemptRead,
    ChannelCreate,
    ChannelRead,
    ChannelTestResult,
    ChannelUpdate,
    DeliveryRead,
)
from app.core.db import utcnow
from app.core.deps import AdminKey, Id, IdFilter, ReadKey, SessionDep, SettingsDep, WriteKey
from app.core.errors import BadRequest
from app.core.masking import redact
from app.core.urls import address_check, outgoing_client
from app.core.vocab import DeliveryStatus

router = APIRouter(prefix="/api/v1", tags=["channels"])


def channel_read(channel: ChannelRow) -> ChannelRead:
    """The API view of a channel: no secret, credentials in the URL masked."""
    return ChannelRead(
        id=channel.id,
        name=channel.name,
        kind=channel.kind,
        label=get_channel(channel.kind).label,
        url=service.mask_url(channel.url),
        has_secret=bool(channel.secret),
        topics=channel.topics,
        min_grade=channel.min_grade,
        quiet_hours=channel.quiet_hours,
        mention=channel.mention or [],
        options=redact(channel.options or {}),
        enabled=channel.enabled,
        healthy=channel.healthy,
        last_error=channel.last_error,
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


def _audit_details(body: ChannelCreate | ChannelUpdate, channel: ChannelRow) -> dict[str, Any]:
    details = body.model_dump(exclude_unset=True, exclude={"secret", "url"}, mode="json")
    if "url" in body.model_fields_set:
        details["url"] = service.mask_url(channel.url)
    if "secret" in body.model_fields_set:
        details["secret_changed"] = True
    return details


@router.post("/channels", status_code=status.HTTP_201_CREATED, response_model=ChannelRead)
def create_channel(
    body: ChannelCreate, session: SessionDep, settings: SettingsDep, key: WriteKey
) -> ChannelRead:
    """Create a channel; by default it gets every topic and every grade at any hour."""
    channel = service.create(session=session, data=body, allowlist=settings.url_allowlist)
    audit.record(
        session=session,
        actor=key.name,
        action="create",
        entity="channel",
        entity_id=channel.id,
        details=_audit_details(body, channel),
    )
    return channel_read(channel)


@router.get("/channels", response_model=list[ChannelRead])
def list_channels(session: SessionDep, _: ReadKey) -> list[ChannelRead]:
    """Every channel with its health."""
    return [channel_read(channel) for channel in service.list_channels(session=session)]


@router.get("/channels/{channel_id}", response_model=ChannelRead)
def get_channel_route(channel_id: Id, session: SessionDep, _: ReadKey) -> ChannelRead:
    """One channel with its health (last error of a permanent failure)."""
    return channel_read(service.get(session=session, channel_id=channel_id))


@router.patch("/channels/{channel_id}", response_model=ChannelRead)
def update_channel(
    channel_id: Id, body: ChannelUpdate, session: SessionDep, settings: SettingsDep, key: WriteKey
) -> ChannelRead:
    """Change a channel; a changed URL, secret or options is validated again and marks it healthy."""
    channel = service.update(
        session=session, channel_id=channel_id, data=body, allowlist=settings.url_allowlist
    )
    audit.record(
        session=session,
        actor=key.name,
        action="update",
        entity="channel",
        entity_id=channel_id,
        details=_audit_details(body, channel),
    )
    return channel_read(channel)


@router.delete("/channels/{channel_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_channel(channel_id: Id, session: SessionDep, key: AdminKey) -> Response:
    """Delete a channel and its deliveries."""
    service.delete(session=session, channel_id=channel_id)
    audit.record(session=session, actor=key.name, action="delete", entity="channel", entity_id=channel_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _test_result(result: DeliveryResult, requests: int) -> ChannelTestResult:
    return ChannelTestResult(
        ok=result.ok,
        outcome=result.outcome.value,
        http_status=result.http_status,
        vendor_code=None if result.vendor_code is None else str(result.vendor_code),
        vendor_message=result.vendor_message,
        detail=result.detail,
        requests=requests,
        message=sending.describe(result),
    )


@router.post("/channels/{channel_id}/test", response_model=ChannelTestResult)
async def test_channel(channel_id: Id, request: Request, key: WriteKey) -> ChannelTestResult:
    """Send a test message now and report the vendor's answer (a permanent error marks the channel)."""
    services, settings = request.app.state.services, request.app.state.settings
    with services.db.session() as session:
        channel = service.get(session=session, channel_id=channel_id)
        config, kind = service.channel_config(channel), channel.kind
        notice = sending.make_test_notice(channel, now=utcnow(), base_url=settings.base_url)
    async with outgoing_client(settings) as client:
        report = await sending.send_notice(
            kind=kind,
            config=config,
            notice=notice,
            client=client,
            timeout=settings.outbox_send_timeout_seconds,
            clock=utcnow,
            guard=address_check(settings.url_allowlist, settings.base_url),
        )
    answer = _test_result(report.result or DeliveryResult(Outcome.OK), len(report.attempts))
    with services.db.session() as session:
        channel = service.get(session=session, channel_id=channel_id)
        if answer.ok:
            channel.healthy, channel.last_error = True, None
        elif answer.outcome == Outcome.PERMANENT:
            channel.healthy, channel.last_error = False, answer.message
        details = {
            "outcome": answer.outcome,
            "http_status": answer.http_status,
            "vendor_code": answer.vendor_code,
        }
        audit.record(
            session=session,
            actor=key.name,
            action="test",
            entity="channel",
            entity_id=channel_id,
            details=details,
        )
    return answer


@router.get("/deliveries", response_model=list[DeliveryRead])
def list_deliveries(
    session: SessionDep,
    settings: SettingsDep,
    _: ReadKey,
    channel_id: IdFilter = None,
    status_filter: Annotated[str | None, Query(alias="status")] = None,
    incident_id: IdFilter = None,
    limit: Annotated[int, Query(ge=1)] = 100,
    before_id: IdFilter = None,
) -> list[DeliveryRead]:
    """Deliveries newest first, with every attempt and the vendor's answer; page with `before_id`."""
    if limit > settings.max_page_size:
        error = {
            "loc": ("query", "limit"),
            "msg": f"limit may be at most {settings.max_page_size}",
            "type": "value_error",
        }
        raise RequestValidationError([error])
    if status_filter is not None and status_filter not in set(DeliveryStatus):
        raise BadRequest(f"status 必须是 {'、'.join(DeliveryStatus)} 之一")
    rows = service.list_deliveries(
        session=session,
        channel_id=channel_id,
        status=status_filter,
        incident_id=incident_id,
        limit=limit,
        before_id=before_id,
    )
    return [
        DeliveryRead(
            id=delivery.id,
            notice_id=delivery.notice_id,
            notice_kind=notice.kind,
            grade=notice.grade,
            headline=str(notice.payload.get("headline", "")),
            channel_id=delivery.channel_id,
            incident_id=delivery.incident_id,
            status=DeliveryStatus(delivery.status),
            attempt_count=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
            last_error=delivery.last_error,
            digest_of=delivery.digest_of,
            attempts=[AttemptRead.model_validate(attempt) for attempt in attempts],
        )
        for delivery, notice, attempts in rows
    ]
