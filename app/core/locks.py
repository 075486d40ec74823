"""Every PostgreSQL advisory lock Yuqing takes, in one place, with the one order they are taken in.

SQLite has one writer at a time and needs none of them; callers skip them there.

Transaction-scoped locks (released at commit or rollback). A transaction that holds one of these
takes only locks further down the list, never one above it, so no two transactions wait on each
other in a circle:

    1. CLUSTERS  one global key: near-duplicate cluster assignment (app/posts/clusters.py). Ingest
                 holds it from the cluster lookup to commit; a queued batch commits right after it
                 (app/posts/queue.py), before it takes the locks below.
    2. TOPIC     one key per topic: shared while a batch adds its posts to the topic's rollups
                 (app/stats/rollups.py `lock_topics`), exclusive while a re-tag rebuilds them
                 (app/topics/service.py `retag`). Several topics are always locked in ascending id order.
    3. INCIDENT  one key per topic: opening the topic's incident (app/alerts/incidents.py), so two
                 transactions judging one topic at once open one incident.

Session-scoped lock (held by a dedicated connection, outside any transaction):

    SCHEDULER    one global key: which process runs the singleton jobs (app/runtime/jobs.py).

Row locks (`FOR UPDATE`, `SKIP LOCKED`) are not listed here; they live with their queries
(deliveries, sources, push batches, the coordination state).
"""

from __future__ import annotations

from enum import IntEnum

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session


class LockKey(IntEnum):
    """Advisory lock keys; the values spell their names in ASCII ("YQCL", …)."""

    CLUSTERS = 0x5951_434C  # "YQCL"
    TOPIC = 0x5951_5450  # "YQTP" (with the topic id)
    INCIDENT = 0x5951_494E  # "YQIN" (with the topic id)
    SCHEDULER = 0x5951_5343  # "YQSC"


def xact_lock(session: Session, key: LockKey, item: int | None = None, *, shared: bool = False) -> None:
    """Wait for a transaction-scoped advisory lock (PostgreSQL only): `key`, or `key` with `item`."""
    args = (int(key),) if item is None else (int(key), item)
    lock = func.pg_advisory_xact_lock_shared if shared else func.pg_advisory_xact_lock
    session.execute(select(lock(*args)))


def try_session_lock(connection: Connection, key: LockKey) -> bool:
    """Try to take a session-scoped advisory lock on this connection; True when it is ours."""
    return bool(connection.execute(select(func.pg_try_advisory_lock(int(key)))).scalar())
