"""Scheduled 舆情简报 with a controllable clock: the China-time day boundary, the weekly report, no
double send across ticks and across two scheduler instances, one catch-up after an outage, and the
report delivered end to end through the outbox to the loopback vendor emulators — SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from app.channels import service as channels
from app.channels.models import ChannelRow, Delivery, NoticeRow
from app.channels.outbox import Outbox
from app.channels.report_schedule import ReportSchedule
from app.channels.schemas import ChannelCreate
from app.core.errors import BadRequest
from app.core.vocab import DeliveryStatus, NoticeKind
from app.reports.delivery import queue_due_reports
from app.reports.schedule import latest_due, report_notice_id
from app.stats.models import Rollup
from tests.support.delivery import (
    Clock,
    make_channel,
    make_topic,
    outbox_settings,
    raise_alert,
    run_ticks,
)


def china(text: str) -> datetime:
    """A China-time `YYYY-MM-DD HH:MM` as an aware UTC datetime."""
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


@pytest.fixture
def analyzer():  # type: ignore[no-untyped-def]
    """These tests never analyse posts: skip loading the sentiment model and jieba."""
    from app.posts.analyzer import PostAnalyzer

    return PostAnalyzer(model=object(), tokenizer=object())  # type: ignore[arg-type]


def _channel(db, receiver, reports, *, created: datetime, kind: str = "wecom", name=None) -> int:  # type: ignore[no-untyped-def]
    with db.session() as session:
        channel_id = make_channel(session, receiver, kind, name=name, options={"reports": reports})
        session.execute(update(ChannelRow).where(ChannelRow.id == channel_id).values(created_at=created))
    return channel_id


def _tick(db, settings, now: datetime) -> int:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return queue_due_reports(session, settings=settings, now=now)


def _queued(db) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(period, China-time day the report covers) of every stored report notice, in order."""
    with db.session() as session:
        rows = session.scalars(
            select(NoticeRow).where(NoticeRow.kind == NoticeKind.REPORT).order_by(NoticeRow.created_at)
        )
        return [(row.payload["period"], row.payload["api_url"].split("date=")[1][:10]) for row in rows]


# --- the schedule itself (pure) ------------------------------------------------------------------

DUE_TABLE = [
    # schedule, China-time now, expected (period, covered day, scheduled China time)
    ({"daily": "08:30"}, "2026-12-03 08:29", [("day", "2026-12-01", "2026-12-02 08:30")]),
    ({"daily": "08:30"}, "2026-12-03 08:30", [("day", "2026-12-02", "2026-12-03 08:30")]),
    ({"daily": "00:00"}, "2026-12-03 00:00", [("day", "2026-12-02", "2026-12-03 00:00")]),
    ({"daily": "00:00"}, "2026-12-02 23:59", [("day", "2026-12-01", "2026-12-02 00:00")]),
    ({"weekly": "MON 09:00"}, "2026-12-07 08:59", [("week", "2026-11-23", "2026-11-30 09:00")]),
    ({"weekly": "mon 09:00"}, "2026-12-07 09:00", [("week", "2026-11-30", "2026-12-07 09:00")]),
    ({"weekly": "SUN 20:00"}, "2026-12-06 20:00", [("week", "2026-11-23", "2026-12-06 20:00")]),
    (
        {"daily": "07:00", "weekly": "FRI 18:00"},
        "2026-12-04 18:00",
        [("day", "2026-12-03", "2026-12-04 07:00"), ("week", "2026-11-23", "2026-12-04 18:00")],
    ),
]


@pytest.mark.parametrize(("schedule", "now", "expected"), DUE_TABLE)
def test_latest_due_report_in_china_time(schedule, now, expected) -> None:  # type: ignore[no-untyped-def]
    found = latest_due(ReportSchedule(**schedule), now=china(now), default_zone="Asia/Shanghai")
    got = [(due.period, due.day.isoformat(), due.scheduled_at.strftime("%Y-%m-%d %H:%M")) for due in found]
    assert got == expected


def test_the_schedule_zone_is_the_deployment_zone_unless_the_schedule_says() -> None:
    now = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)  # 09:00 in China, 01:00 in London
    china_due = latest_due(ReportSchedule(daily="08:30"), now=now, default_zone="Asia/Shanghai")
    london_due = latest_due(ReportSchedule(daily="08:30"), now=now, default_zone="Europe/London")
    own_zone = latest_due(
        ReportSchedule(daily="08:30", timezone="Europe/London"), now=now, default_zone="Asia/Shanghai"
    )
    assert china_due[0].day == date(2026, 12, 2)
    assert london_due[0].day == own_zone[0].day == date(2026, 12, 1)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"daily": "24:00"}, "HH:MM"),
        ({"daily": "8:30"}, "HH:MM"),
        ({"weekly": "XYZ 09:00"}, "MON/TUE"),
        ({"weekly": "MON"}, "星期 HH:MM"),
        ({"topics": [1]}, "至少需要"),
        ({"daily": "08:30", "timezone": "Mars/Base"}, "未知的时区"),
        ({"daily": "08:30", "hourly": "1"}, "hourly"),
    ],
)
def test_bad_schedules_are_refused_in_chinese(db, options, fragment) -> None:  # type: ignore[no-untyped-def]
    data = ChannelCreate(
        name="简报群", kind="slack", url="http://127.0.0.1:9/services/T/B/C", options={"reports": options}
    )
    with db.session() as session, pytest.raises(BadRequest) as raised:
        channels.create(session=session, data=data, allowlist=["127.0.0.0/8"])
    assert fragment in raised.value.message and "Slack通道配置无效" in raised.value.message


def test_alertmanager_refuses_reports(db) -> None:  # type: ignore[no-untyped-def]
    data = ChannelCreate(
        name="am", kind="alertmanager", url="http://127.0.0.1:9", options={"reports": {"daily": "08:30"}}
    )
    with db.session() as session, pytest.raises(BadRequest) as raised:
        channels.create(session=session, data=data, allowlist=["127.0.0.0/8"])
    assert "Alertmanager 只接收告警" in raised.value.message


# --- the report job against the database -----------------------------------------------------------


def test_daily_report_at_the_china_day_boundary(db, settings, receiver) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        make_topic(session)
    _channel(db, receiver, {"daily": "00:30"}, created=china("2026-12-02 12:00"))
    assert _tick(db, settings, china("2026-12-03 00:29")) == 0  # the 12-02 00:30 report predates the channel
    assert _tick(db, settings, china("2026-12-03 00:30")) == 1
    assert _tick(db, settings, china("2026-12-03 00:31")) == 0  # a second tick sends nothing again
    assert _tick(db, settings, china("2026-12-03 23:59")) == 0
    assert _tick(db, settings, china("2026-12-04 00:30")) == 1
    assert _queued(db) == [("day", "2026-12-02"), ("day", "2026-12-03")]


def test_weekly_report_covers_the_previous_monday_to_sunday(db, settings, receiver) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        make_topic(session)
    _channel(db, receiver, {"weekly": "MON 09:00"}, created=china("2026-12-02 12:00"))  # a Wednesday
    assert _tick(db, settings, china("2026-12-07 08:59")) == 0
    assert _tick(db, settings, china("2026-12-07 09:00")) == 1
    assert _tick(db, settings, china("2026-12-10 09:00")) == 0
    assert _tick(db, settings, china("2026-12-14 09:05")) == 1
    assert _queued(db) == [("week", "2026-11-30"), ("week", "2026-12-07")]


def test_a_missed_schedule_catches_up_once_not_once_per_day(db, settings, receiver) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        make_topic(session)
    _channel(db, receiver, {"daily": "08:30"}, created=china("2026-12-01 07:00"))
    assert _tick(db, settings, china("2026-12-01 08:30")) == 1
    # the scheduler is down from 12-01 09:00 until 12-05 10:00: three daily reports were missed
    assert _tick(db, settings, china("2026-12-05 10:00")) == 1
    assert _tick(db, settings, china("2026-12-05 10:01")) == 0
    assert _queued(db) == [("day", "2026-11-30"), ("day", "2026-12-04")]


def test_one_notice_per_topic_and_the_channels_topics_by_default(db, settings, receiver) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        first, second, third = (make_topic(session, name).id for name in ("星河汽车", "某乳业品牌", "竞品甲"))
    created = china("2026-12-01 07:00")
    all_topics = _channel(db, receiver, {"daily": "08:30"}, created=created, name="全部话题")
    with db.session() as session:
        channel_id = make_channel(
            session,
            receiver,
            "slack",
            name="两个话题",
            topics=[first, second],
            options={"reports": {"daily": "08:30"}},
        )
        session.execute(update(ChannelRow).where(ChannelRow.id == channel_id).values(created_at=created))
        chosen = make_channel(
            session,
            receiver,
            "webhook",
            name="指定话题",
            topics=[first],
            options={"reports": {"daily": "08:30", "topics": [third]}},
        )
        session.execute(update(ChannelRow).where(ChannelRow.id == chosen).values(created_at=created))
    assert _tick(db, settings, china("2026-12-02 08:30")) == 3 + 2 + 1
    with db.session() as session:
        pairs = set(session.execute(select(Delivery.channel_id, NoticeRow.topic_id).join(NoticeRow)))
    day = date(2026, 12, 1)
    assert pairs == {(all_topics, t) for t in (first, second, third)} | {
        (channel_id, first),
        (channel_id, second),
        (chosen, third),
    }
    with db.session() as session:
        ids = set(session.scalars(select(NoticeRow.id)))
    assert report_notice_id(channel_id=chosen, topic_id=third, period="day", day=day) in ids


def test_two_scheduler_instances_store_each_report_once(db, settings, receiver) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        for name in ("星河汽车", "某乳业品牌"):
            make_topic(session, name)
    _channel(db, receiver, {"daily": "08:30", "weekly": "MON 08:30"}, created=china("2026-11-30 07:00"))
    now = china("2026-12-07 08:30")  # a Monday: daily and weekly both due
    barrier, counts, errors = threading.Barrier(2), [], []

    def scheduler() -> None:
        try:
            with db.session() as session:
                barrier.wait(timeout=10)
                counts.append(queue_due_reports(session, settings=settings, now=now))
        except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sum(counts) == 4  # 2 topics × (day + week), whichever instance stored them
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(NoticeRow)) == 4
        assert session.scalar(select(func.count()).select_from(Delivery)) == 4


# --- end to end: outbox → dispatcher → loopback vendors ----------------------------------------------


def test_report_delivered_once_to_each_chat_vendor(db, settings, receiver) -> None:  # type: ignore[no-untyped-def]
    fast = outbox_settings(settings, outbox_digest_threshold=2, base_url="https://yuqing.example.cn")
    clock = Clock()  # real time: vendor emulators check signature timestamps
    yesterday = (clock() + timedelta(hours=8)).date() - timedelta(days=1)
    with db.session() as session:
        topic = make_topic(session, "星河汽车")
        start = datetime.combine(yesterday, datetime.min.time(), UTC) - timedelta(hours=8)  # 00:00 China
        for hour, (total, negative) in enumerate([(12, 3), (30, 20), (5, 0)]):
            session.add(
                Rollup(
                    topic_id=topic.id,
                    bucket_start=start + timedelta(hours=hour * 4),
                    total=total,
                    positive=1,
                    neutral=total - negative - 1,
                    negative=negative,
                )
            )
    kinds = ("wecom", "dingtalk", "feishu", "slack", "webhook")
    for kind in kinds:
        _channel(db, receiver, {"daily": "00:00"}, created=clock() - timedelta(days=3), kind=kind)
    assert _tick(db, fast, clock()) == len(kinds)
    assert _tick(db, fast, clock()) == 0
    run_ticks(db, fast, clock, ticks=3, step=1)
    assert _tick(db, fast, clock.advance(minutes=5)) == 0
    run_ticks(db, fast, clock, ticks=2, step=1)
    html_link = f"https://yuqing.example.cn/api/v1/reports/topics/{topic.id}?period=day&amp;date={yesterday}"
    for kind in kinds:
        accepted = receiver.accepted(kind)
        assert len(accepted) == 1, kind
        body = accepted[0].body.decode("utf-8")
        assert "统计时段" in body and "星河汽车" in body, kind
        assert "声量 47 条" in body and "负面 49%" in body, (kind, body)
        if kind == "webhook":
            assert accepted[0].json()["kind"] == "report" and accepted[0].json()["period"] == "day"
        else:
            assert "【日报】舆情简报" in body and "完整报告" in body, kind
        assert html_link.replace("&amp;", "&") in body.replace("\\u0026", "&").replace("&amp;", "&"), kind
    with db.session() as session:
        statuses = set(session.scalars(select(Delivery.status)))
    assert statuses == {DeliveryStatus.DELIVERED}


def test_reports_are_edited_through_the_api(client, write_headers) -> None:  # type: ignore[no-untyped-def]
    body = {"name": "简报群", "kind": "slack", "url": "http://127.0.0.1:9/services/T/B/C"}
    created = client.post("/api/v1/channels", json=body, headers=write_headers)
    assert created.status_code == 201, created.text
    channel_id = created.json()["id"]
    patch = {"options": {"reports": {"daily": "08:30", "weekly": "fri 17:00"}}}
    response = client.patch(f"/api/v1/channels/{channel_id}", json=patch, headers=write_headers)
    assert response.status_code == 200, response.text
    assert response.json()["options"]["reports"] == {"daily": "08:30", "weekly": "fri 17:00"}
    bad = client.patch(
        f"/api/v1/channels/{channel_id}",
        json={"options": {"reports": {"daily": "8点半"}}},
        headers=write_headers,
    )
    assert bad.status_code == 400 and "HH:MM" in bad.json()["error"]["message"]


# --- the dashboard's channel form --------------------------------------------------------------------

FORM_SCRIPT = """
const {withReports} = await import(process.argv[1]);
const cases = JSON.parse(process.argv[2]);
console.log(JSON.stringify(cases.map((fields) => withReports(fields))));
"""


def test_the_channel_form_folds_its_report_fields_into_options() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed here (Debian package nodejs)")
    module = Path(__file__).resolve().parents[3] / "app" / "web" / "static" / "js" / "sources_manage.js"
    cases = [
        {
            "name": "简报群",
            "options": {"max_posts": 3, "reports": {"daily": "07:00"}},
            "options.reports.daily": "08:30",
            "options.reports.topics": ["3", "5"],
        },
        {"name": "简报群", "options.reports.weekly": "MON 09:00", "options.reports.topics": []},
        {"name": "不要简报", "options": {"reports": {"daily": "07:00"}}, "options.reports.topics": []},
    ]
    result = subprocess.run(
        [node, "--input-type=module", "-e", FORM_SCRIPT, str(module), json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"name": "简报群", "options": {"max_posts": 3, "reports": {"daily": "08:30", "topics": [3, 5]}}},
        {"name": "简报群", "options": {"reports": {"weekly": "MON 09:00"}}},
        {"name": "不要简报", "options": {}},
    ]


def test_a_report_is_never_bundled_into_a_digest(db, settings, receiver) -> None:  # type: ignore[no-untyped-def]
    fast = outbox_settings(settings, outbox_digest_threshold=2, outbox_min_interval_minutes=0)
    clock = Clock()
    _channel(db, receiver, {"daily": "00:00"}, created=clock() - timedelta(days=2), kind="slack")
    with db.session() as session:
        first, second = make_topic(session, "星河汽车"), make_topic(session, "某乳业品牌")
        raise_alert(session, first, "severe", clock(), Outbox(fast))
        raise_alert(session, second, "influential", clock(), Outbox(fast))
    assert _tick(db, fast, clock()) == 2  # one report per topic
    run_ticks(db, fast, clock, ticks=4, step=1)
    bodies = [request.body.decode("utf-8") for request in receiver.accepted("slack")]
    digests = [body for body in bodies if "舆情汇总" in body]
    reports = [body for body in bodies if "舆情简报" in body]
    assert len(digests) == 1 and len(reports) == 2 and len(bodies) == 3
    assert all("舆情简报" not in body for body in digests)
    with db.session() as session:
        assert set(session.scalars(select(Delivery.status))) == {DeliveryStatus.DELIVERED}


def test_the_scheduler_role_runs_the_report_job(settings, db, analyzer, receiver) -> None:  # type: ignore[no-untyped-def]
    from app.runtime.container import Services

    services = Services.create(
        settings.model_copy(update={"scheduler_enabled": True}), db=db, analyzer=analyzer
    )
    names = {
        role: [name for *_, name in services.jobs(role)] for role in ("all", "scheduler", "worker", "api")
    }
    assert "scheduled-reports" in names["all"] and "scheduled-reports" in names["scheduler"]
    assert "scheduled-reports" not in names["worker"] and names["api"] == []
    with db.session() as session:
        make_topic(session)
    _channel(db, receiver, {"daily": "00:00"}, created=datetime(2020, 1, 1, tzinfo=UTC))
    assert services.report_tick() == 1  # real time: today's 00:00 report (yesterday's) is due
    assert services.report_tick() == 0
