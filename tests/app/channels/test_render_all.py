"""Properties every channel kind must hold: inert post text, Chinese titles, limits for digests."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from app.channels import CHANNEL_KINDS, get_channel
from app.channels.base import ChannelConfig
from tests.app.channels.conftest import NOW, deliver, hostile_notice, huge_digest, make_notice
from tests.support.receivers import VendorServer

CHAT_KINDS = ("wecom", "dingtalk", "feishu", "slack")
LIMITS = {"wecom": 4096, "dingtalk": 20000, "feishu": 20000}
FORBIDDEN = [
    "<script",
    "@all",
    "<@U",
    "<!channel",
    "<at user_id",
    "](javascript",
    "|javascript",
    "<b>",
    "[安全链接](",
    "**加粗**",
    "# 标题",
    "> 引用",
    "`code`",
    "evil.example/a)",
]


def config_for(kind: str, vendor: VendorServer | None = None, **options: Any) -> ChannelConfig:
    """A valid config for each kind, pointing at the emulator when given."""
    base = vendor.base if vendor else "https://example.com"
    state = vendor.state if vendor else None
    raw: dict[str, Any] = {
        "wecom": {"url": f"{base}/cgi-bin/webhook/send?key={state.wecom_key if state else 'k'}"},
        "dingtalk": {
            "url": f"{base}/robot/send?access_token={state.dingtalk_token if state else 't'}",
            "secret": state.dingtalk_secret if state else "SECx",
        },
        "feishu": {
            "url": f"{base}/open-apis/bot/v2/hook/{state.feishu_token if state else 't'}",
            "secret": state.feishu_secret if state else "s",
        },
        "slack": {"url": f"{base}/services/T/B/X"},
        "webhook": {
            "url": f"{base}/hooks/standard",
            "secret": "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
        },
        "alertmanager": {"url": base},
        "email": {
            "url": "smtp://smtp.example.com:587",
            "sender": "yuqing@example.com",
            "recipients": ["pr@example.com"],
        },
    }[kind]
    return get_channel(kind).parse_config({**raw, **options})


def _strings(value: Any) -> str:
    """Every string in a JSON payload, one per line (what a client could render)."""
    if isinstance(value, str):
        return value + "\n"
    if isinstance(value, dict):
        return "".join(_strings(item) for item in value.values())
    if isinstance(value, list):
        return "".join(_strings(item) for item in value)
    return ""


@pytest.mark.parametrize("kind", [*CHAT_KINDS, "alertmanager"])
def test_hostile_post_text_is_inert(kind: str) -> None:
    channel = get_channel(kind)
    requests = channel.render(hostile_notice(), config_for(kind, max_posts=10), now=NOW)
    text = "".join(_strings(request.json) for request in requests)
    for needle in FORBIDDEN:
        assert needle not in text, (kind, needle)
    assert "＠all" in text and "＜script＞" in text


@pytest.mark.parametrize("kind", CHAT_KINDS)
def test_links_only_point_at_http_urls(kind: str) -> None:
    requests = get_channel(kind).render(hostile_notice(), config_for(kind, max_posts=10), now=NOW)
    text = "".join(_strings(request.json) for request in requests)
    targets = re.findall(r"\]\(([^)\s]*)\)", text) + re.findall(r"<([^|>\s]+)\|", text)
    assert targets, "expected at least the incident links"
    assert all(target.startswith(("https://", "http://")) for target in targets), targets


@pytest.mark.parametrize("kind", CHAT_KINDS)
@pytest.mark.parametrize(
    ("notice_kind", "word"),
    [("escalated", "舆情升级"), ("resolved", "舆情已解除"), ("reminder", "舆情提醒"), ("test", "【测试】")],
)
def test_every_kind_names_the_change(kind: str, notice_kind: str, word: str) -> None:
    requests = get_channel(kind).render(make_notice(kind=notice_kind), config_for(kind), now=NOW)
    assert word in _strings(requests[0].json)


@pytest.mark.parametrize("kind", CHAT_KINDS)
def test_thousand_item_digest_fits_and_is_accepted(vendor: VendorServer, kind: str) -> None:
    channel = get_channel(kind)
    requests = channel.render(
        huge_digest(1000), config_for(kind, vendor, max_messages=2), now=datetime.now(UTC)
    )
    assert 2 <= len(requests) <= 3  # two digest pages (+ WeCom's @ follow-up)
    if kind in LIMITS:
        sizes = [
            len(r.body_bytes())
            if kind != "wecom"
            else len(r.json.get("markdown", {}).get("content", "").encode())
            for r in requests
        ]
        assert max(sizes) <= LIMITS[kind]
    assert "舆情汇总" in _strings(requests[0].json) and "话题0" in _strings(requests[0].json)
    assert all(result.ok for result in deliver(requests))


def test_registry_lists_every_kind_with_pacing() -> None:
    assert CHANNEL_KINDS == ("wecom", "dingtalk", "feishu", "slack", "webhook", "alertmanager", "email")
    pacing = {kind: get_channel(kind).pacing(config_for(kind)) for kind in CHANNEL_KINDS}
    assert {kind: p.per_minute for kind, p in pacing.items()} == {
        "wecom": 20,
        "dingtalk": 20,
        "feishu": 100,
        "slack": 60,
        "webhook": 600,
        "alertmanager": 600,
        "email": 30,
    }
    assert pacing["feishu"].per_second == 5


@pytest.mark.parametrize("kind", CHANNEL_KINDS)
def test_config_refuses_non_http_urls_and_bad_mentions(kind: str) -> None:
    with pytest.raises(ValueError):
        config_for(kind).model_validate({**config_for(kind).to_storage(), "url": "file:///etc/passwd"})
    with pytest.raises(ValueError):
        config_for(kind, mention=["<!channel>"])


def test_secrets_are_hidden_in_dumps_but_kept_for_storage() -> None:
    config = config_for("dingtalk")
    assert "SECx" not in json.dumps(config.model_dump(mode="json"))
    assert config.to_storage()["secret"] == "SECx"


def report_notice(period: str = "day", **overrides: Any) -> Any:
    """A report notice whose overview, incident and post lines carry hostile text."""
    hostile = hostile_notice()
    fields: dict[str, Any] = {
        "kind": "report",
        "incident_id": None,
        "grade": "general",
        "headline": "统计时段：2026-11-22（星期日）",
        "reasons": ["声量 47 条，较上期 +12%（上期 42 条）", hostile.top_posts[0].text],
        "events": [f"【严重】{hostile.top_posts[0].text}（已解除）"],
        "top_posts": hostile.top_posts,
        "checklist": [],
        "period": period,
        "incident_url": "https://yuqing.example.cn/api/v1/reports/topics/1?period=day&date=2026-11-22&format=html",
        "api_url": "https://yuqing.example.cn/api/v1/reports/topics/1?period=day&date=2026-11-22&format=md",
        **overrides,
    }
    return make_notice(**fields)


@pytest.mark.parametrize("kind", CHAT_KINDS)
@pytest.mark.parametrize(("period", "tag"), [("day", "【日报】舆情简报"), ("week", "【周报】舆情简报")])
def test_reports_render_as_a_digest_with_the_report_link(kind: str, period: str, tag: str) -> None:
    requests = get_channel(kind).render(report_notice(period), config_for(kind, max_posts=10), now=NOW)
    text = "".join(_strings(request.json) for request in requests)
    assert tag in text and "概况" in text and "本期事件" in text and "完整报告" in text
    assert "format=html" in text and "未处理" not in text and "查看事件" not in text
    for needle in FORBIDDEN:
        assert needle not in text, (kind, needle)


def test_report_notices_round_trip_and_need_a_period() -> None:
    notice = report_notice("week")
    again = type(notice).from_dict(json.loads(json.dumps(notice.to_dict())))
    assert again == notice and again.period_label == "周报"
    with pytest.raises(ValueError, match="period"):
        report_notice(period=None)
    with pytest.raises(ValueError, match="period"):
        make_notice(period="day")


def test_the_webhook_carries_the_report_and_alertmanager_posts_no_alert() -> None:
    webhook = get_channel("webhook").render(report_notice(), config_for("webhook"), now=NOW)
    assert webhook[0].json["kind"] == "report" and webhook[0].json["events"]
    assert (
        get_channel("alertmanager").render(report_notice(), config_for("alertmanager"), now=NOW)[0].json == []
    )
    assert not get_channel("alertmanager").accepts_reports
    assert all(get_channel(kind).accepts_reports for kind in (*CHAT_KINDS, "webhook"))
