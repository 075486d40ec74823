"""Alertmanager channel against a real `prometheus-alertmanager` on loopback (skipped when absent)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.channels import Outcome, get_channel, make_digest
from app.channels.alertmanager import postable_alerts
from tests.app.channels.conftest import NOW, deliver, hostile_notice, make_notice

ALERTMANAGER = get_channel("alertmanager")
BINARY = "/usr/bin/prometheus-alertmanager"
CONFIG = 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """A throwaway Alertmanager with a null receiver; yields its base URL."""
    binary = shutil.which("prometheus-alertmanager") or (BINARY if Path(BINARY).exists() else None)
    if binary is None:
        pytest.skip("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
    (tmp_path / "alertmanager.yml").write_text(CONFIG)
    base = f"http://127.0.0.1:{_free_port()}"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address={base.removeprefix('http://')}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_ready(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            pytest.fail(f"alertmanager exited early: {stderr[-2000:]}")
        try:
            if httpx.get(f"{base}/-/ready", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail("alertmanager did not become ready within 15 s")


def _active(base: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base}/api/v2/alerts", params={"filter": 'service="yuqing"'}, timeout=5)
    response.raise_for_status()
    return [alert for alert in response.json() if alert["status"]["state"] == "active"]


def test_postable_alerts_structure() -> None:
    alerts = postable_alerts(make_notice(), now=NOW, ttl=timedelta(hours=24))
    current = next(alert for alert in alerts if alert["labels"]["grade"] == "severe")
    assert current["labels"] == {
        "alertname": "YuqingIncident",
        "incident_id": "42",
        "topic": "某乳业品牌",
        "grade": "severe",
        "severity": "critical",
        "service": "yuqing",
    }
    assert current["annotations"]["summary"] == "负面声量 5 分钟内 312 条，为基线 8.4 倍"
    assert current["annotations"]["title"] == "【严重】舆情预警 · 某乳业品牌"
    assert "处置建议" in current["annotations"]["description"]
    assert (current["startsAt"], current["endsAt"]) == (
        "2026-11-23T12:00:00.000Z",
        "2026-11-24T12:00:00.000Z",
    )
    assert current["generatorURL"] == "https://yuqing.example.com/incidents/42"
    others = [alert for alert in alerts if alert is not current]
    assert len(others) == 3 and all(alert["endsAt"] == "2026-11-23T12:00:00.000Z" for alert in others)


def test_labels_of_hostile_topic_are_inert() -> None:
    alerts = postable_alerts(hostile_notice(), now=NOW, ttl=timedelta(hours=1))
    assert all(
        "@all" not in alert["labels"]["topic"] and "[x](" not in alert["labels"]["topic"] for alert in alerts
    )


def test_test_notice_fires_only_itself() -> None:
    alerts = postable_alerts(make_notice(kind="test", incident_id=None), now=NOW, ttl=timedelta(minutes=5))
    assert [alert["labels"]["alertname"] for alert in alerts] == ["YuqingTest"]


def test_auth_headers() -> None:
    bearer = ALERTMANAGER.parse_config({"url": "https://am.example", "secret": "tok"})
    basic = ALERTMANAGER.parse_config({"url": "https://am.example/", "secret": "pw", "username": "yq"})
    assert ALERTMANAGER.render(make_notice(), bearer, now=NOW)[0].headers["Authorization"] == "Bearer tok"
    request = ALERTMANAGER.render(make_notice(), basic, now=NOW)[0]
    assert (
        request.headers["Authorization"] == "Basic eXE6cHc="
        and request.url == "https://am.example/api/v2/alerts"
    )


@pytest.mark.slow
def test_real_alertmanager_fires_escalates_and_resolves(alertmanager: str) -> None:
    config = ALERTMANAGER.parse_config({"url": alertmanager})
    opened = make_notice(grade="influential", created_at=datetime.now(UTC))
    assert [
        result.outcome for result in deliver(ALERTMANAGER.render(opened, config, now=datetime.now(UTC)))
    ] == [Outcome.OK]
    [alert] = _active(alertmanager)
    assert alert["labels"] == {
        "alertname": "YuqingIncident",
        "incident_id": "42",
        "topic": "某乳业品牌",
        "grade": "influential",
        "severity": "warning",
        "service": "yuqing",
    }
    assert alert["annotations"]["summary"] == opened.headline
    assert alert["annotations"]["incident_url"] == "https://yuqing.example.com/incidents/42"
    assert alert["generatorURL"] == "https://yuqing.example.com/incidents/42"

    escalated = make_notice(kind="escalated", grade="severe", created_at=datetime.now(UTC))
    assert deliver(ALERTMANAGER.render(escalated, config, now=datetime.now(UTC)))[0].ok
    time.sleep(0.01)
    assert [alert["labels"]["grade"] for alert in _active(alertmanager)] == ["severe"]

    resolved = make_notice(kind="resolved", grade="severe", status="resolved", created_at=datetime.now(UTC))
    assert deliver(ALERTMANAGER.render(resolved, config, now=datetime.now(UTC)))[0].ok
    time.sleep(0.01)
    assert _active(alertmanager) == []


@pytest.mark.slow
def test_real_alertmanager_takes_a_digest_and_rejects_garbage(alertmanager: str) -> None:
    config = ALERTMANAGER.parse_config({"url": alertmanager})
    now = datetime.now(UTC)
    items = [
        make_notice(id=f"n{index}", incident_id=index, topic=f"话题{index}", created_at=now)
        for index in range(3)
    ]
    digest = make_digest(items, created_at=now)
    assert deliver(ALERTMANAGER.render(digest, config, now=now))[0].ok
    assert sorted(alert["labels"]["topic"] for alert in _active(alertmanager)) == ["话题0", "话题1", "话题2"]
    bad = ALERTMANAGER.render(make_notice(), config, now=now)[0]
    garbage = type(bad)("alertmanager", "POST", bad.url, bad.headers, json=[{"labels": {}}])
    result = deliver([garbage])[0]
    assert (result.outcome, result.http_status) == (Outcome.PERMANENT, 400)
