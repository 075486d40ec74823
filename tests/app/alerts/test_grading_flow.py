"""Grades and headlines end to end (push → analysis → rollups → detectors → grading → incident), on
SQLite and PostgreSQL: a small wave with one post that mentions 起火 stays below 严重; a fast negative
wave in which the fire runs through the posts is 严重; a wave of distinct complaints with a block of
copies is headed by its volume, the copies shown as evidence inside the title."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.alerts.models import Alert, Incident
from app.topics import service as topics
from app.topics.schemas import TopicCreate
from tests.app.alerts.test_alert_flow import ANGRY, CALM, NOW, Clock, _burst, _history, _push


def _wave(count: int, *, fire_every: int = 0, calm_every: int = 0) -> list[dict]:  # type: ignore[type-arg]
    """`count` distinct posts within the last two minutes: complaints, some calm, some about a fire."""
    posts = []
    for i in range(count):
        text = CALM[i % len(CALM)] if calm_every and i % calm_every == 0 else ANGRY[i % len(ANGRY)]
        if fire_every and i % fire_every == 0:
            text = f"星河汽车停在车库里电池起火了，太吓人了！第{i}条"
        posts.append(
            {
                "id": f"w{i}",
                "text": f"{text} 第{i}条",
                "author": f"w{i}",
                "published_at": (NOW - timedelta(seconds=5 + i * 100 // max(count, 1))).isoformat(),
            }
        )
    return posts


def _setup(services, db) -> None:  # type: ignore[no-untyped-def]
    services.pipeline.clock = Clock(NOW)
    with db.session() as session:
        topics.create(session=session, data=TopicCreate(name="星河汽车", rule="星河汽车"))
    _push(services, "weibo", _history(NOW))
    with db.session() as session:
        assert session.scalars(select(Incident)).all() == []


def test_one_post_about_a_fire_in_a_small_wave_is_not_severe(services, db) -> None:  # type: ignore[no-untyped-def]
    _setup(services, db)
    wave = _wave(22, calm_every=3)
    wave[1]["text"] = "星河汽车隔壁小区电动车起火了，不知道是不是星河汽车的，吓人[怒]"  # the one mention
    _push(services, "weibo", wave)
    with db.session() as session:
        incident = session.scalars(select(Incident)).one()
        alert = session.scalars(select(Alert).order_by(Alert.id)).first()
        assert alert is not None and alert.inputs["critical_terms"] == ["起火"]
        assert alert.inputs["critical_posts"] == 1 and alert.inputs["scanned_posts"] > 22
        assert incident.grade != "severe", (incident.grade, incident.rules, alert.inputs)
        assert "general.critical_terms" in incident.rules and not incident.title.startswith("【严重】")


def test_a_fire_running_through_a_fast_negative_wave_is_severe(services, db) -> None:  # type: ignore[no-untyped-def]
    _setup(services, db)
    _push(services, "weibo", _wave(24, fire_every=2))  # fewer than 30 posts: volume alone is not 严重
    with db.session() as session:
        incident = session.scalars(select(Incident)).one()
        alert = session.scalars(select(Alert).order_by(Alert.id)).first()
        assert alert is not None and alert.inputs["critical_posts"] >= 12
        assert incident.grade == "severe" and "severe.critical_terms" in incident.rules, alert.inputs
        assert "severe.volume_negative" not in incident.rules
        assert incident.title.startswith("【严重】星河汽车：")


def test_a_complaint_wave_with_copies_is_headed_by_its_volume(services, db) -> None:  # type: ignore[no-untyped-def]
    _setup(services, db)
    copies = [
        {
            "id": f"c{i}",
            "text": "#星河汽车刹车失灵# 新车不到一个月刹车就失灵，差点送命，必须给个说法！[怒]",
            "author": f"复制{i}",
            "published_at": (NOW - timedelta(seconds=10 + i * 7)).isoformat(),
        }
        for i in range(12)
    ]
    _push(services, "weibo", _burst(NOW, 0, 25) + copies)
    with db.session() as session:
        incident = session.scalars(select(Incident)).one()
        assert incident.title.startswith("【") and "】星河汽车：" in incident.title
        headline = incident.title.split("：", 1)[1]
        assert headline.startswith(("声量", "负面声量", "负面占比")), incident.title
        assert "相似内容" not in incident.title
        assert "高度相似，供人工研判" in incident.title, incident.title


def test_a_wave_carried_by_a_large_or_verified_account_is_influential(services, db) -> None:  # type: ignore[no-untyped-def]
    _setup(services, db)
    wave = _wave(22, calm_every=3)
    wave[2].update(author_id="u-big", author_followers=2_300_000)
    wave[4].update(author_id="u-v1", author_followers=800, author_verified=True)
    wave[5].update(author_id="u-plain", author_followers=40, author_verified=False)
    _push(services, "weibo", wave)
    with db.session() as session:
        incident = session.scalars(select(Incident)).one()
        alert = session.scalars(select(Alert).order_by(Alert.id)).first()
        assert alert is not None
        assert (alert.inputs["max_followers"], alert.inputs["verified_authors"]) == (2_300_000, 1)
        assert "influential.reach" in incident.rules and incident.grade in ("influential", "severe")


def test_a_wave_of_small_accounts_has_no_reach_rule(services, db) -> None:  # type: ignore[no-untyped-def]
    _setup(services, db)
    wave = _wave(22, calm_every=3)
    wave[2].update(author_id="u-small", author_followers=999_999, author_verified=False)
    _push(services, "weibo", wave)
    with db.session() as session:
        incident = session.scalars(select(Incident)).one()
        alert = session.scalars(select(Alert).order_by(Alert.id)).first()
        assert alert is not None
        assert (alert.inputs["max_followers"], alert.inputs["verified_authors"]) == (999_999, 0)
        assert "influential.reach" not in incident.rules
