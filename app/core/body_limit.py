"""The request body limit, enforced on the byte stream as it arrives.

A body announced with `Content-Length` over the limit is refused before a byte of it is read; a body
sent without one (chunked) is counted as it arrives and refused as soon as the count passes the limit.
Either way the answer is 413 `payload_too_large` before anything parses the body, authenticates the
request or touches the database, and nothing reads the stream past the limit: a client, with or
without a key, can make the process hold at most `limit` bytes of its body (plus one network chunk).
The 413 closes the connection, since the rest of the refused body is still on its way.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import error_body


class BodyTooLarge(HTTPException):
    """The request body passed the limit while it was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            status_code=413,
            detail=too_large_message(limit),
            headers={"Connection": "close"},
        )


def too_large_message(limit: int) -> str:
    """The one message of a refused body."""
    return f"request body is over the {limit} byte limit"


class BodyLimitMiddleware:
    """Pure ASGI middleware: refuse request bodies over `limit` bytes with 413, as they arrive."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(send)
            return
        received = 0
        started = False  # whether the app's response reached the client

        async def limited_receive() -> Message:
            nonlocal received
            if received > self.limit:  # already refused: read nothing more
                raise BodyTooLarge(self.limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if received > self.limit and not started:
                return  # the app's answer to a refused body (whatever it made of the error) is replaced
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if received <= self.limit or started:
                raise
        if received > self.limit and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(error_body("payload_too_large", too_large_message(self.limit))).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
