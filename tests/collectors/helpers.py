"""Helpers for collector tests: our own fixture files, generated encodings, a collect-once runner."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from collectors.base import CollectResult, SourceSpec, SourceState
from collectors.http import Fetcher
from collectors.registry import get_collector

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "collectors"

GBK_RSS_TEXT = (
    '<rss version="2.0"><channel><title>地方论坛</title>'
    "<item><title>小区停水三天没人管</title><link>http://bbs.example.cn/t/1</link>"
    "<description>业主反映：物业电话打不通，投诉无门。</description></item>"
    "</channel></rss>"
)


def fixture_bytes(name: str) -> bytes:
    """Bytes of one of our own fixture files in tests/fixtures/collectors."""
    return (FIXTURES / name).read_bytes()


def gbk_rss_without_declaration() -> bytes:
    """A GBK-encoded RSS document with no XML declaration (served without a charset)."""
    return GBK_RSS_TEXT.encode("gbk")


def utf8_rss_truncated_mid_character() -> bytes:
    """Our Chinese RSS fixture cut off inside a three-byte UTF-8 sequence, like a partial download."""
    body = fixture_bytes("zh_weibo_rss20.xml")
    cut = body.index("没有链接也没有".encode()) + 2  # two of the three bytes of 没
    return body[:cut]


class RecordingSleep:
    """An injectable sleep that records the requested waits and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_fetcher(**overrides: Any) -> Fetcher:
    """A Fetcher for loopback tests: no politeness delay and short timeouts unless overridden."""
    settings: dict[str, Any] = {"host_interval": 0, "timeout": 5.0, "connect_timeout": 2.0}
    settings.update(overrides)
    return Fetcher(**settings)


def collect(
    kind: str,
    url: str,
    options: dict[str, Any] | None = None,
    state: SourceState | None = None,
    **fetcher_overrides: Any,
) -> CollectResult:
    """Run one collection of `kind` at `url` through a real Fetcher and return the result."""

    async def run() -> CollectResult:
        async with make_fetcher(**fetcher_overrides) as fetcher:
            spec = SourceSpec(kind=kind, url=url, options=options or {})
            return await get_collector(kind).collect(spec, state or SourceState(), fetcher)

    return asyncio.run(run())
