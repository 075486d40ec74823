"""Read API for analysts: post search, export, one post, and an analyst's sentiment correction (a topic's
keywords, clusters, trend export and the overview: `app/topics/views.py`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from app.core.api import MAX_ID, MAX_TOPIC_ID, Format, errors, export_responses, invalid, stream, utc
from app.core.db import utcnow
from app.core.deps import ReadKey, SessionDep, SettingsDep, WriteKey
from app.posts import corrections, search
from app.posts.schemas import PostRead, SentimentCorrectionRequest
from app.posts.search_schemas import PostPage

router = APIRouter(prefix="/api/v1")


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
        raise invalid("q", "q may not contain NUL characters")
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
        raise invalid("limit", f"limit may be at most {settings.max_page_size}")
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
    return stream(lines, fmt, "posts")


@router.get("/posts/{post_id}", response_model=PostRead, tags=["posts"], responses=errors(404))
def get_post(post_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: SessionDep, _: ReadKey) -> PostRead:
    """One stored post with its analysis."""
    return PostRead.model_validate(search.get_post(session=session, post_id=post_id))


@router.patch("/posts/{post_id}", response_model=PostRead, tags=["posts"], responses=errors(404))
def correct_post(
    post_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: SentimentCorrectionRequest,
    request: Request,
    session: SessionDep,
    key: WriteKey,
) -> PostRead:
    """Correct a post's sentiment (人工校正): trends, reports, exports and detectors use the analyst's
    label from then on; who, when and the previous label go to the audit log."""
    corrections.correct(
        session=session,
        post_id=post_id,
        label=body.sentiment,
        actor=key.name,
        now=utcnow(),
        hooks=request.app.state.services.relabel_hooks,
    )
    return PostRead.model_validate(search.get_post(session=session, post_id=post_id))
