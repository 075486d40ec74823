"""Guards: user-given URLs may not reach private networks (unless allow-listed), page sizes are capped,
and CORS is off unless configured."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.config import load_settings
from app.core.db import Database
from app.core.errors import UnsafeURL
from app.core.urls import check_url
from tests.conftest import make_key

PRIVATE_URLS = [
    "http://127.0.0.1/feed.xml",
    "http://127.1/feed.xml",
    "http://2130706433/feed.xml",
    "http://10.1.2.3/rss",
    "http://192.168.1.20:8080/rss",
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost:8080/feed",
    "http://[::1]/feed",
    "http://[::ffff:10.0.0.1]/feed",
    "http://0.0.0.0/feed",
]
CHANNEL_URLS = [
    "http://10.0.0.8/hooks/yuqing?token=abc",
    "https://127.0.0.1:8443/cgi-bin/webhook/send?key=xxxx",
    "http://169.254.169.254/robot/send?access_token=abc",
    "https://localhost/services/T000/B000/XXXX",
]


@pytest.fixture
def make_client(tmp_path: Path, sqlite_template: Path, analyzer) -> Iterator:  # type: ignore[no-untyped-def]
    """Build an app over a fresh SQLite copy with the given settings; yields a factory."""
    from app.main import create_app
    from app.services import Services

    opened: list[tuple[TestClient, Database]] = []

    def build(**overrides: Any) -> tuple[TestClient, dict[str, str]]:
        path = tmp_path / f"guard{len(opened)}.db"
        shutil.copyfile(sqlite_template, path)
        config = load_settings(
            database_url=f"sqlite:///{path}",
            scheduler_enabled=False,
            **{"url_allowlist": [], "cors_origins": [], **overrides},
        )
        db = Database(config.database_url)
        client = TestClient(create_app(config, services=Services.create(config, db=db, analyzer=analyzer)))
        client.__enter__()
        opened.append((client, db))
        return client, {"Authorization": f"Bearer {make_key(db, 'guard-admin', 'admin')}"}

    yield build
    for client, db in opened:
        client.__exit__(None, None, None)
        db.dispose()


def _source(url: str, name: str = "feed") -> dict[str, Any]:
    return {"name": name, "kind": "rss", "url": url}


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_sources_pointing_at_private_addresses_are_refused(make_client, url: str) -> None:  # type: ignore[no-untyped-def]
    client, headers = make_client()
    response = client.post("/api/v1/sources", json=_source(url), headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "unsafe_url"
    assert client.get("/api/v1/sources", headers=headers).json() == []


def test_source_url_changes_are_checked_too(make_client) -> None:  # type: ignore[no-untyped-def]
    client, headers = make_client(url_allowlist=["feeds.internal.test"])
    created = client.post("/api/v1/sources", json=_source("http://feeds.internal.test/rss"), headers=headers)
    assert created.status_code == 201, created.text
    moved = client.patch(
        f"/api/v1/sources/{created.json()['id']}", json={"url": "http://169.254.169.254/"}, headers=headers
    )
    assert moved.status_code == 422 and moved.json()["error"]["code"] == "unsafe_url"


def test_allowlist_admits_named_networks_and_hosts(make_client) -> None:  # type: ignore[no-untyped-def]
    client, headers = make_client(url_allowlist=["127.0.0.0/8", "localhost"])
    for index, url in enumerate(["http://127.0.0.1:9/feed", "http://localhost:9/feed"]):
        response = client.post("/api/v1/sources", json=_source(url, f"feed{index}"), headers=headers)
        assert response.status_code == 201, response.text
    refused = client.post("/api/v1/sources", json=_source("http://10.0.0.1/feed", "lan"), headers=headers)
    assert refused.json()["error"]["code"] == "unsafe_url"


@pytest.mark.parametrize("url", CHANNEL_URLS)
def test_channel_style_urls_are_refused_by_the_guard(url: str) -> None:
    with pytest.raises(UnsafeURL):
        check_url(url, [])
    assert check_url(url, ["127.0.0.0/8", "10.0.0.0/8", "169.254.0.0/16", "localhost"]) == url


@pytest.mark.parametrize("url", CHANNEL_URLS)
def test_channels_pointing_at_private_addresses_are_refused(make_client, url: str) -> None:  # type: ignore[no-untyped-def]
    client, headers = make_client()
    body = {
        "name": "内网钩子",
        "kind": "webhook",
        "url": url,
        "secret": "whsec_" + base64.b64encode(b"k" * 32).decode(),
    }
    response = client.post("/api/v1/channels", json=body, headers=headers)
    if response.status_code == 404 and response.json()["error"]["message"] == "Not Found":
        pytest.skip("the channels API is not mounted in this build")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "unsafe_url"


def test_page_size_is_capped_by_settings(make_client) -> None:  # type: ignore[no-untyped-def]
    client, headers = make_client(max_page_size=5)
    assert client.get("/api/v1/posts", params={"limit": 5}, headers=headers).status_code == 200
    over = client.get("/api/v1/posts", params={"limit": 6}, headers=headers)
    assert over.status_code == 422 and over.json()["error"]["code"] == "validation_error"
    assert "at most 5" in over.json()["error"]["details"][0]["msg"]
    assert client.get("/api/v1/alerts", params={"limit": 501}, headers=headers).status_code == 422
    assert client.get("/api/v1/audit", params={"limit": 1001}, headers=headers).status_code == 422


def _preflight(client: TestClient, origin: str) -> Any:
    return client.options(
        "/api/v1/overview",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )


def test_cors_is_off_by_default(make_client) -> None:  # type: ignore[no-untyped-def]
    client, headers = make_client()
    assert "access-control-allow-origin" not in _preflight(client, "https://evil.example").headers
    response = client.get("/api/v1/overview", headers={**headers, "Origin": "https://evil.example"})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers


def test_cors_allows_only_configured_origins(make_client) -> None:  # type: ignore[no-untyped-def]
    client, headers = make_client(cors_origins=["https://dash.example.org"])
    allowed = _preflight(client, "https://dash.example.org")
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://dash.example.org"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in _preflight(client, "https://evil.example").headers
    simple = client.get("/api/v1/overview", headers={**headers, "Origin": "https://dash.example.org"})
    assert simple.headers["access-control-allow-origin"] == "https://dash.example.org"
