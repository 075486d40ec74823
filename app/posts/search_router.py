"""Read API for analysts: post search and export, topic keywords, clusters and trend export, overview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse

from app.alerts import trends
from app.core.db import utcnow
from app.core.deps import ReadKey, SessionDep, SettingsDep, WriteKey
from app.core.errors import BadRequest
from app.posts import compare, corrections, insights, search
from app.posts.overview import overview as build_overview
from app.posts.schemas import PostRead, SentimentCorrectionRequest
from app.posts.search_schemas import (
    Comparison,
    ErrorResponse,
    Overview,
    PostPage,
    TopicClusters,
    TopicKeywords,
)
from app.topics import service as topics

router = APIRouter(prefix="/api/v1")
MAX_ID = 2**63 - 1
MAX_TOPIC_ID = 2**31 - 1
MAX_WINDOW = timedelta(days=366)
MAX_TREND_BUCKETS = 5000
_ERRORS = {
    400: "the request makes no sense (e.g. end before start, invalid cursor, too many buckets)",
    401: "missing or unknown API key",
    403: "the key's scope is too small",
    404: "no such topic or post",
    422: "a parameter is invalid (e.g. limit above YUQING_MAX_PAGE_SIZE)",
}
EXPORT_MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


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


def _invalid(name: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", name), "msg": message, "type": "value_error"}])


def utc(name: str, value: datetime | None) -> datetime | None:
    """A query datetime as aware UTC (naive means UTC); years outside 1970–2200 are refused."""
    if value is None:
        return None
    if not 1970 <= value.year <= 2200:
        raise _invalid(name, "date must be between 1970 and 2200")
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


def post_filters(
    topic_id: Annotated[
        int | None, Query(ge=1, le=MAX_TOPIC_ID, description="posts matched to this topic")
    ] = None,
    start: Annotated[
        datetime | None, Query(description="published at or after (ISO 8601; naive = UTC)")
    ] = None,
    end: Annotated[datetime | None, Query(description="published before")] = None,
    sentiment: Annotated[Literal["positive", "neutral", "negative"] | None, Query()] = None,
    source_id: Annotated[int | None, Query(ge=1, le=MAX_TOPIC_ID)] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="text or title contains (繁体 folded)")
    ] = None,
    cluster_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="posts of this near-duplicate cluster")
    ] = None,
) -> search.PostFilters:
    """The shared filters of search and export."""
    if q is not None and "\x00" in q:
        raise _invalid("q", "q may not contain NUL characters")
    filters = search.PostFilters(
        topic_id=topic_id,
        start=utc("start", start),
        end=utc("end", end),
        sentiment=sentiment,
        source_id=source_id,
        q=q,
        cluster_id=cluster_id,
    )
    return filters.check()


Filters = Annotated[search.PostFilters, Depends(post_filters)]
Format = Annotated[
    Literal["csv", "jsonl"], Query(alias="format", description="csv (UTF-8 with BOM) or jsonl")
]


def _stream(lines: Any, fmt: str, filename: str) -> StreamingResponse:
    headers = {"Content-Disposition": f'attachment; filename="{filename}.{fmt}"', "Cache-Control": "no-store"}
    return StreamingResponse(lines, media_type=EXPORT_MEDIA[fmt], headers=headers)


@router.get("/posts", response_model=PostPage, tags=["posts"], responses=errors(400))
def search_posts(
    filters: Filters,
    session: SessionDep,
    settings: SettingsDep,
    _: ReadKey,
    limit: Annotated[int, Query(ge=1, le=10_000, description="page size, at most YUQING_MAX_PAGE_SIZE")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, description="next_cursor of the previous page")
    ] = None,
) -> PostPage:
    """Search posts, newest first, with an opaque cursor for the next page."""
    if limit > settings.max_page_size:
        raise _invalid("limit", f"limit may be at most {settings.max_page_size}")
    posts, next_cursor = search.search(session=session, filters=filters, limit=limit, cursor=cursor)
    return PostPage(items=[PostRead.model_validate(p) for p in posts], next_cursor=next_cursor)


@router.get(
    "/posts/export",
    tags=["posts"],
    response_class=StreamingResponse,
    responses=export_responses(
        "\ufeffid,published_at,source_id,...\r\n4211,2026-11-23T00:00:00+00:00,3,...\r\n"
    ),
)
def export_posts(
    filters: Filters,
    request: Request,
    _: ReadKey,
    fmt: Format = "csv",
    limit: Annotated[int, Query(ge=1, le=search.EXPORT_MAX_ROWS)] = search.EXPORT_MAX_ROWS,
) -> StreamingResponse:
    """Stream every matching post (newest first, at most 100,000) as CSV or JSON Lines."""
    lines = search.post_export(db=request.app.state.db, filters=filters, fmt=fmt, max_rows=limit)
    return _stream(lines, fmt, "posts")


@router.get("/posts/{post_id}", response_model=PostRead, tags=["posts"], responses=errors(404))
def get_post(post_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: SessionDep, _: ReadKey) -> PostRead:
    """One stored post with its analysis."""
    return PostRead.model_validate(search.get_post(session=session, post_id=post_id))


@router.patch("/posts/{post_id}", response_model=PostRead, tags=["posts"], responses=errors(404))
def correct_post(
    post_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: SentimentCorrectionRequest,
    session: SessionDep,
    key: WriteKey,
) -> PostRead:
    """Correct a post's sentiment (人工校正): trends, reports, exports and detectors use the analyst's
    label from then on; who, when and the previous label go to the audit log."""
    corrections.correct(session=session, post_id=post_id, label=body.sentiment, actor=key.name, now=utcnow())
    return PostRead.model_validate(search.get_post(session=session, post_id=post_id))


TopicId = Annotated[int, Path(ge=1, le=MAX_TOPIC_ID)]
Start = Annotated[datetime | None, Query(description="window start (default: 24 hours before end)")]
End = Annotated[datetime | None, Query(description="window end, exclusive (default: now)")]


@router.get(
    "/topics/{topic_id}/trend/export",
    tags=["topics"],
    response_class=StreamingResponse,
    responses=export_responses("\ufeffstart,total,positive,neutral,negative,...\r\n"),
)
def export_trend(
    topic_id: TopicId,
    session: SessionDep,
    _: ReadKey,
    start: Start = None,
    end: End = None,
    interval: Annotated[Literal["5m", "1h", "1d"], Query()] = "1h",
    fmt: Format = "csv",
) -> StreamingResponse:
    """A topic's trend buckets (zeros filled) as CSV or JSON Lines."""
    topics.get(session=session, topic_id=topic_id)
    start, end = time_window(start, end, timedelta(days=1))
    if (end - start) / trends.INTERVALS[interval] > MAX_TREND_BUCKETS:
        raise BadRequest("too many buckets: shorten the range or use a longer interval")
    rows = [
        {**bucket, "start": bucket["start"].isoformat()}
        for bucket in trends.trend(session, topic_id, start, end, interval)["buckets"]
    ]
    columns = (
        "start",
        "total",
        "positive",
        "neutral",
        "negative",
        "negative_share",
        "authors",
        "sources",
        "engagement",
    )
    return _stream(search.render_export(rows, fmt, columns), fmt, f"trend-{topic_id}-{interval}")


@router.get(
    "/topics/{topic_id}/keywords", response_model=TopicKeywords, tags=["topics"], responses=errors(400, 404)
)
def topic_keywords(
    topic_id: TopicId,
    session: SessionDep,
    _: ReadKey,
    start: Start = None,
    end: End = None,
    k: Annotated[int, Query(ge=1, le=200, description="how many keywords")] = 20,
    recent: Annotated[
        int, Query(ge=1, le=288, description="burst terms of the last N 5-minute buckets")
    ] = 12,
) -> TopicKeywords:
    """TF-IDF keywords of the window (IDF from a longer background window) and its recent burst terms."""
    topic = topics.get(session=session, topic_id=topic_id)
    start, end = time_window(start, end, timedelta(days=1))
    return insights.topic_keywords(
        session=session, topic=topic, start=start, end=end, k=k, recent_buckets=recent
    )


@router.get(
    "/topics/{topic_id}/clusters", response_model=TopicClusters, tags=["topics"], responses=errors(400, 404)
)
def topic_clusters(
    topic_id: TopicId,
    session: SessionDep,
    _: ReadKey,
    start: Start = None,
    end: End = None,
    min_size: Annotated[int, Query(ge=1, le=100_000, description="smallest cluster to list")] = 2,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> TopicClusters:
    """Near-duplicate clusters of the window ("this story, N copies"), largest first."""
    topics.get(session=session, topic_id=topic_id)
    start, end = time_window(start, end, timedelta(days=1))
    return insights.topic_clusters(
        session=session, topic_id=topic_id, start=start, end=end, min_size=min_size, limit=limit
    )


@router.get("/compare", response_model=Comparison, tags=["overview"], responses=errors(400, 404))
def compare_topics(
    session: SessionDep,
    _: ReadKey,
    topic_ids: Annotated[str, Query(description="2 to 5 topic ids, comma-separated", max_length=100)],
    start: Start = None,
    end: End = None,
    interval: Annotated[Literal["5m", "1h", "1d"], Query()] = "1h",
) -> Comparison:
    """竞品对比: 2–5 topics on one time axis — volume, negative share and share of voice per bucket."""
    try:
        ids = [int(part) for part in topic_ids.split(",") if part.strip()]
    except ValueError:
        raise _invalid("topic_ids", "comma-separated topic ids") from None
    start, end = time_window(start, end, timedelta(days=7))
    return compare.compare(session, ids, start, end, interval)


@router.get("/overview", response_model=Overview, tags=["overview"], responses=errors())
def get_overview(session: SessionDep, _: ReadKey) -> Overview:
    """Every topic with its current volume, negative share and open incidents, plus failing sources."""
    return build_overview(session=session, now=utcnow())
