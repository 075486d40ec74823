"""Collect a source now from an API process: make it due and wait for the run a worker finishes.

`POST /api/v1/sources/{id}/collect` uses this when the process queues pushes for workers (PostgreSQL
with separate roles); a process that collects itself runs the source directly.
"""

from __future__ import annotations

import time

from sqlalchemy import select

from app.core.db import Database, utcnow
from app.core.errors import ServiceUnavailable
from app.sources.models import SourceRun
from app.sources.schemas import RunSummary
from app.sources.service import get


def collect_by_worker(db: Database, source_id: int, *, timeout: float, poll: float = 0.2) -> RunSummary:
    """Make a source due now and wait for the next run a worker finishes (for API processes)."""
    asked = utcnow()
    with db.session() as session:
        get(session=session, source_id=source_id).next_run_at = asked
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.session() as session:
            run = session.scalar(
                select(SourceRun)
                .where(SourceRun.source_id == source_id, SourceRun.finished_at >= asked)
                .order_by(SourceRun.finished_at)
                .limit(1)
            )
            if run is not None:
                name = get(session=session, source_id=source_id).name
                return RunSummary(
                    source_id=source_id,
                    source=name,
                    status=run.status,
                    new=run.new,
                    duplicates=run.duplicates,
                    not_modified=run.status == "not_modified",
                    error=run.error,
                    duration_ms=int((run.finished_at - run.started_at).total_seconds() * 1000),
                )
        time.sleep(poll)
    raise ServiceUnavailable(
        f"no worker collected source {source_id} within {timeout:.0f} s: is a `yuqing serve --role worker` "
        "(or `all`) process running against this database?"
    )
