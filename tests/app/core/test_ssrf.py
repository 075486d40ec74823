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
    from app.runtime.application import create_app
    from app.runtime.container import Services

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


# --------------------------------------------------------------------------- at connect time


def _fetch(url: str, allowlist: list[str]) -> Any:
    import asyncio

    from app.runtime.container import make_fetcher

    async def run() -> Any:
        settings = load_settings(url_allowlist=allowlist, collect_host_interval_seconds=0)
        async with make_fetcher(settings) as fetcher:
            return await fetcher.get(url)

    return asyncio.run(run())


def test_a_redirect_to_a_private_address_is_refused_at_connect_time(loopback_server) -> None:  # type: ignore[no-untyped-def]
    from collectors.errors import BlockedAddressError
    from tests.support.loopback import Reply

    port = loopback_server.url("/").split(":")[2].split("/")[0]
    loopback_server.serve("/feed", b"<rss/>", content_type="application/xml")
    loopback_server.handle(
        "/moved", lambda request: Reply(302, b"", headers={"Location": f"http://127.0.0.2:{port}/feed"})
    )
    # The allow-listed host itself is fetched…
    assert _fetch(loopback_server.url("/feed"), ["127.0.0.1/32"]).status == 200
    # …but its redirect to another private address is refused before any connection is made.
    with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.2.*YUQING_URL_ALLOWLIST"):
        _fetch(loopback_server.url("/moved"), ["127.0.0.1/32"])
    # A host whose name resolves to loopback now (rebinding after validation) is refused too.
    with pytest.raises(BlockedAddressError, match="localhost"):
        _fetch(f"http://localhost:{port}/feed", [])
    # Allow-listing the name lets it through.
    assert _fetch(f"http://localhost:{port}/feed", ["localhost"]).status == 200


def test_a_channel_whose_host_turned_private_fails_permanently_with_the_reason(loopback_server) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from app.channels.base import ChannelRequest, Outcome
    from app.channels.delivery import send
    from app.core.urls import outgoing_client

    loopback_server.serve("/hook", b'{"errcode":0}', content_type="application/json")
    request = ChannelRequest(kind="webhook", method="POST", url=loopback_server.url("/hook"), json={})

    async def run(allowlist: list[str]) -> Any:
        async with outgoing_client(load_settings(url_allowlist=allowlist)) as client:
            return await send(request, client, timeout=5)

    refused = asyncio.run(run([]))
    assert refused.outcome is Outcome.PERMANENT and "YUQING_URL_ALLOWLIST" in (refused.detail or "")
    assert asyncio.run(run(["127.0.0.0/8"])).outcome is Outcome.OK


def test_the_services_own_address_is_always_reachable_and_nothing_else_on_its_host() -> None:
    from app.core.urls import address_check

    check = address_check([], "http://127.0.0.1:8000")
    assert check("127.0.0.1", "127.0.0.1", 8000) is None  # e.g. the demo's webhook sink
    assert "YUQING_URL_ALLOWLIST" in (check("127.0.0.1", "127.0.0.1", 5432) or "")
    assert "resolves to" in (check("intranet.example", "10.0.0.7", 80) or "")
    assert check("example.com", "93.184.216.34", 443) is None
