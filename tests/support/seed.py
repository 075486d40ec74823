"""Test data made the way users make it: topics and pushed posts through the API, incidents through
the alert code. Works with a TestClient or an httpx.Client pointed at a live server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from analysis.grading import GradingInputs, grade
from app.alerts import incidents
from app.core.db import Database
from app.posts.models import Topic

NOW_SLACK = timedelta(seconds=30)


def now() -> datetime:
    """Current UTC time to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    """ISO 8601 with an explicit UTC offset."""
    return moment.astimezone(UTC).isoformat()


def create_topic(
    client: Any, headers: dict[str, str], name: str, rule: Any, services: Any = None
) -> dict[str, Any]:
    """Create a topic through the API, then finish its re-tag in the foreground.

    The router's background re-tag runs before the request's session commits, so it cannot see the
    new topic; the next topic's background re-tag would then wait on SQLite's write lock. Settling
    here keeps tests independent of that ordering (reported to the lead).
    """
    response = client.post("/api/v1/topics", json={"name": name, "rule": rule}, headers=headers)
    assert response.status_code == 201, response.text
    if services is None and hasattr(client, "app"):
        services = client.app.state.services
    if services is not None:
        services.retag_pending()
    return response.json()


def push(client: Any, headers: dict[str, str], source: str, posts: list[dict[str, Any]]) -> dict[str, Any]:
    """Push posts through the API; every post must be accepted."""
    response = client.post("/api/v1/posts", json={"source": source, "posts": posts}, headers=headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["rejected"] == [], result
    return result


def post(ident: str, text: str, at: datetime, **extra: Any) -> dict[str, Any]:
    """One push post."""
    return {
        "id": ident,
        "text": text,
        "published_at": iso(at),
        "author": extra.pop("author", f"作者{ident}"),
        **extra,
    }


def open_incident(db: Database, topic_id: int, *, at: datetime | None = None, ratio: float = 9.0) -> int:
    """Record a graded alert for a topic (opening its incident) and return the incident id."""
    inputs = GradingInputs(
        observed=40,
        baseline=4.0,
        ratio=ratio,
        negative=30,
        negative_share=0.75,
        distinct_sources=1,
        authors=35,
        critical_terms=("召回",),
    )
    grading = grade(inputs)
    moment = at or now()
    with db.session() as session:
        topic = session.get(Topic, topic_id)
        _, incident = incidents.record_alert(
            session,
            topic=topic,
            detector="volume",
            grading=grading,
            headline=f"声量 5 分钟内 40 条，为基线 {ratio:.1f} 倍",
            observed=40,
            baseline=4.0,
            ratio=ratio,
            score=12.0,
            bucket=moment,
            now=moment,
        )
        session.flush()
        return incident.id
