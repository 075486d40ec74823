"""Push-to-alert and push-to-webhook latency under background load, SQLite and PostgreSQL.

`yuqing serve --role all` runs in a subprocess with a signed webhook channel (`whsec_` secret)
pointing at a loopback receiver in this process. A background sender pushes calm posts to one
topic at ~1,000 posts/s (one request at a time, 500 posts every 0.5 s; its achieved rate is
reported). Each probe bursts 60 negative posts into its own fresh topic, whose detectors were warmed
up by a baseline pushed at start-up (a post every 30 minutes over the last 30 hours; probing starts
after one 30-second detector tick has evaluated the new topics), and measures
from the start of the push request to (a) the push response (the alert and incident are stored in
the push transaction), (b) the incident being listed by `GET /api/v1/incidents`, (c) the receiver
getting the `incident_opened` message. The incident is then resolved (its resolution message is
held back by the outbox's 10-minute minimum interval per incident, so it is not awaited) and the
next probe starts after a random pause of 0.5–1.5 s, which keeps probes out of step with the
dispatcher's 1-second tick.
"""

from __future__ import annotations

import base64
import json
import os
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    Corpus,
    Figure,
    Section,
    Server,
    Target,
    admin_key,
    checked,
    client,
    iso,
    load_corpus,
    number,
    percentile,
    pg_version,
    scratch_database,
    service_env,
    yuqing_cli,
)
from tests.support.loadgen import LoadGenerator, LoadPlan

BACKGROUND_RATE = 1000  # posts/s offered
BACKGROUND_BATCH = 500
BURST = 60
BASELINE_HOURS = 30
WAIT = 30.0  # longest wait for one message or incident
TICK_WAIT = 32.0  # one detector tick of the scheduler (30 s) after the probe topics are created


class Receiver:
    """A loopback webhook receiver that notes when each message arrived (monotonic clock)."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.condition = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                arrived = time.monotonic()
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"unparsed": True}
                payload["_signed"] = bool(self.headers.get("webhook-signature"))
                with receiver.condition:
                    receiver.messages.append((arrived, payload))
                    receiver.condition.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def wait_for(
        self, incident_id: int, kind: str, timeout: float = WAIT
    ) -> tuple[float, dict[str, Any]] | None:
        """The first message about this incident change (also inside a digest), or None on timeout."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while True:
                for arrived, payload in self.messages:
                    items = payload.get("items") or [payload]
                    if any(i.get("incident_id") == incident_id and i.get("kind") == kind for i in items):
                        return arrived, payload
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.condition.wait(left)

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


def background_load(server: Server, key: str, corpus: Corpus, seconds: float) -> LoadGenerator:
    """Calm posts to one topic at BACKGROUND_RATE: one request at a time, BACKGROUND_BATCH posts each,
    published now, five authors (bench/loadgen.py; failed requests are counted, not retried)."""
    plan = LoadPlan(
        texts=[f"bgzq {text}" for text in corpus.texts],
        rate=BACKGROUND_RATE,
        seconds=seconds,
        batch=BACKGROUND_BATCH,
        pushers=1,
        readers=0,
        sources=("bench-background",),
        authors=5,
        late_share=0.0,
        spread_seconds=0.0,
        platforms=("weibo",),
        prefix="bg",
        request_timeout=120.0,
        retry_for=0.0,
    )
    return LoadGenerator(server.base_url, key, plan)


@contextmanager
def service(backend: str, workdir: Path) -> Iterator[tuple[Server, str]]:
    """A served store (fresh) and an admin key."""

    def serve(url: str) -> Iterator[tuple[Server, str]]:
        env = service_env(url)
        if backend == "postgres":
            yuqing_cli(["migrate"], env, workdir)
        key = admin_key(env, workdir)
        with Server(env, workdir, role="all", name=f"latency-{backend}") as server:
            yield server, key

    if backend == "sqlite":
        yield from serve(f"sqlite:///{workdir / 'latency.db'}")
    else:
        with scratch_database("yq_bench_latency") as url:
            yield from serve(url)


def _baseline(api: httpx.Client, topics: list[int], corpus: Corpus, now: datetime) -> None:
    """A post every 30 minutes over the last BASELINE_HOURS hours for every probe topic."""
    rng = random.Random(3)
    posts = []
    for index in range(len(topics)):
        for step in range(BASELINE_HOURS * 2):
            moment = now - timedelta(minutes=20 + 30 * step + rng.uniform(0, 5))
            posts.append(
                {
                    "id": f"base-{index}-{step}",
                    "text": f"zqprobe{index:03d}x {rng.choice(corpus.texts)}",
                    "author": f"基线{rng.randrange(1000)}",
                    "published_at": iso(moment),
                    "platform": "news",
                }
            )
    for start in range(0, len(posts), 1000):
        checked(
            api.post("/api/v1/posts", json={"source": "bench-baseline", "posts": posts[start : start + 1000]})
        )


def measure(backend: str, probes: int, corpus: Corpus, workdir: Path) -> dict[str, Any]:
    """One backend: setup, background load, probes; returns the latencies and counters."""
    receiver = Receiver()
    try:
        with service(backend, workdir) as (server, key), client(server, key) as api:
            try:
                secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
                channels = api.post(
                    "/api/v1/channels",
                    json={"name": "bench webhook", "kind": "webhook", "url": receiver.url, "secret": secret},
                )
                if channels.status_code == 404:
                    return {"no_channels": True}
                checked(channels)
                background_topic = checked(
                    api.post("/api/v1/topics", json={"name": "背景话题", "rule": "bgzq"})
                )["id"]
                topics = [
                    checked(
                        api.post("/api/v1/topics", json={"name": f"探针{i:03d}", "rule": f"zqprobe{i:03d}x"})
                    )["id"]
                    for i in range(probes)
                ]
                _baseline(api, topics, corpus, datetime.now(UTC))
                # Let one engine tick (every 30 s) evaluate the new topics first, so a probe's push
                # does not also pay for replaying its topic's 30-hour baseline into the detectors.
                time.sleep(TICK_WAIT)
                negatives = corpus.negative()
                background = background_load(server, key, corpus, seconds=probes * 20.0 + 60).start()
                time.sleep(3.0)
                rng = random.Random(9)
                rows: list[dict[str, float]] = []
                misses = failures = 0
                try:
                    for index, topic_id in enumerate(topics):
                        time.sleep(rng.uniform(0.5, 1.5))
                        row = _probe(api, receiver, index, topic_id, negatives, rng)
                        if row is None:
                            misses += 1
                        elif "failed" in row:
                            failures += 1
                        else:
                            rows.append(row)
                finally:
                    background.stop()
                    load = background.wait()
                background_incidents = checked(
                    api.get("/api/v1/incidents", params={"topic_id": background_topic})
                )
                peak = server.peak_rss_mb()
            except Exception as exc:
                raise RuntimeError(f"{exc} — server log: {server.last_error()}") from exc
        return {
            "rows": rows,
            "misses": misses,
            "failures": failures,
            "background_rate": load.achieved_rate,
            "background_failures": load.count(endpoint="push") - load.count(endpoint="push", status=200),
            "background_latencies": load.push_latencies,
            "background_incidents": len(background_incidents),
            "peak_rss": peak,
            "signed": all(p.get("_signed") for _, p in receiver.messages),
        }
    finally:
        receiver.close()


def _probe(
    api: httpx.Client, receiver: Receiver, index: int, topic_id: int, negatives: list[str], rng: random.Random
) -> dict[str, float] | None:
    now = datetime.now(UTC)
    posts = [
        {
            "id": f"probe-{index}-{n}",
            "text": f"zqprobe{index:03d}x {rng.choice(negatives)}",
            "author": f"探针作者{index}-{n}",
            "published_at": iso(now),
            "platform": "weibo",
        }
        for n in range(BURST)
    ]
    started = time.monotonic()
    response = api.post("/api/v1/posts", json={"source": "bench-probe", "posts": posts})
    if response.status_code == 500:
        return {"failed": 1.0}
    checked(response)
    pushed = time.monotonic()
    incident = None
    while incident is None and time.monotonic() - started < WAIT:
        found = checked(api.get("/api/v1/incidents", params={"topic_id": topic_id, "status": "open"}))
        incident = found[0] if found else None
        if incident is None:
            time.sleep(0.05)
    if incident is None:
        return None
    visible = time.monotonic()
    hook = receiver.wait_for(incident["id"], "incident_opened")
    checked(api.post(f"/api/v1/incidents/{incident['id']}/resolve", json={"note": "bench"}))
    if hook is None:
        return {"push": pushed - started, "visible": visible - started, "webhook": float("inf")}
    return {"push": pushed - started, "visible": visible - started, "webhook": hook[0] - started}


def run(quick: bool) -> Section:
    """Measure both backends."""
    section = Section("latency", "4. Push-to-alert and push-to-webhook latency under background load")
    probes = 6 if quick else 45
    rounds = 2 if quick else 3
    section.intro = __doc__.split("\n\n", 1)[1].replace("\n", " ") + (
        f" {probes} probes per backend; the figures' runs are {rounds} consecutive rounds of "
        f"{probes // rounds} probes (p50 and p99 within each round); the pooled percentiles over all probes "
        "are in the notes."
    )
    corpus = load_corpus()
    backends = ["sqlite"] + (["postgres"] if pg_version() else [])
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="yq-bench-latency-") as tmp:
            result = measure(backend, probes, corpus, Path(tmp))
        if result.get("no_channels"):
            section.notes.append(
                f"{backend}: `POST /api/v1/channels` is not available; push-to-webhook not measured."
            )
            continue
        rows = result["rows"]
        size = max(len(rows) // rounds, 1)
        chunks = [rows[i * size : (i + 1) * size] for i in range(rounds)] if len(rows) >= rounds else [rows]
        for key, label in (
            ("push", "push response (alert stored)"),
            ("visible", "incident listed by the API"),
            ("webhook", "webhook received"),
        ):
            for q in (50, 99):
                target = Target("<", 1000) if key == "webhook" and q == 99 and backend == "postgres" else None
                values = [percentile([r[key] for r in chunk], q) * 1000 for chunk in chunks if chunk]
                section.add(Figure(f"{backend}: push → {label}, p{q}", values, "ms", target))
        pooled = {k: [r[k] * 1000 for r in rows] for k in ("push", "visible", "webhook")}
        bg = result["background_latencies"]
        section.notes.append(
            f"**{backend}**: {len(rows)} probes measured, {result['misses']} without an incident within "
            f"{WAIT:.0f} s, {result['failures']} whose push answered 500. "
            f"Pooled over all probes — push → webhook p50 {number(percentile(pooled['webhook'], 50))} ms, "
            f"p99 {number(percentile(pooled['webhook'], 99))} ms, "
            f"max {number(max(pooled['webhook'], default=0))} ms; "
            f"push response p50 {number(percentile(pooled['push'], 50))} ms, p99 "
            f"{number(percentile(pooled['push'], 99))} ms. Background: offered {BACKGROUND_RATE:,} posts/s, "
            f"achieved **{number(result['background_rate'])} posts/s**, "
            f"{result['background_failures']} failed requests, "
            f"its {BACKGROUND_BATCH}-post pushes took p50 {number(percentile(bg, 50) * 1000)} ms / p99 "
            f"{number(percentile(bg, 99) * 1000)} ms; incidents on the background topic: "
            f"{result['background_incidents']}. Every webhook message carried a `webhook-signature`: "
            f"{result['signed']}. Server peak RSS {number(result['peak_rss'])} MiB."
        )
    return section
