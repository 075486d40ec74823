"""Fixtures for channel tests: sample notices (calm, hostile, huge) and the loopback vendor server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.channels import ChannelRequest, DeliveryResult, Notice, NoticePost, make_digest, send
from tests.support.receivers import VendorServer

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HOSTILE_TEXT = (
    "@all <@U024BE7LH> <!channel> <script>alert(1)</script> [点我](javascript:alert(1)) "
    '<at user_id="all">所有人</at> **加粗** # 标题\n> 引用 `code` 这家店太坑了！[怒]'
)


def sample_posts() -> list[NoticePost]:
    """Two negative posts, one in 繁体, one a repost chain."""
    return [
        NoticePost(
            "喝了之后孩子拉肚子，客服还推脱责任//@某人: 转发",
            "https://weibo.com/1234567890/PqRsT",
            "宝妈小林",
            "微博",
            NOW - timedelta(minutes=7),
            -0.93,
        ),
        NoticePost(
            "門店態度極差，退款拖了兩週",
            "https://www.zhihu.com/question/1/answer/2",
            "匿名用户",
            "知乎",
            NOW - timedelta(minutes=12),
            -0.81,
        ),
    ]


def make_notice(**overrides: object) -> Notice:
    """A realistic 严重 notice; keyword arguments replace fields."""
    fields: dict[str, object] = {
        "id": "5f0c8a2e-4a57-4b7e-9d7a-2f3b1c0d9e11",
        "kind": "incident_opened",
        "incident_id": 42,
        "topic": "某乳业品牌",
        "grade": "severe",
        "headline": "负面声量 5 分钟内 312 条，为基线 8.4 倍",
        "created_at": NOW,
        "reasons": [
            "负面声量为基线 8.4 倍（阈值 3 倍）",
            "负面占比 76%，持续 3 个时段",
            "认证大 V 转发 4 次",
        ],
        "trend": [3, 4, 2, 5, 4, 6, 9, 30, 120, 312],
        "top_posts": sample_posts(),
        "keywords": ["拉肚子", "退款", "客服", "Milk Pro"],
        "checklist": ["30 分钟内核实事实并同步法务", "准备统一回应口径", "联系首发账号沟通"],
        "incident_url": "https://yuqing.example.com/incidents/42",
        "api_url": "https://yuqing.example.com/api/v1/incidents/42",
        "mention": ["13800138000", "zhangsan"],
    }
    fields.update(overrides)
    return Notice(**fields)  # type: ignore[arg-type]


def hostile_notice() -> Notice:
    """A notice whose untrusted text tries to inject markup, links and mentions."""
    posts = [
        NoticePost(HOSTILE_TEXT, "javascript:alert(1)", "@all", "<b>微博</b>", NOW, -0.99),
        NoticePost(
            "[安全链接](https://evil.example/x) <@U999>", "https://evil.example/a)(b [c]", "<@U1>", "知乎"
        ),
    ]
    return make_notice(
        topic="品牌 [x](javascript:alert(1)) @all",
        top_posts=posts,
        keywords=["@all", "<@U1>", "[k](javascript:1)"],
    )


def huge_notice(posts: int = 1000) -> Notice:
    """A notice with `posts` long top posts (~300 characters each) and 1000 grading reasons."""
    text = "这款产品质量问题严重，售后推诿，消费者集体维权，要求召回并赔偿。" * 10
    top = [
        NoticePost(
            f"{index:04d} {text}", f"https://weibo.com/{index}/status", f"用户{index}", "微博", NOW, -0.9
        )
        for index in range(posts)
    ]
    reasons = [
        f"规则 {index}：负面声量持续高于基线，且多个平台同步出现相似文本（simhash 相近）"
        for index in range(1000)
    ]
    return make_notice(top_posts=top, reasons=reasons, keywords=[f"关键词{index}" for index in range(200)])


def huge_digest(items: int = 1000) -> Notice:
    """A digest of `items` notices."""
    notices = [
        make_notice(
            id=f"n{index}",
            incident_id=index,
            topic=f"话题{index}",
            incident_url=f"https://y.example/i/{index}",
        )
        for index in range(items)
    ]
    return make_digest(notices, created_at=NOW, digest_id="digest-1")


def deliver(requests: Sequence[ChannelRequest], *, timeout: float = 5.0) -> list[DeliveryResult]:
    """Send requests one by one over a fresh client (one attempt each)."""

    async def run() -> list[DeliveryResult]:
        async with httpx.AsyncClient() as client:
            return [await send(request, client, timeout=timeout) for request in requests]

    return asyncio.run(run())


@pytest.fixture()
def vendor() -> Iterator[VendorServer]:
    """A fresh loopback server hosting all vendor emulators."""
    server = VendorServer().start()
    try:
        yield server
    finally:
        server.stop()
