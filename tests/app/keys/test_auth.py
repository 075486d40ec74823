"""API keys: hashed storage, bearer auth, scopes, the one error shape, and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from app.keys.models import ApiKey


def test_health_endpoints_need_no_key(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer yq_not-a-real-key"])
def test_missing_or_bad_key_is_401_in_the_error_shape(client, header) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/sources", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == "unauthorized"
    assert set(body["error"]) == {"code", "message", "details"}


def test_scopes_are_enforced(client, read_headers, write_headers, admin_headers) -> None:  # type: ignore[no-untyped-def]
    source = {"name": "p1", "kind": "push"}
    denied = client.post("/api/v1/sources", json=source, headers=read_headers)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    created = client.post("/api/v1/sources", json=source, headers=write_headers)
    assert created.status_code == 201
    source_id = created.json()["id"]
    assert client.get(f"/api/v1/sources/{source_id}", headers=read_headers).status_code == 200
    assert client.delete(f"/api/v1/sources/{source_id}", headers=write_headers).status_code == 403
    assert client.delete(f"/api/v1/sources/{source_id}", headers=admin_headers).status_code == 204
    assert client.get("/api/v1/keys", headers=write_headers).status_code == 403


def test_keys_are_stored_hashed_and_revocation_works(client, db, admin_headers) -> None:  # type: ignore[no-untyped-def]
    created = client.post("/api/v1/keys", json={"name": "robot", "scope": "read"}, headers=admin_headers)
    assert created.status_code == 201
    plain = created.json()["key"]
    with db.session() as session:
        stored = session.scalar(select(ApiKey).where(ApiKey.name == "robot"))
        assert stored is not None and plain not in (stored.key_hash, stored.prefix)
    robot = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/sources", headers=robot).status_code == 200
    listed = client.get("/api/v1/keys", headers=admin_headers).json()
    assert all("key" not in k and "key_hash" not in k for k in listed)
    client.delete(f"/api/v1/keys/{created.json()['id']}", headers=admin_headers)
    assert client.get("/api/v1/sources", headers=robot).status_code == 401


def test_unknown_route_and_validation_errors_use_the_shape(client, write_headers) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/nope", headers=write_headers).json()["error"]["code"] == "not_found"
    bad = client.post("/api/v1/sources", json={"kind": "rss"}, headers=write_headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    assert any(d["loc"][-1] == "name" for d in bad.json()["error"]["details"])


def _cli(args: list[str], database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "YUQING_DATABASE_URL": database_url, **env}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def test_cli_creates_a_key_printed_as_the_last_line(client, database_url) -> None:  # type: ignore[no-untyped-def]
    result = _cli(["keys", "create", "--name", "cli-key", "--scope", "write"], database_url)
    assert result.returncode == 0, result.stderr
    plain = result.stdout.strip().splitlines()[-1]
    assert plain.startswith("yq_")
    assert client.get("/api/v1/sources", headers={"Authorization": f"Bearer {plain}"}).status_code == 200


def test_invalid_settings_fail_with_one_clear_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = _cli(["keys", "list"], "mysql://nope", YUQING_LOG_LEVEL="LOUD")
    assert result.returncode == 2
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1, result.stderr
    assert "YUQING_DATABASE_URL" in lines[0] and "YUQING_LOG_LEVEL" in lines[0]
    assert "Traceback" not in result.stderr
