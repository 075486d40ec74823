"""Channel API: CRUD with scopes and audit, write-only secrets, validation in the one error shape,
the SSRF guard, `/test` reporting the vendor's answer, and the delivery log."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.channels.outbox import Outbox
from app.core.config import load_settings
from app.core.db import utcnow
from tests.support.delivery import (
    Clock,
    make_topic,
    outbox_settings,
    raise_alert,
    run_ticks,
)
from tests.support.receivers import BODIES

DING_SECRET = "SECding舆情secret"


@pytest.fixture
def analyzer():  # type: ignore[no-untyped-def]
    """Channel API tests never analyse posts: skip loading the sentiment model and jieba."""
    from app.posts.analyzer import PostAnalyzer

    return PostAnalyzer(model=object(), tokenizer=object())  # type: ignore[arg-type]


def _error(response) -> dict:  # type: ignore[no-untyped-def,type-arg]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]  # type: ignore[no-any-return]


def test_crud_scopes_audit_and_write_only_secrets(
    client, receiver, db, admin_headers, write_headers, read_headers
):  # type: ignore[no-untyped-def]
    spec = receiver.channel_spec("dingtalk")
    minimal = {"name": "公关部企业微信群", "kind": "wecom", "url": receiver.channel_spec("wecom")["url"]}
    assert client.post("/api/v1/channels", json=minimal, headers=read_headers).status_code == 403
    created = client.post("/api/v1/channels", json=minimal, headers=write_headers)
    assert created.status_code == 201, created.text
    wecom = created.json()
    assert (wecom["topics"], wecom["min_grade"], wecom["quiet_hours"], wecom["mention"]) == (
        None,
        "general",
        None,
        [],
    )
    assert wecom["has_secret"] is False and wecom["healthy"] is True and wecom["enabled"] is True
    assert wecom["url"].endswith("key=weco***") and receiver.state.wecom_key not in created.text

    body = {
        "name": "钉钉值班群",
        "kind": "dingtalk",
        **spec,
        "mention": ["13800138000"],
        "min_grade": "influential",
        "quiet_hours": {"start": "22:00", "end": "08:00"},
        "options": {"style": "actionCard"},
    }
    ding = client.post("/api/v1/channels", json=body, headers=write_headers)
    assert ding.status_code == 201, ding.text
    assert ding.json()["has_secret"] is True and ding.json()["quiet_hours"]["timezone"] == "Asia/Shanghai"
    channel_id = ding.json()["id"]
    patched = client.patch(
        f"/api/v1/channels/{channel_id}",
        json={"secret": "SECrotated", "min_grade": "severe"},
        headers=write_headers,
    )
    assert patched.status_code == 200 and patched.json()["min_grade"] == "severe"
    listing = client.get("/api/v1/channels", headers=read_headers)
    one = client.get(f"/api/v1/channels/{channel_id}", headers=read_headers)
    for response in (created, ding, patched, listing, one):
        for secret in (DING_SECRET, "SECrotated", receiver.state.dingtalk_token):
            assert secret not in response.text
    assert [item["name"] for item in listing.json()] == ["公关部企业微信群", "钉钉值班群"]

    assert client.delete(f"/api/v1/channels/{channel_id}", headers=write_headers).status_code == 403
    assert client.delete(f"/api/v1/channels/{channel_id}", headers=admin_headers).status_code == 204
    assert _error(client.get(f"/api/v1/channels/{channel_id}", headers=read_headers))["code"] == "not_found"
    with db.session() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.entity == "channel")).all()
    assert [entry.action for entry in entries] == ["create", "create", "update", "delete"]
    assert entries[2].details == {"min_grade": "severe", "secret_changed": True}
    assert all(
        secret not in json.dumps(entry.details, ensure_ascii=False)
        for entry in entries
        for secret in (DING_SECRET, "SECrotated")
    )


WHSEC = "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
BAD_BODIES = [
    ({"kind": "telegram"}, 400, "bad_request", None),
    ({"kind": "webhook"}, 400, "bad_request", ["secret"]),
    ({"kind": "webhook", "secret": "not-a-whsec-secret"}, 400, "bad_request", ["secret"]),
    ({"kind": "wecom", "secret": "abc"}, 400, "bad_request", ["secret"]),
    ({"kind": "dingtalk", "options": {"style": "poster"}}, 400, "bad_request", ["style"]),
    ({"kind": "slack", "options": {"colour": "red"}}, 400, "bad_request", ["colour"]),
    ({"kind": "slack", "options": {"url": "http://127.0.0.1/x"}}, 400, "bad_request", None),
    ({"kind": "slack", "url": "ftp://127.0.0.1/hook"}, 400, "bad_request", ["url"]),
    ({"kind": "slack", "mention": ["<!here>"]}, 400, "bad_request", ["mention"]),
    ({"kind": "slack", "topics": [999]}, 400, "bad_request", None),
    ({"kind": "slack", "url": None}, 422, "validation_error", None),
    ({"kind": "slack", "min_grade": "critical"}, 422, "validation_error", None),
    ({"kind": "slack", "quiet_hours": {"start": "25:00", "end": "08:00"}}, 422, "validation_error", None),
    (
        {"kind": "slack", "quiet_hours": {"start": "22:00", "end": "08:00", "timezone": "Mars/Base"}},
        422,
        "validation_error",
        None,
    ),
    ({"kind": "slack", "quiet_hours": {"start": "08:00", "end": "08:00"}}, 422, "validation_error", None),
]


def test_validation_errors_in_the_one_error_shape(client, write_headers) -> None:  # type: ignore[no-untyped-def]
    for override, status, code, loc in BAD_BODIES:
        body = {"name": "坏通道", "kind": "slack", "url": "http://127.0.0.1:9/services/T/B/C", **override}
        if body["url"] is None:
            del body["url"]
        response = client.post("/api/v1/channels", json=body, headers=write_headers)
        assert response.status_code == status, (override, response.text)
        error = _error(response)
        assert error["code"] == code and error["message"], override
        if loc is not None:
            assert [detail["loc"] for detail in error["details"]] == [loc], override
        if "secret" in body:
            assert str(body["secret"]) not in response.text
    assert client.get("/api/v1/channels", headers=write_headers).json() == []


def test_duplicate_names_conflict_and_kind_cannot_change(client, write_headers) -> None:  # type: ignore[no-untyped-def]
    body = {"name": "同名", "kind": "slack", "url": "http://127.0.0.1:9/services/T/B/C"}
    channel_id = client.post("/api/v1/channels", json=body, headers=write_headers).json()["id"]
    assert _error(client.post("/api/v1/channels", json=body, headers=write_headers))["code"] == "conflict"
    response = client.patch(f"/api/v1/channels/{channel_id}", json={"kind": "wecom"}, headers=write_headers)
    assert response.status_code == 422 and _error(response)["code"] == "validation_error"


PRIVATE_URLS = [
    "http://127.0.0.1:8080/hook",
    "http://10.1.2.3/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://localhost/hook",
    "http://[::1]/hook",
]


def test_ssrf_guard_refuses_private_targets_unless_allow_listed(settings, services, admin_headers) -> None:  # type: ignore[no-untyped-def]
    from app.runtime.application import create_app

    strict = load_settings(database_url=settings.database_url, scheduler_enabled=False)
    assert strict.url_allowlist == []
    with TestClient(create_app(strict, services=services)) as strict_client:
        body = {"name": "公网", "kind": "slack", "url": "http://93.184.215.14/hook"}  # no request is made
        created = strict_client.post("/api/v1/channels", json=body, headers=admin_headers)
        assert created.status_code == 201, created.text
        for url in PRIVATE_URLS:
            response = strict_client.post(
                "/api/v1/channels", json={**body, "name": "内网", "url": url}, headers=admin_headers
            )
            assert response.status_code == 422 and _error(response)["code"] == "unsafe_url", url
            patched = strict_client.patch(
                f"/api/v1/channels/{created.json()['id']}", json={"url": url}, headers=admin_headers
            )
            assert patched.status_code == 422 and _error(patched)["code"] == "unsafe_url", url


def test_allow_list_admits_loopback(client, write_headers) -> None:  # type: ignore[no-untyped-def]
    body = {"name": "本机", "kind": "slack", "url": "http://127.0.0.1:8080/services/T/B/C"}
    assert client.post("/api/v1/channels", json=body, headers=write_headers).status_code == 201


def test_test_message_reports_the_vendor_answer(client, receiver, write_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    good = client.post(
        "/api/v1/channels",
        headers=write_headers,
        json={"name": "企业微信", "kind": "wecom", **receiver.channel_spec("wecom")},
    ).json()
    answer = client.post(f"/api/v1/channels/{good['id']}/test", headers=write_headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() | {"message": None} == {
        "ok": True,
        "outcome": "ok",
        "http_status": 200,
        "vendor_code": "0",
        "vendor_message": "ok",
        "detail": None,
        "requests": 1,
        "message": None,
    }
    assert "预警通道测试" in receiver.accepted("wecom")[0].json()["markdown"]["content"]

    spec = {**receiver.channel_spec("dingtalk"), "secret": "SECnot-the-right-one"}
    bad = client.post(
        "/api/v1/channels", json={"name": "钉钉", "kind": "dingtalk", **spec}, headers=write_headers
    )
    bad_id = bad.json()["id"]
    assert client.post(f"/api/v1/channels/{bad_id}/test", headers=read_headers).status_code == 403
    failed = client.post(f"/api/v1/channels/{bad_id}/test", headers=write_headers).json()
    assert (failed["ok"], failed["outcome"], failed["vendor_code"]) == (False, "permanent", "310000")
    assert failed["vendor_message"] == "sign not match" and failed["message"].startswith("永久失败")
    shown = client.get(f"/api/v1/channels/{bad_id}", headers=read_headers).json()
    assert shown["healthy"] is False and "310000" in shown["last_error"]
    fixed = client.patch(
        f"/api/v1/channels/{bad_id}", json={"secret": DING_SECRET}, headers=write_headers
    ).json()
    assert fixed["healthy"] is True and fixed["last_error"] is None
    assert client.post(f"/api/v1/channels/{bad_id}/test", headers=write_headers).json()["ok"] is True

    receiver.switches.down = True
    down = client.post(f"/api/v1/channels/{good['id']}/test", headers=write_headers).json()
    assert (down["ok"], down["outcome"], down["http_status"]) == (False, "retry", 503)


def test_deliveries_log_with_attempts_and_filters(
    client, db, settings, receiver, write_headers, read_headers
):  # type: ignore[no-untyped-def]
    created = client.post(
        "/api/v1/channels",
        headers=write_headers,
        json={"name": "企业微信", "kind": "wecom", **receiver.channel_spec("wecom")},
    ).json()
    fast, clock = outbox_settings(settings), Clock()
    receiver.switches.script["wecom"].append((200, {}, json.dumps(BODIES["wecom_rate_limited"]).encode()))
    with db.session() as session:
        topic = make_topic(session)
        incident_id = raise_alert(session, topic, "severe", clock(), Outbox(fast)).id
    run_ticks(db, fast, clock)
    assert client.get("/api/v1/deliveries").status_code == 401
    pending = client.get("/api/v1/deliveries", params={"status": "pending"}, headers=read_headers).json()
    assert len(pending) == 1
    row = pending[0]
    assert (row["channel_id"], row["incident_id"], row["notice_kind"], row["grade"]) == (
        created["id"],
        incident_id,
        "incident_opened",
        "severe",
    )
    assert row["attempt_count"] == 1 and row["last_error"].startswith("被限流（HTTP 200，代码 45009）")
    assert [(a["outcome"], a["http_status"], a["vendor_code"]) for a in row["attempts"]] == [
        ("rate_limited", 200, "45009")
    ]
    assert row["attempts"][0]["vendor_message"].startswith("api freq out of limit")
    clock.advance(seconds=61)
    run_ticks(db, fast, clock)
    everything = client.get(
        "/api/v1/deliveries", params={"incident_id": incident_id}, headers=read_headers
    ).json()
    assert [a["outcome"] for a in everything[0]["attempts"]] == ["rate_limited", "ok"]
    assert everything[0]["status"] == "delivered" and everything[0]["delivered_at"]
    assert client.get("/api/v1/deliveries", params={"channel_id": 999}, headers=read_headers).json() == []
    assert client.get("/api/v1/deliveries", params={"status": "pending"}, headers=read_headers).json() == []
    too_many = client.get(
        "/api/v1/deliveries", params={"limit": settings.max_page_size + 1}, headers=read_headers
    )
    assert too_many.status_code == 422 and _error(too_many)["details"][0]["loc"] == ["query", "limit"]
    bad = client.get("/api/v1/deliveries", params={"status": "lost"}, headers=read_headers)
    assert bad.status_code == 400 and _error(bad)["code"] == "bad_request"


def test_the_process_wiring_delivers_through_the_outbox(
    client, services, db, receiver, write_headers
) -> None:  # type: ignore[no-untyped-def]
    from app.channels.dispatcher import Dispatcher

    assert isinstance(services.write_notice, Outbox) and isinstance(services.dispatcher, Dispatcher)
    body = {"name": "企业微信", "kind": "wecom", **receiver.channel_spec("wecom")}
    assert client.post("/api/v1/channels", json=body, headers=write_headers).status_code == 201
    with db.session() as session:
        incident_id = raise_alert(session, make_topic(session), "severe", utcnow(), services.write_notice).id
    resolved = client.post(f"/api/v1/incidents/{incident_id}/resolve", headers=write_headers)
    assert resolved.status_code == 200, resolved.text

    async def deliver() -> None:
        await services.dispatcher.tick()
        await services.dispatcher.aclose()

    asyncio.run(deliver())
    assert len(receiver.accepted("wecom")) == 1  # the opening; the resolution waits out the minimum interval
    rows = client.get("/api/v1/deliveries", params={"incident_id": incident_id}, headers=write_headers).json()
    assert [(row["notice_kind"], row["status"]) for row in rows] == [
        ("resolved", "pending"),
        ("incident_opened", "delivered"),
    ]
    wait = datetime.fromisoformat(rows[0]["next_attempt_at"]) - datetime.fromisoformat(
        rows[1]["delivered_at"]
    )
    assert timedelta(minutes=9) < wait <= timedelta(minutes=10)
