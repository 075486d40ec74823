"""The incident page tells the story in a real browser: trend with the alert moment, first posts, the
posts inline with more on demand, accounts and sources; a post's sentiment corrected from the list."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import make_key
from tests.support.seed import create_topic, now, open_incident, post, push

pytestmark = pytest.mark.browser


def _seed(base_url: str, db, services) -> int:  # type: ignore[no-untyped-def]
    writer = {"Authorization": f"Bearer {make_key(db, 'seeder', 'write')}"}
    moment = now()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        topic = create_topic(client, writer, "青禾牛奶", "青禾牛奶", services=services)
        wave = [
            post(
                f"w{i}",
                f"喝了青禾牛奶后腹泻，第{i}位网友说孩子也不舒服",
                moment - timedelta(minutes=40 - i),
                author="维权妈妈" if i % 4 == 0 else f"网友{i}",
                platform="weibo" if i % 2 else "douyin",
                engagement={"reposts": i * 10},
                **({"author_followers": 1_280_000, "author_verified": True} if i == 3 else {}),
            )
            for i in range(24)
        ]
        push(client, writer, "complaints", wave)
    return open_incident(db, topic["id"], at=moment - timedelta(minutes=20))


def test_incident_story_and_a_correction_from_the_list(live_server, page, db, app, artifacts) -> None:  # type: ignore[no-untyped-def]
    incident = _seed(live_server, db, app.state.services)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(live_server + "/")
    page.fill("#api-key", make_key(db, "analyst", "write"))
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#topics-table")
    page.goto(f"{live_server}/#/incidents/{incident}")
    page.wait_for_selector("#story-posts .post")
    assert page.locator("h1#incident-title").count() == 1
    assert page.locator("#story-first .post").first.inner_text().count("第0位") == 1
    assert page.locator("#story-posts .post").count() == 10
    page.click("#story-more")
    expect(page.locator("#story-posts .post")).to_have_count(20)
    accounts = page.locator("#story-accounts").inner_text()
    assert "维权妈妈" in accounts and "抖音" in accounts
    top = page.locator("#story-accounts tbody tr").first.inner_text()  # by reach: the large account first
    assert "网友3 认证" in top and "1,280,000" in top, top
    assert "complaints" in page.locator("#story-sources").inner_text()
    option = page.evaluate(
        "() => { const o = echarts.getInstanceByDom(document.getElementById('story-chart')).getOption();"
        " return {names: o.series.map(s => s.name), marks: (o.series[0].markLine.data || []).length,"
        " day: o.xAxis[0].axisLabel.formatter.day}; }"
    )
    assert option["names"][:2] == ["声量", "负面"] and {"微博", "抖音"} <= set(option["names"])
    assert option["marks"] == 1
    assert option["day"] == "{M}月{d}日"  # day boundaries read 12月3日, not a bare 3
    page.screenshot(path=str(artifacts / "incident-story.png"), full_page=True)

    first = page.locator("#story-posts .post").first
    post_id = first.get_attribute("data-post-id")
    before = first.locator("[data-role=sentiment]").inner_text()
    target = "positive" if "负面" in before else "negative"
    first.locator("[data-action=correct-sentiment]").click()
    first.locator(f"[data-role=sentiment-choices] [data-sentiment={target}]").click()
    corrected = page.locator(f"#story-posts .post[data-post-id='{post_id}'] [data-role=sentiment]")
    expect(corrected).to_contain_text("正面" if target == "positive" else "负面")
    expect(corrected).to_contain_text("已校正")
    with httpx.Client(base_url=live_server) as client:
        reader = {"Authorization": f"Bearer {make_key(db, 'checker', 'read')}"}
        stored = client.get(f"/api/v1/posts/{post_id}", headers=reader).json()
    assert stored["sentiment"] == target and stored["sentiment_model"] is not None
    assert not problems, problems
