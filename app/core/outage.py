"""How background work reports a database outage: one line when it starts, one when it ends.

Every background job of a process (collection ticks, queued ingest, the dispatcher, singleton jobs)
reports its database errors to the process's one `Outage` and its successes too. While the database
is unreachable the jobs keep trying on their own schedule, quietly; the log carries one error line when
the first job fails and one line when a job succeeds again, with how long it lasted.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)


def is_database_error(exc: BaseException) -> bool:
    """Whether an error means the database could not be reached or used (not a bug of ours)."""
    return isinstance(exc, DBAPIError)


class Outage:
    """The database outage state of one process, shared by its background jobs (thread-safe)."""

    def __init__(self) -> None:
        self._since: float | None = None
        self._failures = 0
        self._lock = threading.Lock()

    @property
    def ongoing(self) -> bool:
        """Whether the last database access of a background job failed."""
        return self._since is not None

    def failed(self, job: str, exc: BaseException) -> None:
        """A background job could not use the database; logs only the first failure of an outage."""
        with self._lock:
            self._failures += 1
            if self._since is not None:
                log.debug("%s: database still unavailable (%s)", job, type(exc).__name__)
                return
            self._since = time.monotonic()
        reason = getattr(exc, "orig", None) or exc
        first_line = (str(reason).strip().splitlines() or [""])[0][:200]
        log.error(
            "database unavailable (%s in %s: %s); background jobs keep retrying quietly until it is back",
            type(reason).__name__,
            job,
            first_line,
        )

    def succeeded(self) -> None:
        """A background job used the database; logs the end of an outage once."""
        if self._since is None:
            return
        with self._lock:
            if self._since is None:
                return
            lasted, failures = time.monotonic() - self._since, self._failures
            self._since, self._failures = None, 0
        log.warning(
            "database available again after %.0f s (%d failed background attempts); jobs resume",
            lasted,
            failures,
        )
