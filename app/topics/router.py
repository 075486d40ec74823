"""HTTP routes for topics: CRUD, rule preview; rule changes re-tag stored posts in the background."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response, status

from app.audit import service as audit
from app.core.db import utcnow
from app.core.deps import Id, ReadKey, SessionDep, WriteKey
from app.posts import corrections
from app.posts.schemas import LabelChange, SentimentQuality, SourceAgreement
from app.topics import service
from app.topics.schemas import PreviewRequest, PreviewResult, TopicCreate, TopicRead, TopicUpdate

router = APIRouter(prefix="/api/v1/topics", tags=["topics"])
RULE_ERROR: dict[int | str, dict[str, Any]] = {
    400: {"description": "the rule does not parse; details give the position and what was expected"}
}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TopicRead, responses=RULE_ERROR)
def create_topic(
    body: TopicCreate, session: SessionDep, key: WriteKey, request: Request, tasks: BackgroundTasks
) -> TopicRead:
    """Create a topic; new posts are matched at ingest and stored posts are tagged in the background."""
    topic = service.create(session=session, data=body)
    audit.record(
        session=session,
        actor=key.name,
        action="create",
        entity="topic",
        entity_id=topic.id,
        details={"name": topic.name, "rule": topic.rule},
    )
    tasks.add_task(request.app.state.services.retag_pending)
    return service.to_read(topic)


@router.get("", response_model=list[TopicRead])
def list_topics(session: SessionDep, _: ReadKey) -> list[TopicRead]:
    """All topics."""
    return [service.to_read(t) for t in service.list_topics(session=session)]


@router.post("/preview", response_model=PreviewResult, responses=RULE_ERROR)
def preview_rule(body: PreviewRequest, session: SessionDep, _: ReadKey) -> PreviewResult:
    """How many stored posts of the last N days a rule matches, with a sample, before saving it."""
    return service.preview(
        session=session, rule_value=body.rule, days=body.days, sample=body.sample, now=utcnow()
    )


@router.get("/{topic_id}", response_model=TopicRead)
def get_topic(topic_id: Id, session: SessionDep, _: ReadKey) -> TopicRead:
    """One topic."""
    return service.to_read(service.get(session=session, topic_id=topic_id))


@router.patch("/{topic_id}", response_model=TopicRead, responses=RULE_ERROR)
def update_topic(
    topic_id: Id,
    body: TopicUpdate,
    session: SessionDep,
    key: WriteKey,
    request: Request,
    tasks: BackgroundTasks,
) -> TopicRead:
    """Change a topic; a new rule re-tags stored posts in the background."""
    topic = service.update(session=session, topic_id=topic_id, data=body)
    audit.record(
        session=session,
        actor=key.name,
        action="update",
        entity="topic",
        entity_id=topic_id,
        details=body.model_dump(exclude_unset=True),
    )
    tasks.add_task(request.app.state.services.retag_pending)
    return service.to_read(topic)


@router.delete("/{topic_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_topic(topic_id: Id, session: SessionDep, key: WriteKey) -> Response:
    """Delete a topic and its tags (posts stay)."""
    service.delete_topic(session=session, topic_id=topic_id)
    audit.record(session=session, actor=key.name, action="delete", entity="topic", entity_id=topic_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{topic_id}/sentiment-quality", response_model=SentimentQuality)
def sentiment_quality(
    topic_id: Id,
    session: SessionDep,
    _: ReadKey,
    days: Annotated[int, Query(ge=1, le=366, description="verdicts of the last N days")] = 30,
) -> SentimentQuality:
    """How often analysts disagreed with the model on this topic's posts, overall and per source."""
    service.get(session=session, topic_id=topic_id)
    since = utcnow() - timedelta(days=days)
    overall, changes, sources = corrections.quality(session, topic_id=topic_id, since=since)
    return SentimentQuality(
        topic_id=topic_id,
        since=since,
        reviewed=overall.reviewed,
        corrected=overall.corrected,
        disagreement_rate=overall.disagreement_rate,
        changes=[LabelChange(model=m, analyst=a, posts=n) for (m, a), n in sorted(changes.items())],
        sources=[
            SourceAgreement(
                source_id=source_id,
                source=name,
                reviewed=agreement.reviewed,
                corrected=agreement.corrected,
                disagreement_rate=agreement.disagreement_rate,
            )
            for source_id, name, agreement in sources
        ],
    )
