"""A complaint wave through the push queue: near-duplicate heavy, stored by one and by two workers.

12,000 posts: 60 stories, each reposted about 200 times with small edits (a repost chain, an
emoticon, a hashtag, a different closing) by 4,000 accounts, published over the last 10 minutes,
pushed in batches of 500 to `serve --role api` on PostgreSQL by three loopback senders. One or two
`serve --role worker` processes analyse and store them; the clock runs from the first push until
the last post is stored. Near-duplicates are where queued ingest used to be slow: every batch of
the wave touches every story's cluster.
"""

from __future__ import annotations

import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.bench_ingest import database, http_run
from bench.common import Figure, Section, Target, iso, pg_version

STORIES = 60
ACCOUNTS = 4000
POSTS = 12_000
BATCH = 500
SENDERS = 3

_BRANDS = ["星河汽车", "蓝鲸手机", "云杉家电", "极光出行", "青禾外卖", "木棉银行"]
_PROBLEMS = [
    "刹车突然失灵，差点追尾，4S店说是正常现象",
    "充电时电池发烫冒烟，客服一直推诿不给退换",
    "系统升级以后频繁死机重启，售后让等通知",
    "订单莫名被取消，钱却迟迟没有退回来",
    "客服电话打了二十次都没人接，投诉无门",
    "刚买三天就出现异响，要求退车被拒绝",
    "宣传的续航严重虚标，实际连一半都不到",
    "个人信息疑似泄露，每天接到十几个推销电话",
    "维修一次收费三千，还没修好又坏了",
    "会员自动续费扣款，取消入口藏得很深",
]
_OPENINGS = ["", "转发：", "大家评评理，", "再发一次，", "扩散！"]
_CLOSINGS = ["", "[怒]", " #维权#", "太气人了", "求官方回应", "@消费者协会"]


def story_texts() -> list[str]:
    """The 60 original stories (brand × problem, distinct texts)."""
    texts = [f"{brand}{problem}。" for brand in _BRANDS for problem in _PROBLEMS]
    return texts[:STORIES]


def burst_batches(now: datetime, seed: int) -> list[list[dict[str, Any]]]:
    """The wave as push batches of 500: each post a lightly edited repost of one story."""
    rng = random.Random(seed)
    stories = story_texts()
    posts = []
    for i in range(POSTS):
        story = stories[rng.randrange(len(stories))]
        account = rng.randrange(ACCOUNTS)
        text = f"{rng.choice(_OPENINGS)}{story}{rng.choice(_CLOSINGS)}"
        if rng.random() < 0.3:
            text = f"同感//@用户{rng.randrange(ACCOUNTS)}: {text}"
        posts.append(
            {
                "id": f"burst{seed}-{i}",
                "text": text,
                "author": f"用户{account}",
                "url": f"https://weibo.example/burst/{seed}/{i}",
                "published_at": iso(now - timedelta(seconds=rng.uniform(0, 600))),
                "platform": "weibo",
                "engagement": {"reposts": rng.randrange(20), "likes": rng.randrange(200)},
            }
        )
    return [posts[i : i + BATCH] for i in range(0, len(posts), BATCH)]


def _clusters(url: str) -> int:
    """Near-duplicate clusters among the stored posts."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            query = "SELECT count(DISTINCT coalesce(cluster_id, id)) FROM posts"
            return int(connection.execute(text(query)).scalar() or 0)
    finally:
        engine.dispose()


def run(quick: bool) -> Section:
    """Stored posts/s of the wave with one and with two workers (PostgreSQL only)."""
    section = Section("burst", "6. A near-duplicate complaint wave through the push queue")
    section.intro = (
        f"{POSTS:,} posts: {STORIES} stories reposted with small edits (repost chains, emoticons, hashtags) "
        f"by {ACCOUNTS:,} accounts, published over the last 10 minutes, pushed in batches of {BATCH} by "
        f"{SENDERS} loopback senders to `serve --role api` on PostgreSQL; `serve --role worker` processes "
        "analyse and store them (one topic matching about half the stories). Clock: from the first push "
        "to the last stored post. Fresh database per run. A worker stores a queued batch in two "
        "transactions: posts and near-duplicate clusters under the short global cluster lock, then "
        "rollups, detectors and notices (app/posts/queue.py)."
    )
    if not pg_version():
        section.skipped = "PostgreSQL is not reachable"
        return section
    runs = 1 if quick else 3
    rates: dict[int, list[float]] = {1: [], 2: []}
    clusters: list[float] = []
    with tempfile.TemporaryDirectory(prefix="yq-bench-burst-") as tmp:
        workdir = Path(tmp)
        for r in range(runs):
            for workers in (1, 2):
                batches = burst_batches(datetime.now(UTC), seed=r)
                if quick:
                    batches = batches[:6]
                rundir = workdir / f"burst-{workers}-{r}"
                rundir.mkdir()
                with database("postgres", f"burst_{workers}_{r}", workdir) as url:
                    result = http_run("postgres", url, rundir, batches, SENDERS, workers=workers)
                    clusters.append(_clusters(url))
                rates[workers].append(result["rate"])
    one = section.add(Figure("1 worker: stored posts/s", rates[1], "posts/s", Target(">=", 800)))
    section.add(Figure("2 workers: stored posts/s", rates[2], "posts/s"))
    section.add(
        Figure(
            "2 workers ÷ 1 worker",
            [two / single for two, single in zip(rates[2], rates[1], strict=True)],
            "×",
            Target(">=", 1.5, label="≥ 1.5× one worker"),
            digits=2,
        )
    )
    section.add(Figure("near-duplicate clusters after the wave (60 stories)", clusters, ""))
    section.notes.append(
        "The machine has 2 cores shared by PostgreSQL, the API process, the senders, the workers and, "
        "during this run, other jobs (see the load average above): two workers compete with "
        f"everything else for the second core. Median 1-worker rate {one.median:,.0f} posts/s."
    )
    return section
