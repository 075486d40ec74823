"""Channel CRUD, config assembly and validation, and the delivery log.

Services take keyword-only arguments and never commit; the caller owns the transaction.
A channel row keeps `url`, `secret` and `mention` in columns and the kind-specific settings in
`options`; `config_data()` puts them together for the kind's `parse_config`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete as sa_delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.channels.base import ChannelConfig
from app.channels.models import ChannelRow, Delivery, DeliveryAttempt, NoticeRow
from app.channels.registry import CHANNEL_KINDS, UnknownChannel, get_channel
from app.channels.schemas import ChannelCreate, ChannelUpdate
from app.core.errors import BadRequest, Conflict, NotFound
from app.core.masking import REDACTED, mask_url, restore_masked_url, restore_redacted
from app.core.urls import check_url
from app.posts.models import Topic

__all__ = ["mask_url"]  # the API view of a channel URL (app/core/masking.py)

RESERVED_OPTIONS = ("url", "secret", "mention")
CONFIG_FIELDS = ("url", "secret", "mention", "options")


def config_data(
    *, url: str, secret: str | None, mention: Sequence[str], options: dict[str, Any]
) -> dict[str, Any]:
    """The dict a channel kind's `parse_config` validates."""
    return {**options, "url": url, "secret": secret, "mention": list(mention)}


def parse_config(kind: str, data: dict[str, Any]) -> ChannelConfig:
    """Validate a channel config for its kind; BadRequest (400) names every problem."""
    try:
        channel = get_channel(kind)
    except UnknownChannel:
        raise BadRequest(f"未知的通道类型 {kind!r}，可选：{'、'.join(CHANNEL_KINDS)}") from None
    try:
        return channel.parse_config(data)
    except ValidationError as exc:
        problems = [{"loc": [str(p) for p in err["loc"]], "msg": err["msg"]} for err in exc.errors()]
        summary = "；".join(f"{'.'.join(p['loc']) or '配置'}: {p['msg']}" for p in problems)
        raise BadRequest(f"{channel.label}通道配置无效：{summary}", details=problems) from None


def channel_config(channel: ChannelRow) -> ChannelConfig:
    """The stored channel's parsed config."""
    data = config_data(
        url=channel.url, secret=channel.secret, mention=channel.mention or [], options=channel.options or {}
    )
    return parse_config(channel.kind, data)


def _validate(session: Session, kind: str, values: dict[str, Any], allowlist: Sequence[str]) -> None:
    reserved = [key for key in RESERVED_OPTIONS if key in values["options"]]
    if reserved:
        raise BadRequest(f"options 中不能包含 {'、'.join(reserved)}，请使用同名的顶层字段")
    config = parse_config(
        kind,
        config_data(
            url=values["url"], secret=values["secret"], mention=values["mention"], options=values["options"]
        ),
    )
    check_url(get_channel(kind).address_url(config), allowlist)
    topics = values.get("topics")
    if topics:
        known = set(session.scalars(select(Topic.id).where(Topic.id.in_(topics))))
        missing = sorted(set(topics) - known)
        if missing:
            raise BadRequest(f"话题不存在：{missing}", details={"topics": missing})


def _restore_masked(
    values: dict[str, Any], *, url: str | None, secret: str | None, options: dict[str, Any] | None
) -> dict[str, Any]:
    """Masked URL pieces, secret and options sent back as the API showed them keep the stored values.

    Raises:
        BadRequest: a masked value with nothing (or something else) stored behind it.
    """
    restored = dict(values)
    try:
        if restored.get("url") is not None:
            restored["url"] = restore_masked_url(restored["url"], url)
        if restored.get("options") is not None:
            restored["options"] = restore_redacted(restored["options"], options)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if restored.get("secret") == REDACTED:
        if secret is None:
            raise BadRequest(f"secret is {REDACTED!r} (masked) and no secret is stored: send the real value")
        restored["secret"] = secret
    return restored


def get(*, session: Session, channel_id: int) -> ChannelRow:
    """A channel by id, or NotFound."""
    channel = session.get(ChannelRow, channel_id)
    if channel is None:
        raise NotFound(f"通道 {channel_id} 不存在")
    return channel


def list_channels(*, session: Session) -> list[ChannelRow]:
    """Every channel in id order."""
    return list(session.scalars(select(ChannelRow).order_by(ChannelRow.id)))


def _name_taken(session: Session, name: str, except_id: int | None = None) -> bool:
    found = session.scalar(select(ChannelRow.id).where(ChannelRow.name == name))
    return found is not None and found != except_id


def create(*, session: Session, data: ChannelCreate, allowlist: Sequence[str] = ()) -> ChannelRow:
    """Create a channel after validating its kind, config, URL (SSRF guard) and topics."""
    if _name_taken(session, data.name):
        raise Conflict(f"通道名称 {data.name!r} 已存在")
    values = _restore_masked(data.model_dump(), url=None, secret=None, options={})
    values["quiet_hours"] = data.quiet_hours.model_dump() if data.quiet_hours else None
    _validate(session, data.kind, values, allowlist)
    channel = ChannelRow(**values, healthy=True)
    session.add(channel)
    session.flush()
    return channel


def update(
    *, session: Session, channel_id: int, data: ChannelUpdate, allowlist: Sequence[str] = ()
) -> ChannelRow:
    """Apply a partial update; a config change re-validates and clears the unhealthy mark."""
    channel = get(session=session, channel_id=channel_id)
    changes = _restore_masked(
        data.model_dump(exclude_unset=True), url=channel.url, secret=channel.secret, options=channel.options
    )
    if "quiet_hours" in changes:
        changes["quiet_hours"] = data.quiet_hours.model_dump() if data.quiet_hours else None
    if changes.get("name") and _name_taken(session, changes["name"], channel.id):
        raise Conflict(f"通道名称 {changes['name']!r} 已存在")
    for required in ("name", "url", "min_grade", "mention", "options", "enabled"):
        if required in changes and changes[required] is None:
            raise BadRequest(f"{required} 不能为空")
    current = {key: getattr(channel, key) for key in (*CONFIG_FIELDS, "topics")}
    _validate(session, channel.kind, {**current, **changes}, allowlist)
    for key, value in changes.items():
        setattr(channel, key, value)
    if any(key in changes for key in CONFIG_FIELDS) or changes.get("enabled"):
        channel.healthy, channel.last_error = True, None
    return channel


def delete(*, session: Session, channel_id: int) -> None:
    """Delete a channel with its queued and past deliveries."""
    channel = get(session=session, channel_id=channel_id)
    session.execute(sa_delete(Delivery).where(Delivery.channel_id == channel.id))
    session.delete(channel)


def list_deliveries(
    *,
    session: Session,
    channel_id: int | None = None,
    status: str | None = None,
    incident_id: int | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[tuple[Delivery, NoticeRow, list[DeliveryAttempt]]]:
    """Deliveries newest first with their notice and attempts."""
    stmt = select(Delivery, NoticeRow).join(NoticeRow, NoticeRow.id == Delivery.notice_id)
    for column, value in (
        (Delivery.channel_id, channel_id),
        (Delivery.status, status),
        (Delivery.incident_id, incident_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if before_id is not None:
        stmt = stmt.where(Delivery.id < before_id)
    rows = [
        (delivery, notice)
        for delivery, notice in session.execute(stmt.order_by(Delivery.id.desc()).limit(limit))
    ]
    attempts: dict[int, list[DeliveryAttempt]] = {delivery.id: [] for delivery, _ in rows}
    if attempts:
        query = (
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(attempts))
            .order_by(DeliveryAttempt.id)
        )
        for attempt in session.scalars(query):
            attempts[attempt.delivery_id].append(attempt)
    return [(delivery, notice, attempts[delivery.id]) for delivery, notice in rows]
