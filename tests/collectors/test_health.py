"""What a failed collection means, from real failure shapes: RSSHub error pages (风控 −352, Zhihu 403
signing, an expired Weibo cookie, a Xiaohongshu captcha) served over loopback through the real
Fetcher, and the messages the error tree writes for other failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.base import CollectorError
from collectors.health import Health, advice, classify, label, rsshub_error
from tests.collectors.helpers import collect, fixture_bytes
from tests.support.loopback import LoopbackServer, Reply

ERRORS = Path(__file__).resolve().parents[1] / "fixtures" / "collectors" / "rsshub_errors"


@pytest.mark.parametrize(
    "page,expected",
    [
        ("bilibili_352.html", Health.RISK_CONTROL),
        ("zhihu_403.html", Health.RISK_CONTROL),
        ("weibo_cookie.html", Health.LOGIN_REQUIRED),
        ("xiaohongshu_captcha.html", Health.CAPTCHA),
    ],
)
def test_rsshub_error_pages_name_their_cause(
    loopback_server: LoopbackServer, page: str, expected: Health
) -> None:
    body = (ERRORS / page).read_bytes()
    loopback_server.script("/route", *[Reply(503, body, "text/html; charset=utf-8")] * 6)
    with pytest.raises(CollectorError) as failure:
        collect("rss", loopback_server.url("/route"))
    message = str(failure.value)
    assert message.startswith("HTTP 503") and "Error message" not in message  # the line, not the page
    assert classify(message) is expected
    assert label(expected) and advice(expected)


def test_the_waf_challenge_fixture_is_a_captcha(loopback_server: LoopbackServer) -> None:
    loopback_server.serve("/feed", fixture_bytes("waf_challenge.html"), content_type="text/html")
    with pytest.raises(CollectorError) as failure:
        collect("rss", loopback_server.url("/feed"))
    assert classify(str(failure.value)) is Health.CAPTCHA


@pytest.mark.parametrize(
    "message,expected",
    [
        ("HTTP 429 from weibo.com", Health.RATE_LIMITED),
        ("rate limited by rsshub.example: retry in 300 s", Health.RATE_LIMITED),
        ("HTTP 404 from rsshub:1200: Not Found", Health.NOT_FOUND),
        ("HTTP 502 from rsshub:1200", Health.UPSTREAM_ERROR),
        ("network error talking to rsshub:1200: ConnectError", Health.NETWORK),
        ("timed out after 30 s fetching rsshub:1200", Health.NETWORK),
        ("refused to connect to 10.0.0.5: private address", Health.BLOCKED),
        ("the server returned an HTML page titled '首页', not a feed", Health.NOT_A_FEED),
        ("HTTP 401 from api.example.com: invalid token", Health.LOGIN_REQUIRED),
        ("something nobody foresaw", Health.FAILING),
        (None, Health.FAILING),
    ],
)
def test_messages_of_the_error_tree(message: str | None, expected: Health) -> None:
    assert classify(message) is expected


def test_rsshub_error_extracts_the_line() -> None:
    text = (
        "Looks like something went wrong Route requested: /bilibili/user/video/1 "
        "Error message: Got error code -352 while fetching: 风控校验失败 Helpful Information to provide "
        "when opening issue: Path: /bilibili/user/video/1"
    )
    assert rsshub_error(text) == "Got error code -352 while fetching: 风控校验失败"
    assert rsshub_error("<rss>an ordinary body</rss>") is None
