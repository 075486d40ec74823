"""Peak RSS of each role on PostgreSQL after a short load (VmHWM from /proc/<pid>/status).

Split deployment: `serve --role api`, `--role worker` and `--role scheduler` run together against
one PostgreSQL database; then `--role all` alone on a fresh database gets the same load. The load
exercises every role: the API takes 10,000 pushed posts plus warmed-up bursts that open incidents;
the worker collects an RSS source on a loopback feed (200 new items per fetch, every 5 s) and
delivers the incidents' webhook messages to a loopback receiver; the scheduler runs detector ticks
and re-tags the stored posts for a topic created after the posts. Idle RSS right after start-up is
shown beside the peak.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import httpx

from bench.bench_latency import BURST, Receiver, _baseline
from bench.common import (
    REPO,
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
    pg_version,
    scratch_database,
    service_env,
    yuqing_cli,
)

TARGETS = {"api": Target("<", 200), "worker": Target("<", 400)}
_COMPONENTS = """
import json, re
def rss():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024
steps = [("Python interpreter", rss())]
import fastapi, httpx, sqlalchemy, uvicorn
steps.append(("+ FastAPI, SQLAlchemy, uvicorn, httpx", rss()))
import app.runtime.application
steps.append(("+ import app.runtime.application (every router, psycopg, feedparser, …)", rss()))
from analysis.sentiment import SentimentModel
model = SentimentModel.load()
steps.append(("+ SentimentModel.load()", rss()))
from analysis.tokenize import Tokenizer
tokenizer = Tokenizer()
tokenizer.tokens("今天天气很好")
steps.append(("+ Tokenizer() (jieba prefix dictionary)", rss()))
print(json.dumps(steps))
"""


def components() -> str:
    """Markdown: resident memory after each component loads, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _COMPONENTS], cwd=REPO, capture_output=True, text=True, timeout=300, check=True
    )
    steps = json.loads(done.stdout.strip().splitlines()[-1])
    lines = ["| step (fresh interpreter) | VmRSS | added |", "|---|---|---|"]
    previous = 0.0
    for label, value in steps:
        lines.append(f"| {label} | {value:,.0f} MiB | {value - previous:+,.0f} MiB |")
        previous = value
    return "\n".join(lines)


FEED_ITEMS = 200
LOAD_SECONDS = 60.0


class FeedServer:
    """A loopback RSS 2.0 feed that has FEED_ITEMS new items at every fetch."""

    def __init__(self, corpus: Corpus) -> None:
        self.fetches = 0
        lock = threading.Lock()
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                with lock:
                    feed.fetches += 1
                    round_ = feed.fetches
                now = datetime.now(UTC)
                items = "".join(
                    f"<item><title>zqfeed 条目 {round_}-{i}</title><link>http://127.0.0.1/item/{round_}/{i}</link>"
                    f"<guid>item-{round_}-{i}</guid>"
                    f"<pubDate>{format_datetime(now - timedelta(seconds=i))}</pubDate>"
                    f"<description>{escape(corpus.texts[(round_ * FEED_ITEMS + i) % len(corpus.texts)])}"
                    "</description></item>"
                    for i in range(FEED_ITEMS)
                )
                body = (
                    f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>bench</title>'
                    f"<link>http://127.0.0.1/</link><description>bench</description>{items}</channel></rss>"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/feed.xml"

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


def apply_load(
    api: httpx.Client, corpus: Corpus, feed: FeedServer, receiver: Receiver, posts: int, seconds: float
) -> dict[str, int]:
    """The load described in the module doc; returns what happened."""
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    checked(
        api.post(
            "/api/v1/channels",
            json={"name": "bench", "kind": "webhook", "url": receiver.url, "secret": secret},
        )
    )
    checked(api.post("/api/v1/topics", json={"name": "订阅源", "rule": "zqfeed"}))
    checked(
        api.post(
            "/api/v1/sources",
            json={"name": "bench-feed", "kind": "rss", "url": feed.url, "interval_seconds": 5},
        )
    )
    probes = [
        checked(api.post("/api/v1/topics", json={"name": f"探针{i:03d}", "rule": f"zqprobe{i:03d}x"}))["id"]
        for i in range(3)
    ]
    _baseline(api, probes, corpus, datetime.now(UTC))
    started = time.monotonic()
    for start in range(0, posts, 1000):
        now = datetime.now(UTC)
        batch = [
            {
                "id": f"load-{n}",
                "text": corpus.texts[n % len(corpus.texts)],
                "author": f"作者{n % 3000}",
                "published_at": iso(now),
                "platform": "weibo",
            }
            for n in range(start, min(start + 1000, posts))
        ]
        checked(api.post("/api/v1/posts", json={"source": "bench-load", "posts": batch}))
    negatives = corpus.negative()
    for index in range(len(probes)):
        now = datetime.now(UTC)
        burst = [
            {
                "id": f"burst-{index}-{n}",
                "text": f"zqprobe{index:03d}x {negatives[(index * BURST + n) % len(negatives)]}",
                "author": f"突发{index}-{n}",
                "published_at": iso(now),
            }
            for n in range(BURST)
        ]
        checked(api.post("/api/v1/posts", json={"source": "bench-burst", "posts": burst}))
    checked(api.post("/api/v1/topics", json={"name": "事后话题", "rule": "车 OR 手机 OR 工作"}))
    while time.monotonic() - started < seconds:
        if feed.fetches >= 4 and len(receiver.messages) >= len(probes):
            break
        time.sleep(1.0)
    incidents = checked(api.get("/api/v1/incidents"))
    return {"feed_fetches": feed.fetches, "webhooks": len(receiver.messages), "incidents": len(incidents)}


@contextmanager
def _database(name: str, workdir: Path) -> Iterator[tuple[dict[str, str], str]]:
    with scratch_database(name) as url:
        env = service_env(url, YUQING_COLLECT_TIMEOUT_SECONDS="10")
        yuqing_cli(["migrate"], env, workdir)
        yield env, admin_key(env, workdir)


def measure(corpus: Corpus, posts: int, seconds: float, workdir: Path) -> dict[str, dict[str, float]]:
    """One repetition: the split roles, then `all`; idle and peak RSS per role in MiB."""
    figures: dict[str, dict[str, float]] = {}
    for layout in (("api", "worker", "scheduler"), ("all",)):
        feed, receiver = FeedServer(corpus), Receiver()
        try:
            with _database(f"yq_bench_rss_{len(layout)}", workdir) as (env, key), ExitStack() as stack:
                servers = {
                    role: stack.enter_context(Server(env, workdir, role=role, name="rss")) for role in layout
                }
                time.sleep(2.0)
                idle = {role: server.rss_mb() for role, server in servers.items()}
                front = servers["api"] if "api" in servers else servers["all"]
                with client(front, key) as api:
                    happened = apply_load(api, corpus, feed, receiver, posts, seconds)
                for role, server in servers.items():
                    figures[role] = {"idle": idle[role], "peak": server.peak_rss_mb(), **happened}
        finally:
            feed.close()
            receiver.close()
    return figures


def run(quick: bool) -> Section:
    """Peak RSS per role over several repetitions."""
    section = Section("rss", "5. Peak RSS of each role (PostgreSQL)")
    if not pg_version():
        section.skipped = "PostgreSQL is not reachable"
        return section
    repetitions = 1 if quick else 3
    posts = 2000 if quick else 10_000
    seconds = 30.0 if quick else LOAD_SECONDS
    section.intro = __doc__.split("\n\n", 1)[1].replace("\n", " ")
    corpus = load_corpus()
    results = []
    with tempfile.TemporaryDirectory(prefix="yq-bench-rss-") as tmp:
        for _ in range(repetitions):
            results.append(measure(corpus, posts, seconds, Path(tmp)))
    for role in ("api", "worker", "scheduler", "all"):
        section.add(
            Figure(
                f"`serve --role {role}`: peak RSS (VmHWM) after the load",
                [r[role]["peak"] for r in results],
                "MiB",
                TARGETS.get(role),
            )
        )
        section.add(
            Figure(
                f"`serve --role {role}`: RSS when idle after start-up",
                [r[role]["idle"] for r in results],
                "MiB",
            )
        )
    for layout, role in (("split roles", "api"), ("`all`", "all")):
        happened = results[-1][role]
        section.notes.append(
            f"Load, {layout} (last repetition): {posts:,} pushed posts, "
            f"feed fetched {happened['feed_fetches']} times, "
            f"{happened['incidents']} incidents, {happened['webhooks']} webhook messages received."
        )
    section.notes.append(
        "Peak RSS in MiB per repetition: "
        + "; ".join(", ".join(f"{role} {number(r[role]['peak'])}" for role in r) for r in results)
        + "."
    )
    section.markdown = (
        "### Where a process's memory goes\n\nThe analyser (the sentiment model and jieba) is created on "
        "first use: `all` and `worker` load it at start-up, `api` and `scheduler` never do (an `api` process "
        "queues pushes for the workers). Near-duplicate clusters live in the database, not in memory. "
        "Resident memory after each step, in a fresh interpreter:\n\n" + components()
    )
    return section
