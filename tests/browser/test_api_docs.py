"""The API reference at /docs renders in a real browser with every request served by Yuqing itself."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_docs_render_offline_with_local_assets_only(live_server: str, page) -> None:  # type: ignore[no-untyped-def]
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    failures: list[str] = []
    page.on("requestfailed", lambda request: failures.append(request.url))
    page.goto(f"{live_server}/docs")
    # a 1.7 MB script to parse: generous timeouts for a loaded CI machine
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Yuqing", timeout=60_000)
    expect(page.locator(".opblock-tag-section").first).to_be_visible(timeout=30_000)
    page.wait_for_load_state("networkidle", timeout=30_000)
    own = urlsplit(live_server).netloc
    outside = [
        url for url in requested if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != own
    ]
    assert requested and outside == [], outside
    assert failures == []
    assert any(url.endswith("/openapi.json") for url in requested)


def test_docs_page_is_served_under_the_strict_policy(live_server: str) -> None:
    with httpx.Client(base_url=live_server) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "cdn" not in page.text.lower()
        assert client.get("/static/vendor/swagger-ui-bundle.js").status_code == 200
        assert client.get("/redoc").status_code == 404
