"""The demo: the bundled sample, its timeline, loading through the real pipeline (a three-day baseline,
an open graded incident, a signed message at the sink), idempotence and removal — on SQLite and
PostgreSQL — and `yuqing demo --load-only` / `--remove` through the CLI."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from analysis.grading import GRADES
from app.alerts.models import Incident
from app.channels.models import ChannelRow, Delivery, NoticeRow
from app.core.db import utcnow
from app.demo import loader, timeline
from app.demo.sample import load_sample, pool
from app.keys.models import ApiKey
from app.posts.models import Post, Topic
from app.sources.models import Source
from app.stats.models import Rollup
from tests.support.shared import shared_path

SINK = "http://127.0.0.1:8000/api/v1/demo/sink"
CHINA = timedelta(hours=8)


def test_sample_is_bundled_and_reproducible() -> None:
    sample = load_sample()
    assert len(sample) == 3000 and len(pool("burst")) == 500
    assert Counter(item.corpus for item in sample) == {"smp2020": 1520, "nlpcc2013": 930, "weibo2018": 550}
    assert not any("@" in item.text or "http" in item.text or "星河" in item.text for item in sample)


@pytest.mark.shared
def test_sample_derives_from_shared_corpora() -> None:
    from app.demo.derive import derive

    rows = derive(shared_path("data", "sentiment"))
    assert [(r["text"], r["pool"]) for r in rows] == [(s.text, s.pool) for s in load_sample()]


def test_timeline_has_a_daily_rhythm_and_a_burst() -> None:
    now = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)  # 14:00 China time
    rng = random.Random(1)
    history = timeline.history(pool("baseline"), now, rng)
    hours = Counter((datetime.fromisoformat(p["published_at"]) + CHINA).hour for _, p in history)
    assert sum(hours[h] for h in (2, 3, 4)) * 5 < sum(hours[h] for h in (12, 20, 21))
    times = [datetime.fromisoformat(p["published_at"]) for _, p in history]
    assert min(times) >= now - timedelta(days=3) and max(times) < now - timedelta(
        minutes=timeline.BURST_MINUTES
    )
    branded = sum(timeline.BRAND in p["text"] for _, p in history) / len(history)
    assert 0.35 < branded < 0.55
    chunks = timeline.burst(pool("burst"), pool("baseline")[:40], now, rng)
    posts = [post for chunk in chunks for posts in chunk.posts.values() for post in posts]
    assert len(posts) > 200 and all(now - timedelta(minutes=26) < chunk.at <= now for chunk in chunks)
    copies = [p for p in posts if p["text"] in timeline.COPIES]
    assert len(copies) > 40 and len({p["author"] for p in copies}) > 0.9 * len(copies)
    assert sum(len(chunk.posts.get("演示·新闻网", [])) for chunk in chunks) == 2


def _counts(session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {
        "posts": session.scalar(select(func.count(Post.id))),
        "topics": session.scalar(select(func.count(Topic.id))),
        "sources": session.scalar(select(func.count(Source.id))),
        "incidents": session.scalar(select(func.count(Incident.id))),
        "channels": session.scalar(select(func.count(ChannelRow.id))),
        "rollups": session.scalar(select(func.count()).select_from(Rollup)),
        "notices": session.scalar(select(func.count()).select_from(NoticeRow)),
        "keys": session.scalar(select(func.count(ApiKey.id)).where(ApiKey.name == loader.KEY_NAME)),
    }


def _sink_app(app):  # type: ignore[no-untyped-def]
    """The app with the demo routes (mounted by app/runtime/application.py from its ROUTERS)."""
    from app.demo.router import router

    if not any(getattr(route, "path", "") == "/api/v1/demo/sink" for route in app.routes):
        app.include_router(router)
    return app


def _deliver(app, db, settings) -> None:  # type: ignore[no-untyped-def]
    from app.channels.dispatcher import Dispatcher

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
            await Dispatcher(db=db, settings=settings, client=client).tick()

    with ThreadPoolExecutor(1) as pool_:  # its own thread: safe even if another test left a loop running here
        pool_.submit(asyncio.run, run()).result()


def test_load_baseline_incident_sink_idempotence_and_removal(  # type: ignore[no-untyped-def]
    services, db, settings, app, client, read_headers
) -> None:
    summary = loader.load(services.pipeline, now=utcnow(), sink_url=SINK)
    assert not summary.skipped and summary.seconds < 30
    with db.session() as session:
        counts = _counts(session)
        assert counts["posts"] == summary.history + summary.burst > 2500
        topic = loader.demo_topic(session)
        assert topic is not None and topic.demo and topic.name == loader.TOPIC
        assert session.scalar(select(func.count(Source.id)).where(Source.demo.is_(True))) == 4
        starts = list(session.scalars(select(Rollup.bucket_start).where(Rollup.topic_id == topic.id)))
        assert min(starts) <= utcnow() - timedelta(hours=70)
        assert len({(start + CHINA).date() for start in starts}) >= 3
        assert len({start.replace(minute=0) for start in starts}) > 55  # most hours of three days
        incident = session.scalars(select(Incident).where(Incident.topic_id == topic.id)).one()
        assert incident.status == "open" and incident.grade in GRADES and incident.title.startswith("【")
        assert incident.grade == "severe", (incident.rules, incident.inputs)  # a large, fast, negative burst
        lead = incident.title.removeprefix("【严重】星河汽车（演示）：")
        assert lead.startswith(("声量", "负面声量")), incident.title
        assert summary.incident and summary.incident["id"] == incident.id
        channel = session.scalars(select(ChannelRow).where(ChannelRow.demo.is_(True))).one()
        assert channel.url == SINK and channel.kind == "webhook"
        assert session.scalar(select(func.count(Delivery.id)).where(Delivery.channel_id == channel.id)) >= 1

    _deliver(_sink_app(app), db, settings)
    received = client.get("/api/v1/demo/sink", headers=read_headers).json()
    assert received["count"] >= 1
    first = received["messages"][-1]
    assert first["verified"] and first["payload"]["topic"] == loader.TOPIC
    assert first["payload"]["kind"] == "incident_opened" and first["payload"]["incident_id"] == incident.id
    forged = client.post(
        "/api/v1/demo/sink",
        json={"x": 1},
        headers={
            "webhook-id": "m1",
            "webhook-timestamp": str(int(utcnow().timestamp())),
            "webhook-signature": "v1,AAAA",
        },
    )
    assert forged.status_code == 401 and client.get("/api/v1/demo/sink").status_code == 401

    again = loader.load(services.pipeline, now=utcnow(), sink_url=SINK)
    assert again.skipped and again.incident and again.incident["id"] == incident.id
    with db.session() as session:
        assert _counts(session) == counts
        key = loader.admin_key(session)
    assert key.startswith("yq_")

    with db.session() as session:
        removed = loader.remove(session).counts
    assert removed["posts"] == counts["posts"] and removed["incidents"] == 1 and removed["keys"] == 1
    with db.session() as session:
        assert _counts(session) == dict.fromkeys(counts, 0)
        assert session.scalar(select(func.count(Source.id)).where(Source.demo.is_(True))) == 0


@pytest.mark.slow
def test_cli_load_only_then_remove(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from app.cli import cli

    monkeypatch.setenv("YUQING_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("YUQING_SCHEDULER_ENABLED", "false")
    result = CliRunner().invoke(cli, ["demo", "--load-only", "--port", "8123"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith("yq_") and "demo-admin" in lines[-2]
    assert (
        any("事件：#1 【" in line for line in lines)
        and "http://127.0.0.1:8123/api/v1/demo/sink" in result.stdout
    )
    second = CliRunner().invoke(cli, ["demo", "--load-only"])
    assert (
        second.exit_code == 0
        and "跳过载入" in second.stdout
        and second.stdout.strip().splitlines()[-1] != lines[-1]
    )
    removed = CliRunner().invoke(cli, ["demo", "--remove"])
    assert removed.exit_code == 0 and "已删除演示数据" in removed.stdout and "事件 1" in removed.stdout


def test_sink_verifies_standard_webhooks_signatures() -> None:
    from app.channels.webhook import sign
    from app.demo.sink import verify

    secret, other = "whsec_" + "A" * 44, "whsec_" + "B" * 44
    now = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    body = b'{"kind":"incident_opened"}'
    stamp = int(now.timestamp())
    headers = {
        "webhook-id": "n1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": f"v1,bogus {sign(secret, 'n1', stamp, body)}",
    }
    assert verify([other, secret], headers, body, now) is None  # any listed signature, any demo secret
    assert verify([other], headers, body, now) == "签名不匹配"
    assert verify([secret], headers, body + b" ", now) == "签名不匹配"
    assert "容差" in (verify([secret], headers, body, now + timedelta(minutes=6)) or "")
    assert "缺少" in (verify([secret], {"webhook-id": "n1"}, body, now) or "")
