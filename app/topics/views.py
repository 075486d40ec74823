"""HTTP routes of a topic over a window, and of every topic at once: trend (and its export),
backtest, keywords and clusters, the day or week report (舆情简报), the overview and the side-by-side
comparison. Each asks the domain that owns the answer: `app.stats` (trends, keywords, clusters),
`app.alerts` (backtests), `app.reports` (reports), and this package's `overview` and `compare`.

Topic CRUD, preview and sentiment quality are `router.py`. Paths, tags and parameters are those the
routes always had (`tests/app/runtime/test_openapi.py`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response, StreamingResponse

from app.alerts import service as alerts
from app.alerts.schemas import BacktestRequest, BacktestResult, TrendRead
from app.core.api import (
    MAX_TOPIC_ID,
    Format,
    errors,
    export_responses,
    invalid,
    stream,
    time_window,
)
from app.core.db import utcnow
from app.core.deps import Id, OptionalUTCTime, ReadKey, SessionDep
from app.core.errors import BadRequest
from app.posts import search
from app.reports.periods import parse_date
from app.reports.render import to_html, to_markdown
from app.reports.service import build_report
from app.stats import insights, trends
from app.stats.schemas import TopicClusters, TopicKeywords
from app.topics import compare, service
from app.topics.overview import overview as build_overview
from app.topics.schemas import Comparison, Overview

router = APIRouter(prefix="/api/v1")
MAX_TREND_BUCKETS = 5000
TopicId = Annotated[int, Path(ge=1, le=MAX_TOPIC_ID)]
Start = Annotated[datetime | None, Query(description="window start (default: 24 hours before end)")]
End = Annotated[datetime | None, Query(description="window end, exclusive (default: now)")]
REPORT_CSP = "; ".join(
    [
        "default-src 'none'",
        "img-src data:",
        "style-src 'unsafe-inline'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
)


@router.get("/topics/{topic_id}/trend", response_model=TrendRead, tags=["alerts"])
def topic_trend(
    topic_id: Id,
    session: SessionDep,
    _: ReadKey,
    start: OptionalUTCTime = None,
    end: OptionalUTCTime = None,
    interval: str = Query("5m", pattern="^(5m|1h|1d)$"),
) -> TrendRead:
    """Buckets (by post time) with sentiment split, and gaps where a source of the topic was failing."""
    service.get(session=session, topic_id=topic_id)
    end = end or utcnow()
    start = start or end - timedelta(days=1)
    if end <= start:
        raise BadRequest("end must be after start")
    if (end - start) / trends.INTERVALS[interval] > MAX_TREND_BUCKETS:
        raise BadRequest("too many buckets: shorten the range or use a longer interval")
    return TrendRead.model_validate(trends.trend(session, topic_id, start, end, interval))


@router.post("/topics/{topic_id}/backtest", response_model=BacktestResult, tags=["alerts"])
def backtest(topic_id: Id, body: BacktestRequest, session: SessionDep, _: ReadKey) -> BacktestResult:
    """Run the service's volume detector over stored history to tune a topic before going live."""
    service.get(session=session, topic_id=topic_id)
    return alerts.backtest(session, topic_id, body)


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
    service.get(session=session, topic_id=topic_id)
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
    return stream(search.render_export(rows, fmt, columns), fmt, f"trend-{topic_id}-{interval}")


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
    topic = service.get(session=session, topic_id=topic_id)
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
    service.get(session=session, topic_id=topic_id)
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
        raise invalid("topic_ids", "comma-separated topic ids") from None
    start, end = time_window(start, end, timedelta(days=7))
    return compare.compare(session, ids, start, end, interval)


@router.get("/overview", response_model=Overview, tags=["overview"], responses=errors())
def get_overview(session: SessionDep, _: ReadKey) -> Overview:
    """Every topic with its current volume, negative share and open incidents, plus failing sources."""
    return build_overview(session=session, now=utcnow())


@router.get(
    "/reports/topics/{topic_id}",
    tags=["reports"],
    response_class=Response,
    responses={200: {"content": {"text/markdown": {}, "text/html": {}}, "description": "the report"}},
)
def topic_report(
    topic_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    session: SessionDep,
    _: ReadKey,
    period: Annotated[str, Query(pattern="^(day|week)$")] = "day",
    date: Annotated[str | None, Query(description="YYYY-MM-DD in China time; default today")] = None,
    format: Annotated[str, Query(pattern="^(md|html)$")] = "md",
) -> Response:
    """A topic's report for the day or week (China time) with trend chart, posts, sources and incidents."""
    report = build_report(
        session=session, topic_id=topic_id, period=period, day=parse_date(date), now=utcnow()
    )
    if format == "html":
        headers = {"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff"}
        return Response(to_html(report), media_type="text/html; charset=utf-8", headers=headers)
    return Response(to_markdown(report), media_type="text/markdown; charset=utf-8")
