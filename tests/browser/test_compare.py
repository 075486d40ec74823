"""The overview's 24-hour make-up and the 竞品对比 page in a real browser."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import make_key
from tests.support.seed import create_topic, now, post, push

pytestmark = pytest.mark.browser


def test_overview_makeup_and_comparison(live_server, page, db, app, artifacts) -> None:  # type: ignore[no-untyped-def]
    writer = {"Authorization": f"Bearer {make_key(db, 'seeder', 'write')}"}
    at = now() - timedelta(hours=3)
    with httpx.Client(base_url=live_server, timeout=30) as client:
        for name in ("星河汽车", "蓝海汽车", "白云汽车"):
            create_topic(client, writer, name, name, services=app.state.services)
        posts = [post(f"a{i}", f"星河汽车刹车失灵{i}", at, platform="weibo") for i in range(6)]
        posts += [post(f"b{i}", f"蓝海汽车降价{i}", at, platform="douyin") for i in range(2)]
        push(client, writer, "weibo", posts)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(live_server + "/")
    page.fill("#api-key", make_key(db, "analyst", "read"))
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#topics-makeup")
    row = page.locator("#topics-makeup tr", has_text="星河汽车")
    expect(row).to_contain_text("微博 100.0%")
    page.click("#compare-link")
    page.wait_for_selector("#compare-table")
    expect(page.locator("#compare-table")).to_contain_text("星河汽车")
    page.locator("#compare-form label", has_text="白云汽车").locator("input").uncheck()
    expect(page.locator("#compare-table tbody tr")).to_have_count(2)
    shares = page.locator("#compare-table tbody tr td:last-child").all_inner_texts()
    assert sorted(shares) == ["25.0%", "75.0%"]
    names = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('compare-chart'))"
        ".getOption().series.map(s => s.name)"
    )
    assert names.count("星河汽车") == 3 and names.count("蓝海汽车") == 3
    page.screenshot(path=str(artifacts / "compare.png"), full_page=True)
    assert not problems, problems
