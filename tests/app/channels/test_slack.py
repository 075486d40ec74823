"""Slack incoming webhook: blocks within limits, `ok` body, 429 with Retry-After."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.channels import Outcome, get_channel
from app.channels.message import TRUNCATED_TAIL
from app.channels.slack import SlackConfig, chunk_lines
from tests.app.channels.conftest import NOW, deliver, huge_notice, make_notice
from tests.support.receivers import VendorServer

SLACK = get_channel("slack")


def _config(vendor: VendorServer | None = None, **options: object) -> SlackConfig:
    base = vendor.base if vendor else "https://hooks.slack.com"
    return SLACK.parse_config({"url": f"{base}/services/T000/B000/XXXX", **options})


def test_render_blocks_with_fallback_text() -> None:
    body = SLACK.render(make_notice(mention=["U024BE7LH", "@all"]), _config(), now=NOW)[0].json
    assert body["text"].startswith("【严重】舆情预警 · 某乳业品牌\n*负面声量")
    types = [block["type"] for block in body["blocks"]]
    assert types == ["header", "section", "divider", "section", "actions", "context"]
    assert body["blocks"][0]["text"]["text"] == "【严重】舆情预警 · 某乳业品牌"
    section = body["blocks"][3]["text"]["text"]
    assert "<https://weibo.com/1234567890/PqRsT|喝了之后" in section and "*处置建议*" in section
    assert body["blocks"][-1]["elements"][0]["text"].endswith("<@U024BE7LH> <!channel>")


def test_no_secret_for_incoming_webhooks() -> None:
    with pytest.raises(ValidationError):
        _config(secret="x")


def test_chunk_lines_breaks_between_lines() -> None:
    chunks = chunk_lines(["甲" * 1000, "乙" * 1000, "丙" * 1000, "丁" * 10])
    assert [len(chunk) for chunk in chunks] == [2001, 1000 + 1 + 10]


@pytest.mark.parametrize("max_messages", [1, 2])
def test_huge_notice_within_block_limits(vendor: VendorServer, max_messages: int) -> None:
    requests = SLACK.render(huge_notice(), _config(vendor, max_posts=50, max_messages=max_messages), now=NOW)
    assert len(requests) == max_messages
    for request in requests:
        blocks = request.json["blocks"]
        assert len(blocks) <= 50
        assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert TRUNCATED_TAIL in requests[-1].json["blocks"][-3]["text"]["text"]
    assert all(result.ok for result in deliver(requests))


def test_invalid_blocks_from_the_emulator_are_permanent(vendor: VendorServer) -> None:
    request = SLACK.render(make_notice(), _config(vendor), now=NOW)[0]
    bad = type(request)(
        "slack",
        "POST",
        request.url,
        request.headers,
        json={"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a" * 3001}}]},
    )
    result = deliver([bad])[0]
    assert (result.outcome, result.vendor_message, result.http_status) == (
        Outcome.PERMANENT,
        "invalid_blocks",
        400,
    )


def test_burst_gets_429_with_retry_after(vendor: VendorServer) -> None:
    requests = SLACK.render(make_notice(), _config(vendor), now=NOW)
    results = deliver(requests * 6)
    assert all(result.ok for result in results[:5])
    assert (results[5].outcome, results[5].retry_after, results[5].http_status) == (Outcome.RETRY, 1, 429)
