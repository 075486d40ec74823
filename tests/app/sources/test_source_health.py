"""A source's health through the API, in Chinese terms a user can act on: a 风控 failure from an RSSHub
error page, a healthy feed, and a feed silent for far longer than its usual rhythm."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from app.core.db import utcnow
from app.sources import service as sources
from app.sources.models import Source
from tests.support.loopback import LoopbackServer, Reply

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "collectors"


def _create(client, headers, name, url):  # type: ignore[no-untyped-def]
    made = client.post("/api/v1/sources", json={"name": name, "kind": "rss", "url": url}, headers=headers)
    assert made.status_code == 201, made.text
    return made.json()


def test_health_in_chinese_with_advice(client, db, write_headers, loopback_server: LoopbackServer) -> None:  # type: ignore[no-untyped-def]
    page = (FIXTURES / "rsshub_errors" / "bilibili_352.html").read_bytes()
    loopback_server.script("/bilibili", *[Reply(503, page, "text/html; charset=utf-8")] * 6)
    loopback_server.serve(
        "/weibo", (FIXTURES / "zh_weibo_rss20.xml").read_bytes(), content_type="application/rss+xml"
    )
    failing = _create(client, write_headers, "B站UP主", loopback_server.url("/bilibili"))
    healthy = _create(client, write_headers, "微博关键词", loopback_server.url("/weibo"))
    assert failing["health"] == "never_run" and failing["health_label"] == "尚未采集"
    client.post(f"/api/v1/sources/{failing['id']}/collect", headers=write_headers)
    client.post(f"/api/v1/sources/{healthy['id']}/collect", headers=write_headers)
    shown = {s["name"]: s for s in client.get("/api/v1/sources", headers=write_headers).json()}
    assert shown["B站UP主"]["health"] == "risk_control"
    assert shown["B站UP主"]["health_label"] == "被平台风控拦截"
    assert "BILIBILI_COOKIE" in shown["B站UP主"]["health_advice"]
    assert "风控校验失败" in shown["B站UP主"]["last_error"]
    assert shown["微博关键词"]["health"] == "ok" and shown["微博关键词"]["last_new_at"]

    # silent: productive every 10 minutes for a day, then nothing new for 12 hours
    now = utcnow()
    with db.session() as session:
        source = session.scalar(select(Source).where(Source.name == "微博关键词"))
        for n in range(1, 20):
            at = now - timedelta(hours=12) - timedelta(minutes=10 * n)
            sources.record_run(
                session=session, source=source, started_at=at, finished_at=at, status="ok", new=3
            )
        session.execute(
            Source.__table__.update().where(Source.id == source.id).values(last_run_at=now, last_status="ok")
        )
        from app.sources.models import SourceRun

        session.execute(
            SourceRun.__table__.update().where(SourceRun.finished_at > now - timedelta(hours=1)).values(new=0)
        )
    silent = client.get(f"/api/v1/sources/{healthy['id']}", headers=write_headers).json()
    assert silent["health"] == "silent" and silent["health_label"] == "长时间没有新内容"


def test_the_report_states_the_gaps_with_their_cause(client, db, write_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    from app.reports.periods import china_today, window
    from tests.support.seed import create_topic, post, push

    now = utcnow()
    day = china_today(now) - timedelta(days=1)  # a whole past day: the outage fits at any hour
    win = window("day", day, now=now)
    topic = create_topic(client, write_headers, "星河汽车", "星河汽车")
    push(client, write_headers, "weibo", [post("p1", "星河汽车新车发布", win.start + timedelta(minutes=5))])
    outage = win.start + timedelta(hours=3)
    with db.session() as session:
        source = session.scalar(select(Source).where(Source.name == "weibo"))
        message = "HTTP 503 from rsshub:1200: Got error code -352 while fetching: 风控校验失败"
        for minutes, status in ((0, "error"), (20, "error"), (35, "ok")):
            at = outage + timedelta(minutes=minutes)
            sources.record_run(
                session=session,
                source=source,
                started_at=at,
                finished_at=at,
                status=status,
                error=message if status == "error" else None,
            )
    report = client.get(
        f"/api/v1/reports/topics/{topic['id']}",
        params={"format": "md", "date": day.isoformat()},
        headers=read_headers,
    )
    assert report.status_code == 200
    assert "本时段「weibo」数据源中断 35 分钟（被平台风控拦截）" in report.text
