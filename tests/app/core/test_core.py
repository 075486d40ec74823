"""Core pieces: settings parsing, JSON logs, role checks, retention."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from app.core.config import SettingsError, load_settings
from app.core.logging import JSONFormatter
from app.runtime.server import RoleError, check_role


def test_settings_parse_lists_and_normalise_postgres_urls() -> None:
    settings = load_settings(
        database_url="postgres://u@db/yq",
        url_allowlist="10.0.0.0/8, feeds.internal",
        critical_terms="爆炸,召回",
    )
    assert settings.database_url == "postgresql+psycopg://u@db/yq" and not settings.is_sqlite
    assert settings.url_allowlist == ["10.0.0.0/8", "feeds.internal"]
    assert settings.critical_terms == ["爆炸", "召回"]


@pytest.mark.parametrize(
    "overrides,variable",
    [
        ({"database_url": "mysql://x"}, "YUQING_DATABASE_URL"),
        ({"url_allowlist": "10.0.0.0/33"}, "YUQING_URL_ALLOWLIST"),
        ({"log_format": "xml"}, "YUQING_LOG_FORMAT"),
        ({"max_body_bytes": 10}, "YUQING_MAX_BODY_BYTES"),
        ({"collect_timeout_seconds": 5, "collect_lease_seconds": 20}, "YUQING_COLLECT_LEASE_SECONDS"),
        ({"collect_lease_seconds": 0}, "YUQING_COLLECT_LEASE_SECONDS"),
    ],
)
def test_bad_settings_name_the_variable(overrides, variable) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SettingsError) as caught:
        load_settings(**overrides)
    assert variable in str(caught.value) and "\n" not in str(caught.value)


def test_collect_lease_defaults_to_the_collection_budget_plus_a_minute() -> None:
    assert load_settings(collect_timeout_seconds=30).collect_lease == 180
    assert load_settings(collect_timeout_seconds=1, collect_lease_seconds=5).collect_lease == 5


def test_json_logs_are_one_object_per_line_with_extra_fields() -> None:
    record = logging.LogRecord(
        "yuqing.test", logging.INFO, __file__, 1, "collect source=%s new=%d", ("微博", 3), None
    )
    record.source = "微博"
    line = JSONFormatter().format(record)
    payload = json.loads(line)
    assert "\n" not in line
    assert payload["message"] == "collect source=微博 new=3" and payload["source"] == "微博"
    assert payload["level"] == "INFO" and payload["ts"].endswith("+00:00")


def test_sqlite_refuses_split_roles() -> None:
    sqlite = load_settings(database_url="sqlite:///x.db")
    check_role(sqlite, "all")
    with pytest.raises(RoleError, match="single-process"):
        check_role(sqlite, "worker")
    check_role(load_settings(database_url="postgresql://u@h/d"), "worker")
    with pytest.raises(RoleError, match="unknown role"):
        check_role(sqlite, "boss")


def test_retention_prunes_old_posts_but_keeps_rollups(services, db) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from app.core.db import utcnow
    from app.posts.models import Post
    from app.posts.retention import prune
    from app.stats.models import Rollup
    from app.topics import service as topics
    from app.topics.schemas import TopicCreate

    with db.session() as session:
        topics.create(session=session, data=TopicCreate(name="留存", rule="留存"))
    old = (utcnow() - timedelta(days=100)).isoformat()
    new = (utcnow() - timedelta(days=1)).isoformat()
    posts = [{"id": f"o{i}", "text": f"留存测试旧帖 {i}", "published_at": old} for i in range(5)]
    posts += [{"id": f"n{i}", "text": f"留存测试新帖 {i}", "published_at": new} for i in range(3)]
    services.pipeline.push("retention", posts)
    with db.session() as session:
        rollup_total = session.scalar(select(func.sum(Rollup.total)))
    assert prune(db, older_than=utcnow() - timedelta(days=90), batch=2) == 5
    with db.session() as session:
        assert session.scalar(select(func.count(Post.id))) == 3
        assert session.scalar(select(func.sum(Rollup.total))) == rollup_total == 8
