"""The demo's local webhook sink: shows the signed message a real receiver would get.

`POST /api/v1/demo/sink` is a webhook receiver, so it takes no API key: it accepts only messages
signed (Standard Webhooks) with the secret of a demo channel, at most five minutes old, and keeps
the last MAX_MESSAGES in this process's memory (the demo runs as one process). `GET` lists them
for a read key. Both answer 404 when YUQING_DEMO_SINK_ENABLED is false.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections import deque
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from app.channels.models import ChannelRow
from app.channels.webhook import sign
from app.core.db import Database, utcnow
from app.core.deps import ReadKey
from app.core.errors import BadRequest, NotFound, Unauthorized

router = APIRouter(prefix="/api/v1/demo", tags=["demo"])
MAX_MESSAGES = 200
TOLERANCE_SECONDS = 300


class SinkStore:
    """Received messages, newest last, de-duplicated by webhook id (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: deque[dict[str, Any]] = deque(maxlen=MAX_MESSAGES)

    def add(self, message: dict[str, Any]) -> bool:
        """Store a message; False when its webhook id was seen already (a redelivery)."""
        with self._lock:
            if any(m["webhook_id"] == message["webhook_id"] for m in self._messages):
                return False
            self._messages.append(message)
            return True

    def list(self) -> list[dict[str, Any]]:
        """Messages, newest first."""
        with self._lock:
            return list(reversed(self._messages))


def verify(secrets: list[str], headers: dict[str, str], body: bytes, now: datetime) -> str | None:
    """Why a message is refused (a Chinese sentence), or None when one secret's signature matches."""
    message_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "").split()
    if not message_id or not stamp.isdigit() or not signatures:
        return "缺少 webhook-id、webhook-timestamp 或 webhook-signature 头"
    if abs(now.timestamp() - int(stamp)) > TOLERANCE_SECONDS:
        return "时间戳超出 5 分钟容差（可能是重放）"
    for secret in secrets:
        expected = sign(secret, message_id, int(stamp), body)
        if any(hmac.compare_digest(expected, given) for given in signatures):
            return None
    return "签名不匹配"


def _store(request: Request) -> SinkStore:
    if not request.app.state.settings.demo_sink_enabled:
        raise NotFound("演示接收器未启用（YUQING_DEMO_SINK_ENABLED=false）")
    store = getattr(request.app.state, "demo_sink", None)
    if store is None:
        store = request.app.state.demo_sink = SinkStore()
    return store


def demo_secrets(db: Database) -> list[str]:
    """Secrets of the demo webhook channels."""
    with db.session() as session:
        stmt = select(ChannelRow.secret).where(ChannelRow.demo.is_(True), ChannelRow.kind == "webhook")
        return [secret for secret in session.scalars(stmt) if secret]


@router.post("/sink", responses={401: {"description": "unsigned or wrongly signed"}})
async def receive(request: Request) -> dict[str, Any]:
    """Receive a signed webhook message from the demo channel (no API key: the signature is the check)."""
    store = _store(request)
    body = await request.body()
    headers = {key.lower(): value for key, value in request.headers.items()}
    secrets = await run_in_threadpool(demo_secrets, request.app.state.db)
    reason = verify(secrets, headers, body, utcnow())
    if reason is not None:
        raise Unauthorized(f"拒收：{reason}")
    try:
        payload = json.loads(body)
    except ValueError:
        raise BadRequest("消息体不是 JSON") from None
    message = {
        "received_at": utcnow().isoformat(),
        "webhook_id": headers["webhook-id"],
        "timestamp": int(headers["webhook-timestamp"]),
        "verified": True,
        "payload": payload,
    }
    return {"received": True, "duplicate": not store.add(message)}


@router.get("/sink")
def received(request: Request, _: ReadKey) -> dict[str, Any]:
    """What the demo sink has received, newest first, with the verified payloads."""
    messages = _store(request).list()
    return {"count": len(messages), "messages": messages}
