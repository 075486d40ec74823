"""A bounded load generator for `yuqing serve` on loopback: pushers and dashboard readers.

Pusher threads post batches of Chinese posts to `POST /api/v1/posts` at a target total rate (paced on
a fixed schedule; a pusher that falls behind sends its next batch at once instead of building up a
backlog). A batch answered 503 or cut off by a dropped connection or a timeout is sent again with the
same post ids until it is answered, so "accepted" means the service answered 200 for the post — as new
or as a duplicate of its own earlier, unanswered try. Reader threads meanwhile query the dashboard API
(overview, trends, post search, incidents), and an admin thread may add topics meanwhile (each is
re-tagged and judged while posts for it keep arriving). Every answer is counted by endpoint and
status, and the
ids of accepted posts are kept per source, so the caller can check that every accepted post is
stored exactly once and that nothing answered 5xx.

Used by tests/app/runtime/test_faults.py (load and PostgreSQL-restart tests) and by the benchmarks::

    plan = LoadPlan(rate=500, seconds=60, texts=synthetic_corpus(5000).texts, topic_ids=(1, 2))
    with LoadGenerator("http://127.0.0.1:8000", key, plan) as load:
        ...                   # runs in background threads until `seconds` have passed or stop()
    result = load.result      # statuses, accepted ids, latencies, achieved rate

Only loopback URLs are accepted; nothing runs longer than `seconds` plus one retry window.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Self
from urllib.parse import urlsplit

import httpx

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_FAILURES_KEPT = 50


@dataclass(frozen=True)
class LoadPlan:
    """What to send: total rate, duration, batch size, threads, sources, texts and what to read."""

    texts: Sequence[str]
    rate: float = 500.0  # posts/s offered over all pushers
    seconds: float = 60.0
    batch: int = 100
    pushers: int = 3
    readers: int = 2
    read_pause: float = 0.2  # think time of a reader between requests (a dashboard polls, it does not hammer)
    sources: tuple[str, ...] = ("load-a", "load-b")
    topic_ids: tuple[int, ...] = ()  # topics the readers query (trend, search, incidents)
    new_topics: tuple[tuple[str, str], ...] = ()  # (name, rule) created one by one during the run
    authors: int = 300  # a small pool, so concurrent batches share authors (rollup members)
    late_share: float = 0.05  # posts published hours ago (they update old buckets and replay detectors)
    spread_seconds: float = 300.0  # the others were published within this many seconds before sending
    platforms: tuple[str, ...] = ("weibo", "douyin", "zhihu")
    prefix: str = "load"
    request_timeout: float = 30.0
    retry_for: float = 60.0  # how long one batch is retried on 503, timeouts and dropped connections
    seed: int = 5


@dataclass
class LoadResult:
    """Everything the generator saw."""

    accepted: dict[str, set[str]] = field(default_factory=dict)  # source -> ids answered 200
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)  # (endpoint, status); 0 = no answer
    failures: list[str] = field(default_factory=list)  # 5xx bodies, unexpected answers, give-ups
    push_latencies: list[float] = field(default_factory=list)  # seconds per answered push request
    read_latencies: list[float] = field(default_factory=list)
    retries: int = 0
    gave_up: int = 0  # batches never answered 200 within `retry_for`
    started: float = 0.0
    stopped: float = 0.0

    @property
    def accepted_count(self) -> int:
        """Posts answered 200 over all sources."""
        return sum(len(ids) for ids in self.accepted.values())

    @property
    def achieved_rate(self) -> float:
        """Accepted posts per second of the run."""
        return self.accepted_count / max(self.stopped - self.started, 1e-9)

    def count(self, *, endpoint: str | None = None, status: int | None = None, at_least: int = 0) -> int:
        """How many answers matched an endpoint (None: any), a status (None: any) and `status >= at_least`."""
        return sum(
            n
            for (name, code), n in self.statuses.items()
            if (endpoint is None or name == endpoint)
            and (status is None or code == status)
            and code >= at_least
        )

    @property
    def server_errors(self) -> int:
        """Answers with a 5xx status."""
        return self.count(at_least=500)

    def summary(self) -> str:
        """One line for logs and assertion messages."""
        codes = ", ".join(f"{name} {code}: {n}" for (name, code), n in sorted(self.statuses.items()))
        return (
            f"accepted {self.accepted_count} posts ({self.achieved_rate:.0f}/s), retries {self.retries}, "
            f"gave up {self.gave_up}; answers: {codes}; first failures: {self.failures[:3]}"
        )


class LoadGenerator:
    """Runs a `LoadPlan` against one server in background threads; see the module docstring."""

    def __init__(self, base_url: str, key: str, plan: LoadPlan) -> None:
        host = urlsplit(base_url).hostname or ""
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"the load generator only talks to loopback, not {host!r}")
        if not plan.texts:
            raise ValueError("the plan needs texts to post")
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {key}"}
        self.plan = plan
        self.result = LoadResult(accepted={source: set() for source in plan.sources})
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._deadline = 0.0
        self.topic_ids: list[int] = list(plan.topic_ids)  # grows as the admin thread adds topics

    # ------------------------------------------------------------------ control

    def start(self) -> Self:
        """Start the pushers and readers."""
        self.result.started = time.monotonic()
        self._deadline = self.result.started + self.plan.seconds
        for index in range(self.plan.pushers):
            self._spawn(self._pusher, index)
        for index in range(self.plan.readers):
            self._spawn(self._reader, index)
        if self.plan.new_topics:
            self._spawn(self._topic_admin, 0)
        return self

    def stop(self) -> None:
        """Ask every thread to finish: pushers stop after their current batch is answered or given up."""
        self._stop.set()

    def wait(self) -> LoadResult:
        """Wait for the threads (bounded: the plan's duration plus one retry window); return the result."""
        limit = self._deadline + self.plan.retry_for + self.plan.request_timeout + 10
        for thread in self._threads:
            thread.join(timeout=max(limit - time.monotonic(), 0.1))
        self.stop()
        self.result.stopped = time.monotonic()
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        if alive:
            self._fail(f"threads still running at the time limit: {alive}")
        return self.result

    @property
    def running(self) -> bool:
        """True until the duration has passed or stop() was called."""
        return not self._stop.is_set() and time.monotonic() < self._deadline

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is not None:
            self.stop()
        self.wait()

    def _spawn(self, target: Any, index: int) -> None:
        thread = threading.Thread(
            target=target, args=(index,), name=f"{target.__name__}-{index}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _fail(self, message: str) -> None:
        with self._lock:
            if len(self.result.failures) < MAX_FAILURES_KEPT:
                self.result.failures.append(message)

    def _count(self, endpoint: str, status: int, seconds: float | None, *, push: bool) -> None:
        with self._lock:
            self.result.statuses[(endpoint, status)] += 1
            if seconds is not None:
                (self.result.push_latencies if push else self.result.read_latencies).append(seconds)

    # ------------------------------------------------------------------ pushers

    def _pusher(self, index: int) -> None:
        plan = self.plan
        rng = random.Random(plan.seed * 1000 + index)
        interval = plan.batch / (plan.rate / plan.pushers)
        next_at = time.monotonic() + rng.uniform(0, interval)  # spread the pushers' phases
        sent = 0
        with httpx.Client(
            base_url=self.base_url, headers=self.headers, timeout=plan.request_timeout
        ) as client:
            while self.running:
                pause = next_at - time.monotonic()
                if pause > 0 and self._stop.wait(pause):
                    break
                if not self.running:
                    break
                source = plan.sources[(index + sent) % len(plan.sources)]
                posts = [
                    self._post(rng, f"{plan.prefix}-{index}-{sent * plan.batch + n}")
                    for n in range(plan.batch)
                ]
                sent += 1
                if self._send(client, source, posts):
                    with self._lock:
                        self.result.accepted[source].update(post["id"] for post in posts)
                next_at += interval
                if next_at < time.monotonic():
                    next_at = time.monotonic()  # behind: no backlog, the next batch goes now

    def _post(self, rng: random.Random, ident: str) -> dict[str, Any]:
        plan = self.plan
        now = datetime.now(UTC)
        if rng.random() < plan.late_share:
            published = now - timedelta(hours=rng.uniform(1, 48))
        else:
            published = now - timedelta(seconds=rng.uniform(0, plan.spread_seconds))
        return {
            "id": ident,
            "text": rng.choice(plan.texts),
            "author": f"压测用户{rng.randrange(plan.authors)}",
            "published_at": published.isoformat(),
            "platform": rng.choice(plan.platforms),
            "engagement": {"reposts": rng.randrange(50), "likes": rng.randrange(200)},
        }

    def _send(self, client: httpx.Client, source: str, posts: list[dict[str, Any]]) -> bool:
        """Send one batch until it is answered 200 (True) or cannot be (False)."""
        give_up_at = time.monotonic() + self.plan.retry_for
        body = {"source": source, "posts": posts}
        while True:
            started = time.monotonic()
            try:
                response = client.post("/api/v1/posts", json=body)
            except httpx.TransportError as exc:  # refused, reset, timed out: the outcome is unknown
                self._count("push", 0, None, push=True)
                wait, what = 0.5, f"push: no answer ({type(exc).__name__})"
            else:
                self._count("push", response.status_code, time.monotonic() - started, push=True)
                if response.status_code == 200:
                    answer = response.json()
                    if answer.get("rejected") or answer["accepted"] + answer["duplicates"] != len(posts):
                        self._fail(f"push: unexpected answer {str(answer)[:300]}")
                        return False
                    return True
                if response.status_code >= 500:
                    self._fail(f"push {response.status_code}: {response.text[:300]}")
                if response.status_code != 503:
                    return False  # not retryable: a client error or a server bug (recorded above)
                wait = min(float(response.headers.get("retry-after") or 1), 1.0)
                what = "push: 503"
            if time.monotonic() + wait > give_up_at:
                with self._lock:
                    self.result.gave_up += 1
                self._fail(f"{what}; gave up after {self.plan.retry_for:.0f} s")
                return False
            with self._lock:
                self.result.retries += 1
            time.sleep(wait)  # retry pause (bounded by give_up_at), not synchronisation

    # ------------------------------------------------------------------ readers

    def _reader(self, index: int) -> None:
        plan = self.plan
        rng = random.Random(plan.seed * 1000 + 500 + index)
        with httpx.Client(
            base_url=self.base_url, headers=self.headers, timeout=plan.request_timeout
        ) as client:
            while self.running:
                name, path, params = self._read_request(rng)
                started = time.monotonic()
                try:
                    response = client.get(path, params=params)
                except httpx.TransportError as exc:
                    self._count(name, 0, None, push=False)
                    self._fail(f"{name}: no answer ({type(exc).__name__})")
                else:
                    self._count(name, response.status_code, time.monotonic() - started, push=False)
                    if response.status_code >= 500:
                        self._fail(f"{name} {path} {response.status_code}: {response.text[:300]}")
                if self._stop.wait(plan.read_pause):
                    break

    def _read_request(self, rng: random.Random) -> tuple[str, str, dict[str, Any]]:
        """One dashboard request: (endpoint name, path, query), topic-bound half of the time."""
        with self._lock:
            topic_ids = list(self.topic_ids)
        if not topic_ids or rng.random() < 0.5:
            name = rng.choice(("overview", "incidents", "search"))
            path = {"overview": "/api/v1/overview", "incidents": "/api/v1/incidents"}.get(
                name, "/api/v1/posts"
            )
            params: dict[str, Any] = {"limit": 50} if name == "search" else {}
        else:
            topic_id = rng.choice(topic_ids)
            name = rng.choice(("trend", "search", "incidents"))
            if name == "trend":
                path, params = f"/api/v1/topics/{topic_id}/trend", {"interval": rng.choice(("5m", "1h"))}
            elif name == "search":
                path, params = "/api/v1/posts", {"topic_id": topic_id, "limit": 50}
            else:
                path, params = "/api/v1/incidents", {"topic_id": topic_id}
        if name == "search" and rng.random() < 0.5:
            params = {**params, "q": rng.choice(self.plan.texts)[:2]}
        return name, path, params

    # ------------------------------------------------------------------ topics

    def _topic_admin(self, index: int) -> None:
        """Create the plan's new topics evenly spread over the run."""
        plan = self.plan
        interval = plan.seconds / (len(plan.new_topics) + 1)
        with httpx.Client(
            base_url=self.base_url, headers=self.headers, timeout=plan.request_timeout
        ) as client:
            for number, (name, rule) in enumerate(plan.new_topics, start=1):
                if self._stop.wait(max(self.result.started + number * interval - time.monotonic(), 0)):
                    return
                if not self.running:
                    return
                try:
                    response = client.post("/api/v1/topics", json={"name": name, "rule": rule})
                except httpx.TransportError as exc:
                    self._count("topic", 0, None, push=False)
                    self._fail(f"topic: no answer ({type(exc).__name__})")
                    continue
                self._count("topic", response.status_code, None, push=False)
                if response.status_code == 201:
                    with self._lock:
                        self.topic_ids.append(int(response.json()["id"]))
                else:
                    self._fail(f"topic {response.status_code}: {response.text[:300]}")


class RssSampler:
    """Samples a process's resident memory (VmRSS, MiB) every `every` seconds in a background thread."""

    def __init__(self, pid: int, every: float = 1.0) -> None:
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MiB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._started = 0.0

    def _loop(self) -> None:
        while True:
            try:
                rss = rss_mib(self.pid)
            except OSError:  # the process is gone
                return
            self.samples.append((time.monotonic() - self._started, rss))
            if self._stop.wait(self.every):
                return

    def at(self, seconds: float) -> float:
        """The first sample taken at or after `seconds` (the last sample if none)."""
        for moment, rss in self.samples:
            if moment >= seconds:
                return rss
        return self.samples[-1][1]

    def __enter__(self) -> Self:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def rss_mib(pid: int) -> float:
    """VmRSS of a process in MiB (Linux /proc)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise OSError(f"no VmRSS for process {pid}")
