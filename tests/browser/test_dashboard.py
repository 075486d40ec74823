"""The dashboard in a real browser: log in, overview, topic chart and its posts, incident handling,
and hostile post text rendered as text under a strict CSP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.sources import service as sources
from app.sources.models import Source
from app.stats.rollups import bucket_start
from tests.conftest import make_key
from tests.support.seed import create_topic, now, open_incident, post, push

pytestmark = pytest.mark.browser

SCRIPT_TEXT = "<script>window.__xss=1</script>"
IMG_TITLE = '<img src=x onerror="window.__xss=2">'
TEXTS = {
    "negative": "某品牌刹车失灵，4S店不给说法，太吓人了[怒]",
    "positive": "某品牌的服务真的很好，推荐！",
    "neutral": "某品牌发布新款车型，下月上市",
}


def _seed(base_url: str, db, services) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A topic with a day of posts, hostile posts in one bucket, a failing source and an open incident."""
    writer = {"Authorization": f"Bearer {make_key(db, 'seeder', 'write')}"}
    moment = now()
    hostile_at = bucket_start(moment) - timedelta(hours=2) + timedelta(minutes=1)
    with httpx.Client(base_url=base_url, timeout=30) as client:
        topic = create_topic(client, writer, "某品牌汽车", "某品牌", services=services)
        posts = [
            post(
                f"p{h}-{i}",
                TEXTS[kind],
                moment - timedelta(hours=h, minutes=7 * i),
                author=f"车主{(h * 7 + i) % 23}",
            )
            for h in range(1, 23)
            for i, kind in enumerate(["neutral", "negative", "positive", "negative"][: 1 + h % 4])
        ]
        posts += [
            post(f"dup{i}", "某品牌车主集体维权，请大家转发", moment - timedelta(minutes=40 + i))
            for i in range(5)
        ]
        posts += [
            post("xss-literal", SCRIPT_TEXT, hostile_at),
            post("xss-escaped", "某品牌 &lt;script&gt;window.__xss=1&lt;/script&gt; 的帖子", hostile_at),
            post(
                "xss-title",
                '某品牌图片 <img src=x onerror="window.__xss=3">',
                hostile_at,
                title=IMG_TITLE,
                author='<b onmouseover="window.__xss=4">黑客</b>',
                url="javascript:window.__xss=5",
            ),
        ]
        push(client, writer, "weibo", posts)
        feed = client.post(
            "/api/v1/sources",
            headers=writer,
            json={"name": "微博关键词-某品牌", "kind": "rss", "url": "http://127.0.0.1:9/feed"},
        ).json()
    outage = moment - timedelta(hours=6)
    with db.session() as session:
        weibo = session.scalar(select(Source).where(Source.name == "weibo"))
        for offset, status in ((0, "error"), (30, "error"), (75, "ok")):
            at = outage + timedelta(minutes=offset)
            sources.record_run(
                session=session,
                source=weibo,
                started_at=at,
                finished_at=at,
                status=status,
                error="HTTP 502" if status == "error" else None,
            )
        sources.record_run(
            session=session,
            source=session.get(Source, feed["id"]),
            started_at=moment,
            finished_at=moment,
            status="error",
            error="HTTP 503 Service Unavailable",
        )
    return {"topic": topic, "hostile_at": hostile_at, "incident": open_incident(db, topic["id"])}


def _watch(page) -> list[str]:  # type: ignore[no-untyped-def]
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    return problems


def _log_in(page, base_url: str, key: str, artifacts) -> None:  # type: ignore[no-untyped-def]
    page.goto(base_url + "/")
    page.fill("#api-key", "yq_wrong_key")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("401")
    page.screenshot(path=str(artifacts / "login.png"))
    page.fill("#api-key", key)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#topics-table")


def _chart_option(page) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    # the trend arrives on its own request, after the keywords and clusters may have rendered
    page.wait_for_function(
        "() => { const el = document.getElementById('trend-chart');"
        " const c = el && echarts.getInstanceByDom(el); return !!(c && c.getOption().series.length); }"
    )
    return page.evaluate(
        "() => { const c = echarts.getInstanceByDom(document.getElementById('trend-chart'));"
        " const o = c.getOption(); return {series: o.series.map(s => ({name: s.name, data: s.data,"
        " areas: (s.markArea && s.markArea.data) || []}))}; }"
    )


def _click_bucket(page, start_ms: int) -> None:  # type: ignore[no-untyped-def]
    x, y = page.evaluate(
        "(mid) => { const el = document.getElementById('trend-chart');"
        " const chart = echarts.getInstanceByDom(el);"
        " const [x, y] = chart.convertToPixel({xAxisIndex: 0, yAxisIndex: 0}, [mid, 0.5]);"
        " const r = el.getBoundingClientRect(); return [r.left + x, r.top + y]; }",
        start_ms + 150_000,
    )
    page.mouse.click(x, y)


def test_dashboard_end_to_end(live_server, page, db, app, artifacts) -> None:  # type: ignore[no-untyped-def]
    seeded = _seed(live_server, db, app.state.services)
    problems = _watch(page)
    response = page.request.get(live_server + "/")
    assert "script-src 'self'" in response.headers["content-security-policy"]

    _log_in(page, live_server, make_key(db, "analyst", "write"), artifacts)
    table = page.locator("#topics-table")
    assert "某品牌汽车" in table.inner_text() and "严重" in table.inner_text()
    assert "微博关键词-某品牌" in page.locator("#failing-sources").inner_text()
    page.screenshot(path=str(artifacts / "overview.png"), full_page=True)

    page.click("#topics-table a")
    page.wait_for_selector("#keywords li")
    page.wait_for_selector("#clusters .cluster")
    option = _chart_option(page)
    assert [s["name"] for s in option["series"]] == ["正面", "中性", "负面"]
    assert len(option["series"][0]["areas"]) == 1  # the push source's outage is shaded
    assert sum(value for s in option["series"] for _, value in s["data"]) > 40
    assert "5" in page.locator("#clusters").inner_text()
    page.screenshot(path=str(artifacts / "topic.png"), full_page=True)

    _click_bucket(page, int(bucket_start(seeded["hostile_at"]).timestamp() * 1000))
    page.wait_for_selector("#post-list .post")
    posts = page.locator("#post-list")
    assert posts.get_by_text(SCRIPT_TEXT, exact=False).is_visible()
    assert posts.get_by_text(IMG_TITLE).is_visible()
    assert page.evaluate("() => window.__xss") is None
    assert (
        page.evaluate(
            "() => document.querySelectorAll('#post-list script, #post-list img, #post-list b').length"
        )
        == 0
    )
    assert page.evaluate(
        "() => [...document.querySelectorAll('#post-list a')].every(a => !a.href.startsWith('javascript'))"
    )
    page.screenshot(path=str(artifacts / "topic-posts.png"), full_page=True)

    page.click("#trend-controls button[data-value='7d']")
    chart = "echarts.getInstanceByDom(document.getElementById('trend-chart'))"
    page.wait_for_function(f"() => {chart}.getOption().series[0].data.length > 150")
    assert page.locator("#trend-controls button.active").all_inner_texts() == ["7天", "1小时"]

    page.click("#nav a[data-nav=incidents]")
    page.wait_for_selector("#incidents-table")
    page.screenshot(path=str(artifacts / "incidents.png"), full_page=True)
    page.click(f"#incidents-table a[href='#/incidents/{seeded['incident']}']")
    page.wait_for_selector("#incident-checklist")
    assert page.locator("#incident-grade").inner_text() == "严重"
    assert page.locator("#incident-reasons li").count() >= 1
    assert "声量为基线" in page.locator("#incident-reasons").inner_text()
    assert "当前声量" in page.locator("#incident-inputs").inner_text()
    first_step = page.locator("#incident-checklist input[type=checkbox]").first
    first_step.check()
    page.wait_for_selector("#incident-checklist .done-by")
    page.click("#ack-button")
    expect(page.locator("#incident-status")).to_have_text("已确认")
    assert page.locator("#ack-button").is_disabled()
    assert "确认" in page.locator("#incident-timeline").inner_text()
    page.fill("#note-text", "已联系 4S 店核实 <b>情况</b>")
    page.click("#note-button")
    page.wait_for_selector("#incident-timeline >> text=已联系 4S 店核实 <b>情况</b>")
    page.screenshot(path=str(artifacts / "incident.png"), full_page=True)

    assert page.evaluate("() => window.__xss") is None
    assert not [p for p in problems if "Content Security Policy" in p or p.startswith("page error")], problems


def test_expired_key_returns_to_login_with_a_clear_message(live_server, page, db) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/")
    page.evaluate("() => sessionStorage.setItem('yuqing.apiKey', 'yq_revoked')")
    page.goto(live_server + "/#/incidents")
    expect(page.locator("#login-error")).to_contain_text("401")
    expect(page.locator("#nav")).to_be_hidden()
