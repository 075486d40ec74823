"""Running Yuqing from the dashboard alone, in a real browser: a topic created with its live preview
(and a rule error shown in Chinese), a source added and collected now, a channel added and tested
against a loopback WeCom emulator (the vendor's answer shown) and disabled, a silence, an API key
created and shown once, a report read and downloaded, the case library. Screenshots are kept."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.alerts.models import Silence
from app.channels.models import ChannelRow
from app.keys.models import ApiKey
from app.posts.models import Topic
from app.sources.models import Source
from tests.conftest import make_key
from tests.support.loopback import LoopbackServer
from tests.support.receivers import VendorServer
from tests.support.seed import now, post, push

pytestmark = pytest.mark.browser
FEED = Path(__file__).resolve().parents[1] / "fixtures" / "collectors" / "zh_weibo_rss20.xml"


@pytest.fixture
def vendor() -> Iterator[VendorServer]:
    server = VendorServer().start()
    try:
        yield server
    finally:
        server.stop()


def _log_in(page, base_url: str, key: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base_url + "/")
    page.fill("#api-key", key)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#nav a[data-nav=topics]")


def test_manage_everything_from_the_dashboard(  # type: ignore[no-untyped-def]
    live_server, page, db, artifacts, vendor, loopback_server: LoopbackServer
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    writer = {"Authorization": f"Bearer {make_key(db, 'seeder', 'write')}"}
    moment = now()
    with httpx.Client(base_url=live_server, timeout=30) as client:
        push(
            client,
            writer,
            "weibo",
            [
                post("m1", "星河汽车刹车失灵，车主要求召回", moment - timedelta(hours=2)),
                post("m2", "星河汽车新车发布会", moment - timedelta(hours=1)),
                post("m3", "别的品牌的新闻", moment - timedelta(hours=1)),
            ],
        )
    _log_in(page, live_server, make_key(db, "admin-user", "admin"))

    # 监测方案: the empty overview links to the form; the preview follows the rule as it is typed
    page.wait_for_selector("main a[href='#/topics/new']")  # the empty overview links to the form
    page.goto(live_server + "/#/topics/new")
    page.fill("#topic-form [name=name]", "星河汽车")
    page.fill("#topic-form [name=rule]", "星河汽车 AND (")
    expect(page.locator("#preview-error")).to_contain_text("规则有误")
    page.fill("#topic-form [name=rule]", "星河汽车 AND (刹车 OR 召回)")
    expect(page.locator("#preview-count")).to_contain_text("命中 1 条")
    page.fill("#topic-form [name=critical_terms]", "召回，起火")
    page.screenshot(path=str(artifacts / "workbench-topic.png"), full_page=True)
    page.click("#topic-form button[type=submit]")
    page.wait_for_url(re.compile(r"#/topics/\d+$"))
    with db.session() as session:
        topic = session.scalar(select(Topic).where(Topic.name == "星河汽车"))
        assert topic is not None and topic.critical_terms == ["召回", "起火"]

    # 数据来源: add an RSS feed served on loopback and collect it now
    loopback_server.serve("/feed.xml", FEED.read_bytes(), content_type="application/rss+xml")
    page.goto(live_server + "/#/sources/new")
    page.fill("#source-form [name=name]", "微博关键词")
    page.select_option("#source-form [name=kind]", "rss")
    page.fill("#source-form [name=url]", loopback_server.url("/feed.xml"))
    page.check("#source-form [name=media]")
    page.click("#source-form button[type=submit]")
    page.wait_for_selector("#manage-sources")
    row = page.locator("#manage-sources tr", has_text="微博关键词")
    row.locator("[data-action=collect]").click()
    expect(page.locator("#flash")).to_contain_text("采集完成：新增")
    with db.session() as session:
        source = session.scalar(select(Source).where(Source.name == "微博关键词"))
        assert source is not None and source.media and source.last_status == "ok"

    # 通知渠道: add a WeCom robot (the emulator on loopback), test it, disable it
    page.goto(live_server + "/#/channels/new")
    page.fill("#channel-form [name=name]", "公关部企业微信群")
    page.select_option("#channel-form [name=kind]", "wecom")
    page.fill("#channel-form [name=url]", f"{vendor.base}/cgi-bin/webhook/send?key={vendor.state.wecom_key}")
    page.select_option("#channel-form [name=min_grade]", "influential")
    page.fill("#channel-form [name='options.reports.daily']", "08:30")  # 每日简报
    page.click("#channel-form button[type=submit]")
    page.wait_for_selector("#manage-channels")
    page.locator("#manage-channels [data-action=test]").first.click()
    expect(page.locator("#channel-test-result")).to_contain_text("结果：ok")
    assert vendor.state.accepted_for("wecom"), "the test message reached the emulator"
    page.screenshot(path=str(artifacts / "workbench-channels.png"), full_page=True)
    page.locator("#manage-channels [data-action=toggle]").first.click()
    expect(page.locator("#manage-channels [data-action=toggle]").first).to_have_text("启用")
    with db.session() as session:
        channel = session.scalar(select(ChannelRow).where(ChannelRow.name == "公关部企业微信群"))
        assert channel is not None and not channel.enabled and channel.min_grade == "influential"
        assert channel.options == {"reports": {"daily": "08:30"}}

    # 静默
    page.goto(live_server + "/#/silences")
    page.select_option("#silence-form [name=topic_id]", label="星河汽车")
    page.fill("#silence-form [name=reason]", "新品发布会，预期声量上升")
    page.click("#silence-form button[type=submit]")
    expect(page.locator("#manage-silences")).to_contain_text("新品发布会")
    with db.session() as session:
        silence = session.scalar(select(Silence))
        assert silence is not None and silence.topic_id == topic.id

    # API 密钥: created, shown once, usable
    page.goto(live_server + "/#/keys")
    page.fill("#key-form [name=name]", "值班脚本")
    page.select_option("#key-form [name=scope]", "read")
    page.click("#key-form button[type=submit]")
    key = page.locator("#new-key-value").inner_text().strip()
    with httpx.Client(base_url=live_server) as client:
        assert client.get("/api/v1/topics", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    with db.session() as session:
        assert session.scalar(select(ApiKey).where(ApiKey.name == "值班脚本")).scope == "read"

    # 舆情简报: read it and download it
    page.goto(live_server + "/#/reports")
    page.click("#report-form button[type=submit]")
    expect(page.locator("#report-text")).to_contain_text("星河汽车")
    with page.expect_download() as download:
        page.click("#download-html")
    assert download.value.suggested_filename.endswith(".html")
    page.screenshot(path=str(artifacts / "workbench-report.png"), full_page=True)

    # 案例库
    page.goto(live_server + "/#/cases")
    expect(page.locator("main")).to_contain_text("案例库")

    # a missing incident: one Chinese message, and it does not follow to the next page
    page.goto(live_server + "/#/incidents/999999")
    expect(page.locator("#flash")).to_have_text("未找到：要查看的内容不存在或已被删除。")
    page.goto(live_server + "/#/topics")
    page.wait_for_selector("#manage-topics")
    expect(page.locator("#flash")).to_be_hidden()
    assert not problems, problems
