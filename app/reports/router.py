"""HTTP route for 舆情简报: a topic's day or week report as Markdown or HTML."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from app.core.db import utcnow
from app.core.deps import ReadKey, SessionDep
from app.reports.periods import parse_date
from app.reports.render import to_html, to_markdown
from app.reports.service import build_report

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
REPORT_CSP = "; ".join(
    [
        "default-src 'none'",
        "img-src data:",
        "style-src 'unsafe-inline'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
)


@router.get(
    "/topics/{topic_id}",
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
