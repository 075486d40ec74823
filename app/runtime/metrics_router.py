"""`GET /metrics`: Prometheus text format, read scope (configure the scraper with a bearer key)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, or_, select

from app.channels.models import Delivery
from app.core.db import Database, utcnow
from app.core.deps import ReadKey
from app.core.metrics import REGISTRY
from app.core.vocab import DeliveryStatus
from app.posts import queue as ingest_queue
from app.sources.models import Source

router = APIRouter(tags=["health"])


class QueueGauges(Collector):
    """Live queue and outbox depth, read from the database at scrape time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Due sources, pending deliveries and queued pushes."""
        now = utcnow()
        with self.db.session() as session:
            due = session.scalar(
                select(func.count(Source.id)).where(
                    Source.enabled.is_(True),
                    Source.kind != "push",
                    or_(Source.next_run_at.is_(None), Source.next_run_at <= now),
                )
            )
            pending = session.scalar(
                select(func.count(Delivery.id)).where(Delivery.status == DeliveryStatus.PENDING)
            )
            failing = session.scalar(select(func.count(Source.id)).where(Source.consecutive_failures > 0))
            queued, failed_batches = ingest_queue.depth(session)
            oldest = ingest_queue.oldest_age(session, now)
        yield GaugeMetricFamily("yuqing_sources_due", "Sources due for collection now", value=due or 0)
        yield GaugeMetricFamily(
            "yuqing_outbox_pending", "Deliveries waiting in the outbox", value=pending or 0
        )
        yield GaugeMetricFamily("yuqing_sources_failing", "Sources whose last run failed", value=failing or 0)
        yield GaugeMetricFamily(
            "yuqing_ingest_queue_posts", "Pushed posts queued for a worker's analysis", value=queued
        )
        yield GaugeMetricFamily(
            "yuqing_ingest_queue_oldest_seconds",
            "Age of the oldest queued push batch (0 when none waits): how far storage lags acceptance",
            value=oldest,
        )
        yield GaugeMetricFamily(
            "yuqing_ingest_queue_failed_batches",
            "Queued push batches that failed every attempt (kept for an operator)",
            value=failed_batches,
        )


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, _: ReadKey) -> Response:
    """Every metric of this process in the Prometheus text format."""
    state = request.app.state
    if not getattr(state, "queue_gauges", None):
        state.queue_gauges = QueueGauges(state.db)
    body = generate_latest(REGISTRY) + b"".join(_render_live(state.queue_gauges))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _render_live(gauges: QueueGauges) -> Iterator[bytes]:
    for family in gauges.collect():
        yield f"# HELP {family.name} {family.documentation}\n# TYPE {family.name} gauge\n".encode()
        for sample in family.samples:
            yield f"{sample.name} {sample.value}\n".encode()
