"""html_to_text and the small value parsers (times, counts, dotted paths, platform guesses)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from collectors.html import html_to_text
from collectors.values import get_path, guess_platform, parse_count, parse_time, plural


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>第一段</p><p>第二段</p>", "第一段\n\n第二段"),
        ("一行<br>两行<br/>三行", "一行\n两行\n三行"),
        ("<div>甲</div><div>乙</div>", "甲\n乙"),
        ("<ul><li>一</li><li>二</li></ul>", "一\n二"),
        ("正文<script>alert('x')</script><style>p{}</style>结束", "正文结束"),
        ("&lt;b&gt; &amp; &quot;引号&quot; &#x4E2D;&#25991;", '<b> & "引号" 中文'),
        ('太气人了<img alt="[怒]" src="a.png">真的', "太气人了[怒]真的"),
        ('<img alt="a photo of a cat" src="c.png">', ""),
        ("  多个   空格\n\n\n\n换行  ", "多个 空格\n\n换行"),
        ("回复@小王:收到//@小王: 在吗", "回复@小王:收到//@小王: 在吗"),
        ("<p>段落<br></p><p>下一段</p>", "段落\n\n下一段"),
        (
            "<table><tr><td>品牌</td><td>评分</td></tr><tr><td>甲</td><td>3</td></tr></table>",
            "品牌 评分\n甲 3",
        ),
        ("", ""),
    ],
)
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-11-23T11:30:00+08:00", datetime(2024, 11, 23, 3, 30, tzinfo=UTC)),
        ("2024-11-23T03:30:00Z", datetime(2024, 11, 23, 3, 30, tzinfo=UTC)),
        ("2026-08-01T14:00:00.070144Z", datetime(2026, 8, 1, 14, 0, 0, 70144, tzinfo=UTC)),
        ("Sat, 23 Nov 2024 11:30:00 +0800", datetime(2024, 11, 23, 3, 30, tzinfo=UTC)),
        (1732332600, datetime(2024, 11, 23, 3, 30, tzinfo=UTC)),
        (1732332600000, datetime(2024, 11, 23, 3, 30, tzinfo=UTC)),
        ("1732332600", datetime(2024, 11, 23, 3, 30, tzinfo=UTC)),
        ("2024-11-23 03:30:00", datetime(2024, 11, 23, 3, 30, tzinfo=UTC)),
        ("not a date", None),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_parse_time(value: object, expected: datetime | None) -> None:
    assert parse_time(value) == expected


def test_parse_time_with_format_and_zone_for_naive_values() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    assert parse_time("2024-11-23 11:30:00", naive_tz=shanghai) == datetime(2024, 11, 23, 3, 30, tzinfo=UTC)
    assert parse_time("23/11/2024 11:30", fmt="%d/%m/%Y %H:%M", naive_tz=shanghai) == datetime(
        2024, 11, 23, 3, 30, tzinfo=UTC
    )
    assert parse_time("2024-11-23", fmt="%d/%m/%Y") is None
    aware = parse_time("2024-11-23T11:30:00+08:00", naive_tz=timezone(timedelta(hours=-5)))
    assert aware == datetime(2024, 11, 23, 3, 30, tzinfo=UTC)  # an explicit offset beats naive_tz


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12, 12),
        (3.9, 3),
        ("1,234", 1234),
        ("1.2万", 12000),
        ("3亿", 300_000_000),
        ("10w+", 100_000),
        ("2.5k", 2500),
        (" 7 ", 7),
        ("-1", None),
        (-1, None),
        ("很多", None),
        (True, None),
        (None, None),
    ],
)
def test_parse_count(value: object, expected: int | None) -> None:
    assert parse_count(value) == expected


def test_get_path() -> None:
    document = {"data": {"items": [{"id": 1}, {"id": 2}]}, "empty": None}
    assert get_path(document, "data.items.1.id") == 2
    assert get_path(document, "") is document
    assert get_path(document, "data.items.5.id") is None
    assert get_path(document, "data.missing") is None
    assert get_path(document, "empty.x") is None
    assert get_path([1, 2], "0") == 1


@pytest.mark.parametrize(
    ("url", "platform"),
    [
        ("https://rsshub.example.org/weibo/user/1195230310", "weibo"),
        ("http://127.0.0.1:1200/zhihu/hot", "zhihu"),
        ("https://rsshub.app/bilibili/vsearch/舆情", "bilibili"),
        ("https://rsshub.app/douyin/user/MS4wLjABAAAA", "douyin"),
        ("https://rsshub.app/xiaohongshu/user/5a1b/notes", "xiaohongshu"),
        ("https://rsshub.app/baidu/tieba/forum/吧名", "tieba"),
        ("https://m.weibo.cn/status/123", "weibo"),
        ("https://www.bilibili.com/video/av1", "bilibili"),
        ("https://tieba.baidu.com/p/1", "tieba"),
        ("https://www.baidu.com/s?wd=1", None),
        ("https://blog.example.com/posts/weibo/", None),
        ("https://notweibo.com/x", None),
        (None, None),
    ],
)
def test_guess_platform(url: str | None, platform: str | None) -> None:
    assert guess_platform(url) == platform


def test_plural() -> None:
    assert [plural(1, "entry"), plural(2, "entry"), plural(3, "item"), plural(0, "day")] == [
        "1 entry",
        "2 entries",
        "3 items",
        "0 days",
    ]
