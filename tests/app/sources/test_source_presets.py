"""Platform presets: listed with their parameters, a source made from one call, the URL built and
encoded from the configured RSSHub, clear Chinese errors, and the source collected through a
loopback RSSHub serving a recorded RSSHub feed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from app.core.config import load_settings
from app.runtime.application import create_app
from app.runtime.container import Services
from app.sources import presets
from tests.support.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[3]
WEIBO_FEED = ROOT / "tests" / "fixtures" / "collectors" / "zh_weibo_rss20.xml"


@pytest.fixture
def rsshub_client(settings, db, analyzer, loopback_server: LoopbackServer, write_headers):  # type: ignore[no-untyped-def]
    configured = load_settings(
        **{**settings.model_dump(), "rsshub_url": loopback_server.url("/").rstrip("/"), "url_allowlist": []}
    )
    services = Services.create(configured, db=db, analyzer=analyzer)
    with TestClient(create_app(configured, services=services)) as client:
        yield client


def test_presets_are_listed_with_parameters(client, read_headers) -> None:  # type: ignore[no-untyped-def]
    listed = client.get("/api/v1/source-presets", headers=read_headers)
    assert listed.status_code == 200
    by_id = {preset["id"]: preset for preset in listed.json()}
    expected = {
        "weibo_user",
        "weibo_keyword",
        "weibo_hot",
        "zhihu_hot",
        "zhihu_question",
        "bilibili_up",
        "douyin_user",
        "xiaohongshu_user",
        "tieba_forum",
        "toutiao_keyword",
        "wechat_mp",
        "news_people",
    }
    assert expected <= set(by_id)
    assert (
        by_id["weibo_keyword"]["params"][0]["name"] == "keyword"
        and by_id["weibo_keyword"]["platform"] == "weibo"
    )
    assert by_id["weibo_keyword"]["available"] is False  # YUQING_RSSHUB_URL is not set in tests
    assert by_id["news_people"]["media"] is True and by_id["news_people"]["available"] is True
    assert client.get("/api/v1/source-presets").status_code == 401


def test_a_preset_needs_its_base_url_and_valid_parameters(client, write_headers) -> None:  # type: ignore[no-untyped-def]
    body = {"preset": "weibo_keyword", "params": {"keyword": "星河汽车"}}
    unconfigured = client.post("/api/v1/sources/from-preset", json=body, headers=write_headers)
    assert unconfigured.status_code == 400 and "YUQING_RSSHUB_URL" in unconfigured.json()["error"]["message"]
    unknown = client.post("/api/v1/sources/from-preset", json={"preset": "nope"}, headers=write_headers)
    assert unknown.status_code == 404


def test_one_call_makes_a_source_that_collects_from_rsshub(  # type: ignore[no-untyped-def]
    rsshub_client, write_headers, loopback_server: LoopbackServer
) -> None:
    keyword = "星河汽车 刹车"
    route = "/weibo/keyword/" + quote(keyword, safe="")
    loopback_server.serve(route, WEIBO_FEED.read_bytes(), content_type="application/rss+xml")
    made = rsshub_client.post(
        "/api/v1/sources/from-preset",
        json={"preset": "weibo_keyword", "params": {"keyword": keyword}},
        headers=write_headers,
    )
    assert made.status_code == 201, made.text
    source = made.json()
    assert source["kind"] == "rss" and source["url"] == loopback_server.url(route)
    assert source["options"]["platform"] == "weibo" and source["interval_seconds"] == 300
    assert source["name"] == f"微博关键词搜索：{keyword}"
    run = rsshub_client.post(f"/api/v1/sources/{source['id']}/collect", headers=write_headers).json()
    assert run["status"] == "ok" and run["new"] > 0
    bad = rsshub_client.post(
        "/api/v1/sources/from-preset",
        json={"preset": "bilibili_up", "params": {"uid": "not-a-number"}},
        headers=write_headers,
    )
    assert bad.status_code == 400 and "参数「用户 ID」" in bad.json()["error"]["message"]
    extra = rsshub_client.post(
        "/api/v1/sources/from-preset",
        json={"preset": "weibo_hot", "params": {"x": "1"}},
        headers=write_headers,
    )
    assert extra.status_code == 400


def test_the_configured_rsshub_host_is_allowed_and_paths_are_encoded() -> None:
    settings = load_settings(rsshub_url="http://rsshub:1200/", wechat_bridge_url="http://wewe:4000")
    assert {"rsshub", "wewe"} <= set(settings.url_allowlist)
    url = presets.get("tieba_forum").url({"forum": "星河 汽车吧"}, settings)
    assert url == "http://rsshub:1200/baidu/tieba/forum/" + quote("星河 汽车吧", safe="")
    assert (
        presets.get("wechat_mp").url({"feed": "MP_WXS_1"}, settings) == "http://wewe:4000/feeds/MP_WXS_1.atom"
    )


@pytest.mark.slow
def test_cli_lists_presets_and_adds_a_source(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "YUQING_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "YUQING_RSSHUB_URL": "http://rsshub:1200",
        "YUQING_LOG_LEVEL": "WARNING",
    }
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env=env,
    )
    listed = run("source-presets")
    assert listed.returncode == 0 and "weibo_keyword" in listed.stdout
    added = run("add-source", "--preset", "zhihu_question", "--param", "question=59895982")
    assert added.returncode == 0, added.stderr
    assert "http://rsshub:1200/zhihu/question/59895982" in added.stdout
    wrong = run("add-source", "--preset", "zhihu_question", "--param", "question=abc")
    assert wrong.returncode == 1 and "参数「问题 ID」" in wrong.stderr and "Traceback" not in wrong.stderr
