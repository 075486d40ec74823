"""WeCom group robot: render structure, and real delivery to the loopback emulator."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from app.channels import Outcome, get_channel
from app.channels.message import TRUNCATED_TAIL, utf8_len
from app.channels.wecom import WeComConfig
from tests.app.channels.conftest import NOW, deliver, huge_notice, make_notice
from tests.support.receivers import VendorServer

WECOM = get_channel("wecom")


def _config(vendor: VendorServer | None = None, **options: object) -> WeComConfig:
    base = vendor.base if vendor else "https://qyapi.weixin.qq.com"
    key = vendor.state.wecom_key if vendor else "k"
    return WECOM.parse_config({"url": f"{base}/cgi-bin/webhook/send?key={key}", **options})


def test_render_markdown_with_coloured_grade_and_user_mentions() -> None:
    requests = WECOM.render(make_notice(mention=["zhangsan"]), _config(), now=NOW)
    assert len(requests) == 1
    body = requests[0].json
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.startswith('### 【<font color="warning">严重</font>】舆情预警 · 某乳业品牌\n')
    assert "负面声量 5 分钟内 312 条" in content and "▁▂▄█" in content
    assert "[查看事件](https://yuqing.example.com/incidents/42)" in content
    assert "准备统一回应口径" in content
    assert content.endswith("<@zhangsan>")


def test_all_and_mobiles_go_in_a_follow_up_text_message() -> None:
    requests = WECOM.render(make_notice(mention=["13800138000", "@all", "lisi"]), _config(), now=NOW)
    assert [request.json["msgtype"] for request in requests] == ["markdown", "text"]
    text = requests[1].json["text"]
    assert text["mentioned_list"] == ["@all"] and text["mentioned_mobile_list"] == ["13800138000"]
    assert "<@lisi>" in requests[0].json["markdown"]["content"]


def test_secret_is_refused() -> None:
    with pytest.raises(ValidationError):
        WECOM.parse_config({"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "secret": "x"})


def test_pacing_default() -> None:
    assert WECOM.pacing(_config()).per_minute == 20
    assert WECOM.pacing(_config(rate_per_minute=5)).per_minute == 5


@pytest.mark.parametrize("max_messages", [1, 3])
def test_huge_notice_fits_4096_bytes(vendor: VendorServer, max_messages: int) -> None:
    config = _config(vendor, max_posts=50, max_messages=max_messages)
    requests = WECOM.render(huge_notice(), config, now=datetime.now(UTC))
    markdown = [
        request.json["markdown"]["content"] for request in requests if request.json["msgtype"] == "markdown"
    ]
    assert len(markdown) == max_messages
    assert all(utf8_len(content) <= 4096 for content in markdown)
    assert markdown[-1].count(TRUNCATED_TAIL) == 1
    if max_messages > 1:
        assert "（1/3）" in markdown[0] and "（3/3）" in markdown[2]
    assert all(result.ok for result in deliver(requests))


def test_emulator_rejects_oversize_and_bad_key(vendor: VendorServer) -> None:
    request = WECOM.render(make_notice(), _config(vendor), now=NOW)[0]
    oversize = type(request)(
        "wecom",
        "POST",
        request.url,
        request.headers,
        json={"msgtype": "markdown", "markdown": {"content": "舆" * 1400}},
    )
    wrong_key = WECOM.render(make_notice(), WECOM.parse_config({"url": request.url + "x"}), now=NOW)[0]
    too_large, permanent = deliver([oversize, wrong_key])
    assert (too_large.outcome, too_large.vendor_code) == (Outcome.TOO_LARGE, 40058)
    assert (permanent.outcome, permanent.vendor_code) == (Outcome.PERMANENT, 93000)
    assert vendor.state.accepted == []


def test_twenty_first_message_in_a_minute_is_rate_limited(vendor: VendorServer) -> None:
    request = WECOM.render(make_notice(mention=[]), _config(vendor), now=NOW)[0]
    results = deliver([request] * 21)
    assert all(result.ok for result in results[:20])
    assert (results[20].outcome, results[20].vendor_code, results[20].retry_after) == (
        Outcome.RATE_LIMITED,
        45009,
        60,
    )
