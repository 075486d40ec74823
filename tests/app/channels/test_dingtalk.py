"""DingTalk custom robot: markdown/actionCard rendering, 加签 checked by the emulator, limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.channels import Outcome, get_channel
from app.channels.dingtalk import DingTalkConfig
from app.channels.message import TRUNCATED_TAIL
from tests.app.channels.conftest import NOW, deliver, huge_notice, make_notice
from tests.support.receivers import VendorServer

DINGTALK = get_channel("dingtalk")


def _config(vendor: VendorServer | None = None, **options: object) -> DingTalkConfig:
    base = vendor.base if vendor else "https://oapi.dingtalk.com"
    token = vendor.state.dingtalk_token if vendor else "t"
    secret = vendor.state.dingtalk_secret if vendor else "SECx"
    return DINGTALK.parse_config(
        {"url": f"{base}/robot/send?access_token={token}", "secret": secret, **options}
    )


def test_render_markdown_with_at() -> None:
    request = DINGTALK.render(make_notice(mention=["13800138000", "@all"]), _config(), now=NOW)[0]
    body = request.json
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "【严重】舆情预警 · 某乳业品牌"
    text = body["markdown"]["text"]
    assert text.startswith("### 【严重】舆情预警 · 某乳业品牌\n\n**负面声量")
    assert "[查看事件](https://yuqing.example.com/incidents/42)" in text and "处置建议" in text
    assert text.endswith("@13800138000 @所有人")
    assert body["at"] == {"atMobiles": ["13800138000"], "atUserIds": [], "isAtAll": True}
    assert "&timestamp=1795435200000&sign=" in request.url


def test_render_action_card_with_buttons() -> None:
    body = DINGTALK.render(make_notice(), _config(style="actionCard"), now=NOW)[0].json
    card = body["actionCard"]
    assert body["msgtype"] == "actionCard" and card["title"] == "【严重】舆情预警 · 某乳业品牌"
    assert card["btns"][0] == {"title": "查看事件", "actionURL": "https://yuqing.example.com/incidents/42"}
    single = DINGTALK.render(make_notice(api_url=None), _config(style="actionCard"), now=NOW)[0].json
    assert single["actionCard"]["singleURL"] == "https://yuqing.example.com/incidents/42"


def test_signed_message_is_accepted(vendor: VendorServer) -> None:
    requests = DINGTALK.render(make_notice(), _config(vendor), now=datetime.now(UTC))
    assert [result.outcome for result in deliver(requests)] == [Outcome.OK]
    received = vendor.state.accepted_for("dingtalk")[0]
    assert received.json()["markdown"]["title"] == "【严重】舆情预警 · 某乳业品牌"


def test_wrong_secret_and_stale_timestamp_are_permanent(vendor: VendorServer) -> None:
    wrong = DINGTALK.render(make_notice(), _config(vendor, secret="SECwrong"), now=datetime.now(UTC))
    stale = DINGTALK.render(make_notice(), _config(vendor), now=datetime.now(UTC) - timedelta(hours=2))
    results = deliver(wrong + stale)
    assert [(r.outcome, r.vendor_code) for r in results] == [(Outcome.PERMANENT, 310000)] * 2
    assert results[0].vendor_message == "sign not match"
    assert "invalid timestamp" in (results[1].vendor_message or "")


def test_keyword_security_is_satisfied(vendor: VendorServer) -> None:
    vendor.state.dingtalk_keyword = "告警"
    now = datetime.now(UTC)
    without = DINGTALK.render(make_notice(), _config(vendor), now=now)
    with_keyword = DINGTALK.render(make_notice(), _config(vendor, keyword="告警"), now=now)
    assert [result.outcome for result in deliver(without + with_keyword)] == [Outcome.PERMANENT, Outcome.OK]


@pytest.mark.parametrize("style", ["markdown", "actionCard"])
@pytest.mark.parametrize("max_messages", [1, 2])
def test_huge_notice_stays_under_20000_bytes(vendor: VendorServer, style: str, max_messages: int) -> None:
    config = _config(vendor, style=style, max_posts=50, max_messages=max_messages)
    requests = DINGTALK.render(huge_notice(), config, now=datetime.now(UTC))
    assert len(requests) == max_messages
    assert all(len(request.body_bytes()) <= 20000 for request in requests)
    assert TRUNCATED_TAIL in requests[-1].body_bytes().decode()
    assert all(result.ok for result in deliver(requests))


def test_emulator_rejects_oversize_with_460101(vendor: VendorServer) -> None:
    request = DINGTALK.render(make_notice(), _config(vendor), now=datetime.now(UTC))[0]
    oversize = type(request)(
        "dingtalk",
        "POST",
        request.url,
        request.headers,
        json={"msgtype": "text", "text": {"content": "舆" * 7000}},
    )
    result = deliver([oversize])[0]
    assert (result.outcome, result.vendor_code) == (Outcome.TOO_LARGE, 460101)


def test_throttled_after_twenty_a_minute(vendor: VendorServer) -> None:
    requests = DINGTALK.render(make_notice(), _config(vendor), now=datetime.now(UTC))
    results = deliver(requests * 21)
    assert all(result.ok for result in results[:20])
    assert (results[20].outcome, results[20].vendor_code, results[20].retry_after) == (
        Outcome.RATE_LIMITED,
        130101,
        600,
    )
