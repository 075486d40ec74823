"""Push ingest with full analysis: sustained posts/s on SQLite and PostgreSQL, in process and over HTTP.

In process: `Pipeline.push` (validation, analysis, storage, rollups, the alert engine, one
transaction per batch) of the services `Services.create` wires, batches of 1,000, a fresh database
per run, one monitored topic matching part of the posts. Over HTTP: `yuqing serve --role all` in a
subprocess, `POST /api/v1/posts` from a loopback client with several concurrent senders whose
request bodies are encoded before the clock starts. One more in-process PostgreSQL run under
cProfile gives the cost breakdown.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
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

BATCH = 1000
TOPIC_RULE = "车 OR 手机 OR 工作 OR 朋友"
SENDERS = 3
SPLIT_WORKERS = 2  # one per core
RETRIES = 5  # a 500 from the coordination detector race (see the report) is retried; the batch rolled back


def make_batches(corpus: Corpus, count: int, run: int, now: datetime) -> list[list[dict[str, Any]]]:
    """`count` pushed posts in batches of 1,000, published over the last 10 minutes (seeded by run)."""
    rng = random.Random(run)
    offset = rng.randrange(len(corpus.texts))
    posts = []
    for i in range(count):
        text = corpus.texts[(offset + i) % len(corpus.texts)]
        posts.append(
            {
                "id": f"r{run}-{i}",
                "text": text,
                "author": f"用户{rng.randrange(20_000)}",
                "url": f"https://weibo.example/{run}/{i}",
                "published_at": iso(now - timedelta(seconds=rng.uniform(0, 600))),
                "platform": "weibo",
                "engagement": {
                    "reposts": rng.randrange(50),
                    "comments": rng.randrange(50),
                    "likes": rng.randrange(500),
                },
            }
        )
    return [posts[i : i + BATCH] for i in range(0, len(posts), BATCH)]


@contextmanager
def database(backend: str, name: str, workdir: Path) -> Iterator[str]:
    """A fresh, empty database URL (SQLite file or a scratch PostgreSQL database)."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / (name + '.db')}"
    else:
        with scratch_database(f"yq_bench_{name}") as url:
            yield url


class InProcess:
    """The model and tokenizer loaded once; a fresh analyser, services and database per run."""

    def __init__(self) -> None:
        from analysis.sentiment import SentimentModel
        from analysis.tokenize import Tokenizer

        self.model = SentimentModel.load()
        self.tokenizer = Tokenizer()
        self.tokenizer.tokens("预热分词词典")

    def run(
        self, url: str, batches: list[list[dict[str, Any]]], profile: cProfile.Profile | None = None
    ) -> dict[str, Any]:
        """Push every batch through `Pipeline.push`; returns the rate, batch latencies and tagged share."""
        from sqlalchemy import func, select

        from app.core.config import load_settings
        from app.core.db import Database
        from app.core.migrate import upgrade
        from app.posts.analyzer import PostAnalyzer
        from app.posts.models import Post, PostTopic
        from app.runtime.container import Services
        from app.topics import service as topics
        from app.topics.schemas import TopicCreate

        upgrade(url)
        settings = load_settings(database_url=url, scheduler_enabled=False)
        db = Database(settings.database_url)
        try:
            services = Services.create(
                settings, db=db, analyzer=PostAnalyzer(model=self.model, tokenizer=self.tokenizer)
            )
            with db.session() as session:
                topics.create(session=session, data=TopicCreate(name="基准话题", rule=TOPIC_RULE))
            latencies = []
            if profile is not None:
                profile.enable()
            started = time.perf_counter()
            for batch in batches:
                t0 = time.perf_counter()
                result = services.pipeline.push("bench-push", batch)
                latencies.append(time.perf_counter() - t0)
                if result.accepted != len(batch):
                    raise RuntimeError(
                        f"push accepted {result.accepted} of {len(batch)}: {result.rejected[:3]}"
                    )
            elapsed = time.perf_counter() - started
            if profile is not None:
                profile.disable()
            with db.session() as session:
                stored = session.scalar(select(func.count(Post.id)))
                tagged = session.scalar(select(func.count()).select_from(PostTopic))
        finally:
            db.dispose()
        posts = sum(len(b) for b in batches)
        if stored != posts:
            raise RuntimeError(f"{stored} posts stored of {posts}")
        return {"rate": posts / elapsed, "latencies": latencies, "tagged": tagged / posts}


def _wait_stored(url: str, count: int, timeout: float = 600.0) -> None:
    """Wait until the database holds `count` posts (nothing to wait for when 0)."""
    if not count:
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    deadline = time.monotonic() + timeout
    try:
        with engine.connect() as connection:
            while True:
                stored = int(connection.execute(text("SELECT count(*) FROM posts")).scalar() or 0)
                connection.rollback()  # a fresh snapshot for the next poll
                if stored >= count:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"workers stored {stored} of {count} posts in {timeout:.0f} s")
                time.sleep(0.05)
    finally:
        engine.dispose()


def http_run(
    backend: str,
    url: str,
    workdir: Path,
    batches: list[list[dict[str, Any]]],
    senders: int,
    workers: int = 0,
) -> dict[str, Any]:
    """Serve on the database and push the batches with `senders` concurrent loopback senders.

    With `workers`, the split deployment: `serve --role api` queues the pushes and that many
    `serve --role worker` processes store them; the rate runs until the last post is stored.
    """
    env = service_env(url)
    if backend == "postgres":
        yuqing_cli(["migrate"], env, workdir)
    key = admin_key(env, workdir)
    with ExitStack() as stack:
        server = stack.enter_context(
            Server(env, workdir, role="api" if workers else "all", name=f"ingest-{backend}")
        )
        crew = [
            stack.enter_context(Server(env, workdir, role="worker", name="ingest")) for _ in range(workers)
        ]
        api = stack.enter_context(client(server, key))
        checked(api.post("/api/v1/topics", json={"name": "基准话题", "rule": TOPIC_RULE}))
        warm = [dict(p, id="warm-" + str(p["id"])) for p in batches[0][:200]]
        # The warm-up also creates the push source: concurrent first pushes to a new source name race in
        # `ensure_push_source` (UNIQUE sources.name -> 500), see the report.
        checked(api.post("/api/v1/posts", json={"source": "bench-http", "posts": warm}))
        bodies = [
            json.dumps({"source": "bench-http", "posts": b}, ensure_ascii=False).encode() for b in batches
        ]
        pending = iter(bodies)
        lock = threading.Lock()
        latencies: list[float] = []
        accepted: list[int] = []
        errors: list[int] = []

        def sender() -> None:
            with client(server, key) as own:
                while True:
                    with lock:
                        body = next(pending, None)
                    if body is None:
                        return
                    for _attempt in range(RETRIES):
                        t0 = time.perf_counter()
                        try:
                            response = own.post(
                                "/api/v1/posts", content=body, headers={"Content-Type": "application/json"}
                            )
                        except httpx.TransportError:  # uvicorn closes a connection after an unhandled error
                            with lock:
                                errors.append(0)
                            continue
                        with lock:
                            latencies.append(time.perf_counter() - t0)
                            if response.status_code != 500:
                                accepted.append(checked(response)["accepted"])
                                break
                            errors.append(response.status_code)
                    else:
                        raise RuntimeError(f"a batch failed {RETRIES} times")

        expected = len(warm) + sum(len(b) for b in batches)
        _wait_stored(url, len(warm) if workers else 0)
        started = time.perf_counter()
        with ThreadPoolExecutor(senders) as pool:
            for future in [pool.submit(sender) for _ in range(senders)]:
                future.result()
        _wait_stored(url, expected if workers else 0)
        elapsed = time.perf_counter() - started
        peak = server.peak_rss_mb()
        worker_peaks = [worker.peak_rss_mb() for worker in crew]
    posts = sum(len(b) for b in batches)
    if sum(accepted) != posts:
        raise RuntimeError(f"the API accepted {sum(accepted)} of {posts} posts")
    return {
        "rate": posts / elapsed,
        "latencies": latencies,
        "peak_rss": peak,
        "worker_peak_rss": max(worker_peaks, default=0.0),
        "errors": len(errors),
        "requests": len(latencies),
    }


PHASES = (
    ("Pipeline.push (whole batch)", "app/pipeline.py", "push"),
    ("validate_posts (pydantic)", "app/posts/validation.py", "validate_posts"),
    ("PostAnalyzer.refresh_topics", "app/posts/analyzer.py", "refresh_topics"),
    ("_existing_keys (dedup SELECT)", "app/posts/ingest.py", "_existing_keys"),
    ("PostAnalyzer.analyze_many", "app/posts/analyzer.py", "analyze_many"),
    ("  Tokenizer.tokens (jieba)", "analysis/tokenize.py", "tokens"),
    ("  SentimentModel.predict_many", "analysis/sentiment/model.py", "predict_many"),
    ("  normalize", "analysis/normalize.py", "normalize"),
    ("  RuleSet.match (topics)", "analysis/rules.py", "match"),
    ("post_row (insert rows)", "app/posts/analyzer.py", "post_row"),
    ("clusters.assign (near-duplicates)", "app/posts/clusters.py", "assign"),
    ("_set_clusters (UPDATE)", "app/posts/ingest.py", "_set_clusters"),
    ("_tag_topics (INSERT post_topics)", "app/posts/ingest.py", "_tag_topics"),
    ("rollups.on_stored (hook)", "app/stats/rollups.py", "on_stored"),
    ("  rollups.apply", "app/stats/rollups.py", "apply"),
    ("AlertEngine.on_stored", "app/alerts/engine.py", "on_stored"),
    ("  AlertEngine.evaluate", "app/alerts/engine.py", "evaluate"),
    ("Session.commit", "sqlalchemy/orm/session.py", "commit"),
    ("psycopg cursor execute/executemany", "psycopg/cursor.py", "execute"),
)


def profile_tables(profile: cProfile.Profile, posts: int) -> str:
    """Markdown: time per phase (cumulative) and the top functions by own time."""
    stats = pstats.Stats(profile, stream=io.StringIO())
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(
        v[3] for (file, _, func), v in raw.items() if func == "push" and file.endswith("app/pipeline.py")
    )
    total = total or stats.total_tt  # type: ignore[attr-defined]
    lines = ["| phase | cumulative s | share of push | µs/post |", "|---|---|---|---|"]
    for label, path, name in PHASES:
        cumulative = sum(v[3] for (file, _, func), v in raw.items() if func == name and file.endswith(path))
        if path == "psycopg/cursor.py":
            cumulative = sum(
                v[3]
                for (file, _, func), v in raw.items()
                if func in ("execute", "executemany") and file.endswith(path)
            )
        if cumulative:
            lines.append(
                f"| {label} | {cumulative:.2f} | {cumulative / total:.0%} | {cumulative / posts * 1e6:,.0f} |"
            )
    top = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:15]
    lines += ["", "| function (own time) | calls | own s | share of push |", "|---|---|---|---|"]
    for (file, line, func), v in top:
        short = "/".join(Path(file).parts[-2:]) if file != "~" else "builtin"
        lines.append(f"| `{short}:{line} {func}` | {v[1]:,} | {v[2]:.2f} | {v[2] / total:.0%} |")
    return "\n".join(lines)


def _http_figures(
    section: Section,
    backend: str,
    senders: int,
    runs: int,
    corpus: Corpus,
    count: int,
    workdir: Path,
    workers: int = 0,
) -> None:
    rates, peaks, worker_peaks, batch_times, failed, requests = [], [], [], [], 0, 0
    for r in range(runs):
        batches = make_batches(corpus, count, 100 + r, datetime.now(UTC))
        rundir = workdir / f"http-{backend}-{senders}-{workers}-{r}"
        rundir.mkdir()
        with database(backend, f"http_{senders}_{workers}_{r}", workdir) as url:
            result = http_run(backend, url, rundir, batches, senders, workers=workers)
        rates.append(result["rate"])
        peaks.append(result["peak_rss"])
        worker_peaks.append(result["worker_peak_rss"])
        batch_times += result["latencies"]
        failed += result["errors"]
        requests += result["requests"]
    label = f"{backend}, HTTP, {senders} sender{'s' if senders > 1 else ''}"
    if workers:
        label = f"{backend}, split (`api` + {workers} `worker`s), HTTP, {senders} senders, until stored"
    if failed:
        section.notes.append(
            f"{label}: {failed} of {requests} push requests failed (500 or a connection closed after it) and "
            "were retried; each failure rolled back its whole batch, and the retries' time is in the rate."
        )
    target = Target(">=", 2000) if backend == "postgres" else None
    section.add(Figure(f"{label}: `POST /api/v1/posts` posts/s", rates, "posts/s", target))
    section.add(
        Figure(
            f"{label}: one 1,000-post request, p50 over all requests",
            [percentile(batch_times, 50) * 1000],
            "ms",
            note=f"p99 {number(percentile(batch_times, 99) * 1000)} ms",
        )
    )
    section.add(Figure(f"{label}: server peak RSS after the run", peaks, "MiB"))
    if workers:
        section.add(Figure(f"{label}: largest worker peak RSS", worker_peaks, "MiB"))


def segmentation_rate(batches: list[list[dict[str, Any]]]) -> float:
    """Posts/s of jieba segmentation alone (the project tokenizer, loaded beforehand) over the posts."""
    from analysis.tokenize import default_tokenizer

    tokenizer = default_tokenizer()
    tokenizer.tokens("预热分词词典")
    texts = [item["text"] for batch in batches for item in batch]
    started = time.perf_counter()
    for text in texts:
        tokenizer.tokens(text)
    return len(texts) / (time.perf_counter() - started)


def run(quick: bool) -> Section:
    """Measure ingest throughput in process and over HTTP on both stores, plus a profile.

    `BENCH_INGEST_IN_PROCESS_ONLY=1` measures the in-process figures only (and skips the profile)."""
    section = Section("ingest", "2. Push ingest with full analysis")
    count = 3000 if quick else 20_000
    runs = 2 if quick else 3
    corpus = load_corpus()
    backends = ["sqlite"] + (["postgres"] if pg_version() else [])
    section.intro = (
        f"{count:,} posts per run in batches of {BATCH:,} (texts: {corpus.origin}), published over the last "
        f"10 minutes, 20,000 distinct authors; one topic `{TOPIC_RULE}`. Fresh database per run. "
        f"*In process*: `Services.create(settings).pipeline.push` on the bench process's thread "
        f"(scheduler off). *HTTP*: `yuqing serve --role all` (scheduler on) in a subprocess, "
        f"{SENDERS} concurrent senders (and, for comparison, 1 sender) on loopback with pre-encoded bodies; "
        "the "
        "figure includes JSON parsing, validation and HTTP. *Split*: `serve --role api` queues the pushes "
        f"and {SPLIT_WORKERS} `serve --role worker` processes analyse and store them; the clock runs from "
        "the first push until the last post is stored. Targets apply to PostgreSQL."
    )
    if "postgres" not in backends:
        section.notes.append("PostgreSQL is not reachable: only SQLite was measured.")
    engine = InProcess()
    tagged = []
    with tempfile.TemporaryDirectory(prefix="yq-bench-ingest-") as tmp:
        workdir = Path(tmp)
        for backend in backends:
            rates, batch_times, ratios, segmented = [], [], [], []
            for r in range(runs):
                batches = make_batches(corpus, count, r, datetime.now(UTC))
                with database(backend, f"ingest_{r}", workdir) as url:
                    result = engine.run(url, batches)
                rates.append(result["rate"])
                batch_times += result["latencies"]
                tagged.append(result["tagged"])
                segmented.append(segmentation_rate(batches))
                ratios.append(result["rate"] / segmented[-1])
            target = Target(">=", 2000) if backend == "postgres" else None
            section.add(Figure(f"{backend}, in process: posts/s", rates, "posts/s", target))
            alone = f"{backend}: jieba segmentation alone, same posts, same run"
            section.add(Figure(alone, segmented, "posts/s"))
            ratio_target = Target(">=", 0.5, label="≥ 0.5×") if backend == "postgres" else None
            section.add(
                Figure(
                    f"{backend}, in process ÷ jieba segmentation alone (each run against its own)",
                    ratios,
                    "×",
                    ratio_target,
                    digits=2,
                )
            )
            section.add(
                Figure(
                    f"{backend}, in process: one 1,000-post push, p50 over all batches",
                    [percentile(batch_times, 50) * 1000],
                    "ms",
                )
            )
        if os.environ.get("BENCH_INGEST_IN_PROCESS_ONLY") == "1":
            section.notes.append("In-process figures only (BENCH_INGEST_IN_PROCESS_ONLY).")
            return section
        for backend in backends:
            for senders in (SENDERS, 1):
                _http_figures(section, backend, senders, runs, corpus, count, workdir)
        if "postgres" in backends:
            _http_figures(section, "postgres", SENDERS, runs, corpus, count, workdir, workers=SPLIT_WORKERS)
        profile_backend = backends[-1]
        profile = cProfile.Profile()
        batches = make_batches(corpus, count, 999, datetime.now(UTC))
        with database(profile_backend, "ingest_profile", workdir) as url:
            profiled = engine.run(url, batches, profile=profile)
    section.notes.append(f"Share of posts tagged with the topic: {100 * sum(tagged) / len(tagged):.1f}%.")
    section.markdown = (
        f"### Where an ingest batch spends its time ({profile_backend}, in process, cProfile)\n\n"
        f"One extra run of {count:,} posts under cProfile ({number(profiled['rate'])} posts/s with the "
        "profiler "
        "on; the profiler inflates Python-heavy parts). Cumulative time of each phase, then the functions "
        "with the most own time.\n\n" + profile_tables(profile, count)
    )
    return section
