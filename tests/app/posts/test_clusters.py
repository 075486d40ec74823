"""Near-duplicate clusters live in the database: separate processes (separate analysers), restarts
and concurrent workers all put copies of one story in one cluster."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from app.pipeline import Pipeline
from app.posts.analyzer import PostAnalyzer
from app.posts.models import Post

STORY = "星河汽车 4S 店拒绝退车，车主在门口拉横幅维权，现场围观群众越来越多，警察也来了"
OTHER = "今天去公园跑步，天气很好，晚上和朋友一起吃火锅，开心的一天"


def _copies(prefix: str, count: int) -> list[dict[str, str]]:
    noise = ["", "[怒]", "转发：", "@路人甲 ", "！！", "……"]
    return [
        {"id": f"{prefix}-{n}", "text": f"{noise[n % len(noise)]}{STORY}{noise[(n + 1) % len(noise)]}"}
        for n in range(count)
    ]


def _fresh_pipeline(services, shared_model, shared_tokenizer) -> Pipeline:  # type: ignore[no-untyped-def]
    """Another process's pipeline: same database, its own analyser."""
    return Pipeline(
        db=services.db,
        settings=services.settings,
        analyzer_factory=lambda: PostAnalyzer(model=shared_model, tokenizer=shared_tokenizer),
    )


def _heads(db) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with db.session() as session:
        rows = session.execute(select(Post.external_id, func.coalesce(Post.cluster_id, Post.id))).all()
    return {external_id: head for external_id, head in rows}


def test_copies_stored_by_another_process_join_the_first_cluster(
    services, db, shared_model, shared_tokenizer
) -> None:  # type: ignore[no-untyped-def]
    services.pipeline.push("weibo", [*_copies("a", 3), {"id": "other", "text": OTHER}])
    later = _fresh_pipeline(services, shared_model, shared_tokenizer)  # a restart, or a second worker
    later.push("weibo", _copies("b", 3))
    later.push("news", _copies("c", 2))  # another source: still the same story
    heads = _heads(db)
    story = {head for external_id, head in heads.items() if external_id != "other"}
    assert len(story) == 1, heads
    assert heads["other"] not in story
    with db.session() as session:
        first = session.scalar(select(Post.id).where(Post.external_id == "a-0"))
    assert story == {first}  # the earliest copy heads the cluster


def test_concurrent_workers_storing_copies_agree_on_one_cluster(
    services, db, shared_model, shared_tokenizer
) -> None:  # type: ignore[no-untyped-def]
    workers = [_fresh_pipeline(services, shared_model, shared_tokenizer) for _ in range(3)]
    for worker in workers:  # load the analysers before the race
        worker.analyzer.analyze_many([])
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(index: int, worker: Pipeline) -> None:
        try:
            start.wait()
            worker.push(f"source-{index}", _copies(f"w{index}", 20))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    heads = _heads(db)
    assert len(heads) == 60
    assert len(set(heads.values())) == 1, sorted(set(heads.values()))
