"""Feishu custom bot: interactive card, body signature checked by the emulator, limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.channels import Outcome, get_channel
from app.channels.feishu import FeishuConfig
from app.channels.message import TRUNCATED_TAIL
from tests.app.channels.conftest import NOW, deliver, huge_notice, make_notice
from tests.support.receivers import VendorServer, feishu_expected_sign

FEISHU = get_channel("feishu")


def _config(vendor: VendorServer | None = None, **options: object) -> FeishuConfig:
    base = vendor.base if vendor else "https://open.feishu.cn"
    token = vendor.state.feishu_token if vendor else "t"
    secret = vendor.state.feishu_secret if vendor else "s"
    return FEISHU.parse_config({"url": f"{base}/open-apis/bot/v2/hook/{token}", "secret": secret, **options})


def test_render_card() -> None:
    body = FEISHU.render(make_notice(mention=["ou_abc", "@all", "13800138000"]), _config(), now=NOW)[0].json
    assert body["msg_type"] == "interactive" and body["timestamp"] == "1795435200"
    assert body["sign"] == feishu_expected_sign("s", "1795435200")
    card = body["card"]
    assert card["header"] == {
        "title": {"tag": "plain_text", "content": "【严重】舆情预警 · 某乳业品牌"},
        "template": "red",
    }
    texts = [element["text"]["content"] for element in card["elements"] if element["tag"] == "div"]
    assert texts[0].startswith("**负面声量 5 分钟内 312 条") and "▂▄█" in texts[0]
    assert "**处置建议**" in texts[1] and "[喝了之后" in texts[1]
    assert texts[-1] == "<at id=ou_abc></at> <at id=all></at>"
    buttons = next(element for element in card["elements"] if element["tag"] == "action")["actions"]
    assert buttons[0]["url"] == "https://yuqing.example.com/incidents/42"


@pytest.mark.parametrize(
    ("grade", "kind", "colour"),
    [
        ("severe", "incident_opened", "red"),
        ("influential", "escalated", "orange"),
        ("persistent", "reminder", "yellow"),
        ("general", "incident_opened", "blue"),
        ("severe", "resolved", "green"),
        ("general", "test", "grey"),
    ],
)
def test_header_colour(grade: str, kind: str, colour: str) -> None:
    body = FEISHU.render(make_notice(grade=grade, kind=kind), _config(), now=NOW)[0].json
    assert body["card"]["header"]["template"] == colour


def test_unsigned_when_no_secret() -> None:
    config = FEISHU.parse_config({"url": "https://open.feishu.cn/open-apis/bot/v2/hook/t"})
    assert "sign" not in FEISHU.render(make_notice(), config, now=NOW)[0].json


def test_signed_card_is_accepted(vendor: VendorServer) -> None:
    assert deliver(FEISHU.render(make_notice(), _config(vendor), now=datetime.now(UTC)))[0].ok
    assert vendor.state.accepted_for("feishu")[0].json()["card"]["header"]["template"] == "red"


def test_wrong_secret_and_old_timestamp_are_19021(vendor: VendorServer) -> None:
    wrong = FEISHU.render(make_notice(), _config(vendor, secret="nope"), now=datetime.now(UTC))
    old = FEISHU.render(make_notice(), _config(vendor), now=datetime.now(UTC) - timedelta(hours=2))
    assert [(r.outcome, r.vendor_code) for r in deliver(wrong + old)] == [(Outcome.PERMANENT, 19021)] * 2


@pytest.mark.parametrize("max_messages", [1, 3])
def test_huge_notice_stays_under_20_kb(vendor: VendorServer, max_messages: int) -> None:
    config = _config(vendor, max_posts=50, max_messages=max_messages)
    requests = FEISHU.render(huge_notice(), config, now=datetime.now(UTC))
    assert len(requests) == max_messages and all(len(r.body_bytes()) <= 20000 for r in requests)
    assert TRUNCATED_TAIL in requests[-1].body_bytes().decode()
    assert all(result.ok for result in deliver(requests))


def test_emulator_rejects_oversize_with_9499(vendor: VendorServer) -> None:
    request = FEISHU.render(make_notice(), _config(vendor), now=datetime.now(UTC))[0]
    oversize = type(request)(
        "feishu", "POST", request.url, request.headers, json={**request.json, "padding": "舆" * 7000}
    )
    result = deliver([oversize])[0]
    assert (result.outcome, result.vendor_code, result.http_status) == (Outcome.TOO_LARGE, 9499, 400)


def test_more_than_five_a_second_is_rate_limited(vendor: VendorServer) -> None:
    requests = FEISHU.render(make_notice(), _config(vendor), now=datetime.now(UTC))
    results = deliver(requests * 6)
    assert results[5].outcome is Outcome.RATE_LIMITED and results[5].vendor_code == 11232
    assert results[5].retry_after is not None and results[5].retry_after >= 60
