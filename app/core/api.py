"""Shared pieces of the HTTP read API: the one error shape and its OpenAPI entries, ids and time
windows from query parameters, and streamed CSV/JSONL exports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from app.core.db import utcnow
from app.core.errors import BadRequest

MAX_ID = 2**63 - 1
MAX_TOPIC_ID = 2**31 - 1
MAX_WINDOW = timedelta(days=366)
_ERRORS = {
    400: "the request makes no sense (e.g. end before start, invalid cursor, too many buckets)",
    401: "missing or unknown API key",
    403: "the key's scope is too small",
    404: "no such topic or post",
    422: "a parameter is invalid (e.g. limit above YUQING_MAX_PAGE_SIZE)",
}
EXPORT_MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


class ErrorDetail(BaseModel):
    """The inner part of the one error shape."""

    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["topic 7 not found"])
    details: Any = None


class ErrorResponse(BaseModel):
    """Every error: `{"error": {"code", "message", "details"}}`."""

    error: ErrorDetail


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the one error shape."""
    return {code: {"model": ErrorResponse, "description": _ERRORS[code]} for code in (401, 403, 422, *codes)}


def export_responses(example: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for a streamed CSV/JSONL export."""
    content = {
        "text/csv": {"schema": {"type": "string"}, "example": example},
        "application/x-ndjson": {"schema": {"type": "string"}},
    }
    return {200: {"description": "the export, streamed", "content": content}, **errors(400, 404)}


def invalid(name: str, message: str) -> RequestValidationError:
    """A 422 naming the query parameter `name`."""
    return RequestValidationError([{"loc": ("query", name), "msg": message, "type": "value_error"}])


def utc(name: str, value: datetime | None) -> datetime | None:
    """A query datetime as aware UTC (naive means UTC); years outside 1970–2200 are refused."""
    if value is None:
        return None
    if not 1970 <= value.year <= 2200:
        raise invalid(name, "date must be between 1970 and 2200")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def time_window(
    start: datetime | None, end: datetime | None, default: timedelta
) -> tuple[datetime, datetime]:
    """[start, end) in UTC; `end` defaults to now and `start` to `default` before it."""
    end = utc("end", end) or utcnow()
    start = utc("start", start) or end - default
    if end <= start:
        raise BadRequest("end must be after start")
    if end - start > MAX_WINDOW:
        raise BadRequest("the time range may span at most 366 days")
    return start, end


Format = Annotated[
    Literal["csv", "jsonl"], Query(alias="format", description="csv (UTF-8 with BOM) or jsonl")
]


def stream(lines: Any, fmt: str, filename: str) -> StreamingResponse:
    """A streamed export as an attachment `filename.fmt`."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}.{fmt}"', "Cache-Control": "no-store"}
    return StreamingResponse(lines, media_type=EXPORT_MEDIA[fmt], headers=headers)
