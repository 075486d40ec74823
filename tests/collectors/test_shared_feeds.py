"""Every feed fixture in ../shared/fixtures/{feeds,rsshub}, served on loopback and collected for real.

Skipped with a clear reason when ../shared is absent; our own fixtures cover the same cases.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collectors.base import CollectResult, NotAFeedError, ParseError
from tests.collectors.helpers import collect
from tests.support.loopback import LoopbackServer
from tests.support.shared import shared_path

pytestmark = pytest.mark.shared


def collect_shared(
    server: LoopbackServer,
    folder: str,
    name: str,
    *,
    path: str = "/feed",
    content_type: str = "application/xml",
) -> CollectResult:
    """Serve ../shared/fixtures/<folder>/<name> at `path` and collect it with the rss collector."""
    body = shared_path("fixtures", folder, name).read_bytes()
    server.serve(path, body, content_type=content_type)
    return collect("rss", server.url(path))


def test_feedparser_rss20_example(server: LoopbackServer) -> None:
    result = collect_shared(server, "feeds", "feedparser_docs_example_rss20.xml")
    (post,) = result.posts
    assert post.external_id == "http://example.org/guid/1"  # guid, not the link
    assert post.url == "http://example.org/item/1"
    assert post.title == "First item title"
    assert post.published_at == datetime(2002, 9, 5, 0, 0, 1, tzinfo=UTC)
    assert post.text == "Watch out for nasty tricks"
    assert "javascript:" in post.raw  # raw is kept unsanitised; text never contains markup
    assert post.lang == "en" and result.warnings == []


def test_feedparser_atom10_example(server: LoopbackServer) -> None:
    (post,) = collect_shared(server, "feeds", "feedparser_docs_example_atom10.xml").posts
    assert post.external_id == "tag:feedparser.org,2005-11-09:/docs/examples/atom10.xml:3"
    assert post.url == "http://example.org/entry/3"
    assert post.published_at == datetime(2005, 11, 9, 0, 23, 47, tzinfo=UTC)
    assert post.author == "Mark Pilgrim"
    assert post.text == "Watch out for nasty tricks"
    assert post.extra["enclosures"] == ["http://www.example.com/movie.mp4"]


@pytest.mark.parametrize("content_type", ["application/xml", "text/xml; charset=gb2312"])
def test_gb2312_without_declaration_decodes(server: LoopbackServer, content_type: str) -> None:
    name = "feedparser_gb2312_no_encoding_decl.xml"
    (post,) = collect_shared(server, "feeds", name, content_type=content_type).posts
    assert post.title == "不归移民漫画系列：专业工作"


def test_oschina_offsets_become_utc_and_all_50_entries_survive_bozo(server: LoopbackServer) -> None:
    result = collect_shared(server, "feeds", "oschina_news_industry_rss.xml")
    assert len(result.posts) == 50
    first = result.posts[0]
    assert first.title == "Chrome OS 的 Linux 终端迎来一系列新功能，运行更轻松"
    assert first.external_id == "https://www.oschina.net/news/114665/new-linux-terminal-in-chrome-os-83"
    assert first.published_at == datetime(2020, 4, 6, 0, 28, 46, tzinfo=UTC)  # 08:28:46 +0800
    assert first.extra["tags"] == ["综合新闻"] and first.lang == "zh-cn"
    assert result.posts[-1].published_at == datetime(2020, 3, 30, 23, 52, 55, tzinfo=UTC)
    assert result.warnings == [
        "the feed is malformed (not well-formed (invalid token) at line 176); 50 entries recovered anyway"
    ]


def test_tmioe_truncated_utf8_keeps_chinese_intact(server: LoopbackServer) -> None:
    result = collect_shared(server, "feeds", "wordpress_zh_rss_tmioe.xml")
    assert len(result.posts) == 5
    assert {post.extra["feed_title"] for post in result.posts} == {"ZAPRO · 杂铺"}
    first = result.posts[0]
    assert first.title == "赘婿.更16集HD1080P/4K2160P.国语中字 (2021)"
    assert first.external_id == "https://tmioe.com/?p=3690" and first.url == "https://tmioe.com/3690.html"
    assert first.author == "暴躁鸭"
    assert first.published_at == datetime(2021, 2, 23, 2, 23, 59, tzinfo=UTC)
    assert result.posts[2].engagement == {"comments": 4}  # slash:comments
    assert result.posts[4].title == "微信apk1安装器，可直接在微信中打开apk文件"
    assert any("unclosed CDATA" in warning for warning in result.warnings)


def test_v2ex_atom_entries_without_id_link_or_title(server: LoopbackServer) -> None:
    result = collect_shared(
        server, "feeds", "v2ex_atom_entries_missing_id_link_title.xml", path="/feed/member/guyskk.xml"
    )
    untitled, curio, unicode_post = result.posts
    assert untitled.title is None and untitled.url is None and untitled.text == "test-content"
    assert untitled.external_id is not None and untitled.external_id.startswith("sha1:")
    assert curio.external_id == "tag:www.v2ex.com,2017-09-02:/t/387702" and curio.url is None
    assert curio.title == "[Python] 最近看异步 IO，发现 curio 真是好，看了一半感觉豁然开朗"
    # The relative id /t/378265 resolves against the URL the feed was fetched from.
    assert unicode_post.external_id == unicode_post.url == server.url("/t/378265")
    assert unicode_post.text.startswith("偶然发现一个网站介绍了所有的 unicode 码")
    assert result.warnings == ["1 entry without id; used the link or a content hash instead"]


def test_link_with_escaped_ampersand_and_unclosed_root(server: LoopbackServer) -> None:
    result = collect_shared(server, "feeds", "feedparser_rss_link_ampersand_unclosed_root.xml")
    (post,) = result.posts
    assert post.url == post.external_id == "http://link/get?a=1&b=2"
    assert result.warnings[0].startswith("the feed is malformed (")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("feedparser_rss_incomplete_cdata.xml", "at line 6"),
        ("feedparser_rss_unclosed_root.xml", "unclosed token at line 7"),
        ("feedparser_rss_undeclared_namespace.xml", "unbound prefix at line 9"),
    ],
)
def test_broken_feeds_without_entries_raise_parse_error(
    server: LoopbackServer, name: str, reason: str
) -> None:
    with pytest.raises(ParseError) as caught:
        collect_shared(server, "feeds", name)
    assert not isinstance(caught.value, NotAFeedError)
    assert reason in str(caught.value) and "no entries could be recovered" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "html_waf_challenge_served_as_feed.xml",
            "HTML page (probably a WAF/anti-bot challenge), not a feed",
        ),
        ("html_js_redirect_served_as_feed.xml", "redirects with JavaScript to '/feed?yqvqza=obwst'"),
        ("html_fragment_served_as_atom.xml", "HTML page titled 'EGOIST v1-legacy', not a feed"),
    ],
)
def test_html_served_as_feed_raises_not_a_feed(server: LoopbackServer, name: str, expected: str) -> None:
    with pytest.raises(NotAFeedError) as caught:
        collect_shared(server, "feeds", name)
    assert expected in str(caught.value)
    assert len(str(caught.value)) < 200


def test_rsshub_bilibili_channel(server: LoopbackServer) -> None:
    route = "/bilibili/user/channel/142821407/49017"
    result = collect_shared(server, "rsshub", "rsshub_bilibili_user_channel_2020.xml", path=route)
    assert len(result.posts) == 10 and result.warnings == []
    first = result.posts[0]
    assert first.external_id == first.url == "https://www.bilibili.com/video/av78398082"
    assert first.title == "五年前拿奖到手软，这款锤子手机的设计今天看依然惊艳【极客博物馆第五十二期】"
    assert first.author == "极客之选"
    assert first.published_at == datetime(2019, 12, 7, 11, 9, 36, tzinfo=UTC)
    assert first.platform == "bilibili" and first.lang == "zh-cn"
    assert first.text.startswith("极客博物馆 vol.52：锤子科技") and "<iframe" not in first.text
    assert "<iframe" in first.raw and 'referrerpolicy="no-referrer"' in first.raw  # not sanitised away
