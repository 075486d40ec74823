"""The `rss` collector on our own fixtures, served by the loopback server through the real Fetcher."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collectors.base import NotAFeedError, ParseError, SourceState
from collectors.rss import content_hash
from tests.collectors.helpers import (
    collect,
    fixture_bytes,
    gbk_rss_without_declaration,
    utf8_rss_truncated_mid_character,
)
from tests.support.loopback import LoopbackServer

WEIBO_ROUTE = "/weibo/user/1234567890"


def test_chinese_rsshub_feed_yields_posts(server: LoopbackServer) -> None:
    server.serve(WEIBO_ROUTE, fixture_bytes("zh_weibo_rss20.xml"))
    result = collect("rss", server.url(WEIBO_ROUTE))
    assert result.http_status == 200 and not result.not_modified
    recall, reply, hot = result.posts
    assert recall.external_id == "https://weibo.com/1234567890/NaBcD1234"
    assert recall.url == "https://weibo.com/1234567890/NaBcD1234"
    assert recall.title == "关于近期产品召回的说明"
    assert recall.published_at == datetime(2024, 11, 23, 3, 30, tzinfo=UTC)  # 11:30 +0800
    assert recall.author == "某品牌官方"
    assert (
        recall.text
        == "各位用户：\n\n我们注意到部分批次存在质量问题，即日起启动召回。[怒]\n详情请见公告&说明。"
    )
    assert "<script>" in recall.raw and 'alt="[怒]"' in recall.raw  # raw is the HTML as received
    assert recall.engagement == {"reposts": 1203, "comments": 34000, "likes": 560}
    assert recall.platform == "weibo" and recall.lang == "zh-cn"
    assert recall.extra["feed_title"] == "某品牌官方 的微博"


def test_entries_without_guid_fall_back_to_link_then_hash(server: LoopbackServer) -> None:
    server.serve(WEIBO_ROUTE, fixture_bytes("zh_weibo_rss20.xml"))
    result = collect("rss", server.url(WEIBO_ROUTE))
    _, reply, hot = result.posts
    assert reply.external_id == reply.url == "https://weibo.com/1234567890/NaBcD0999"
    assert reply.author == "某品牌官方"  # dc:creator
    assert reply.published_at == datetime(2024, 11, 23, 2, 5, 9, tzinfo=UTC)
    assert "//@小王:" in reply.text
    assert hot.url is None and hot.published_at is None
    assert hot.external_id == content_hash("热搜：某品牌 客服", None, "没有链接也没有 guid 的热榜条目")
    assert hot.external_id.startswith("sha1:")
    assert result.warnings == ["2 entries without id; used the link or a content hash instead"]


def test_same_entry_gets_the_same_hash_id_on_every_poll(server: LoopbackServer) -> None:
    server.serve(WEIBO_ROUTE, fixture_bytes("zh_weibo_rss20.xml"))
    first = collect("rss", server.url(WEIBO_ROUTE))
    second = collect("rss", server.url(WEIBO_ROUTE))
    assert [p.external_id for p in first.posts] == [p.external_id for p in second.posts]


def test_atom_feed_resolves_xml_base_and_converts_offsets(server: LoopbackServer) -> None:
    server.serve("/atom.xml", fixture_bytes("zh_atom.xml"), content_type="application/atom+xml")
    result = collect("rss", server.url("/atom.xml"))
    storm, flash = result.posts
    assert storm.external_id == "tag:news.example.cn,2024:/a/1001"
    assert storm.url == "https://news.example.cn/a/1001.html"
    assert storm.title == "港口暴雨预警升级为橙色"  # type="html" title, markup removed
    assert storm.published_at == datetime(2024, 11, 23, 1, 15, tzinfo=UTC)
    assert storm.author == "本报记者 李华"
    assert storm.text == "气象台发布暴雨橙色预警。\n\n请市民减少外出。"
    assert storm.extra["tags"] == ["天气"] and storm.platform is None
    assert flash.published_at == datetime(2024, 11, 22, 23, 59, 59, tzinfo=UTC)  # from <updated>
    assert flash.text == "地铁 2 号线恢复运营"
    assert result.warnings == []


def test_gbk_body_without_any_declaration_decodes(server: LoopbackServer) -> None:
    server.serve("/bbs.xml", gbk_rss_without_declaration(), content_type="application/xml")
    (post,) = collect("rss", server.url("/bbs.xml")).posts
    assert post.title == "小区停水三天没人管"
    assert post.text == "业主反映：物业电话打不通，投诉无门。"
    assert post.extra["feed_title"] == "地方论坛"


def test_declared_gb2312_decodes_gbk_only_characters(server: LoopbackServer) -> None:
    body = '<?xml version="1.0" encoding="gb2312"?><rss version="2.0"><channel><title>娱乐</title>'
    body += "<item><title>陶喆新歌发布</title><guid>x1</guid></item></channel></rss>"
    with pytest.raises(UnicodeEncodeError):
        "喆".encode("gb2312")  # the fixture really needs the GBK superset
    server.serve("/gb.xml", body.encode("gbk"), content_type="text/xml; charset=gb2312")
    (post,) = collect("rss", server.url("/gb.xml")).posts
    assert post.title == "陶喆新歌发布"


def test_utf8_feed_truncated_mid_character_is_not_mojibake(server: LoopbackServer) -> None:
    server.serve("/cut.xml", utf8_rss_truncated_mid_character())
    result = collect("rss", server.url("/cut.xml"))
    titles = [post.title for post in result.posts]
    assert titles == [
        "关于近期产品召回的说明",
        "回复 @小王: 已经在处理了 //@小王: 客服电话一直打不通",
        "热搜：某品牌 客服",
    ]
    assert result.posts[0].author == "某品牌官方"
    assert any("malformed" in warning for warning in result.warnings)


def test_waf_challenge_page_is_not_a_feed(server: LoopbackServer) -> None:
    server.serve("/feed", fixture_bytes("waf_challenge.html"), content_type="text/html; charset=utf-8")
    with pytest.raises(NotAFeedError) as caught:
        collect("rss", server.url("/feed"))
    message = str(caught.value)
    assert message.startswith(
        "the server returned an HTML page (probably a WAF/anti-bot challenge), not a feed"
    )
    assert "(served as text/html)" in message and "document.cookie" not in message


def test_javascript_redirect_page_is_not_a_feed(server: LoopbackServer) -> None:
    server.serve("/feed", fixture_bytes("js_redirect.html"), content_type="text/html")
    with pytest.raises(NotAFeedError, match="redirects with JavaScript to '/rss.xml\\?from=redirect'"):
        collect("rss", server.url("/feed"))


def test_plain_text_is_not_a_feed(server: LoopbackServer) -> None:
    server.serve("/feed", "Service temporarily moved", content_type="text/plain")
    with pytest.raises(
        NotAFeedError, match="not an RSS, Atom or JSON feed.*starts with 'Service temporarily"
    ):
        collect("rss", server.url("/feed"))


def test_malformed_feed_without_entries_is_a_parse_error(server: LoopbackServer) -> None:
    server.serve("/feed", '<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>')
    with pytest.raises(ParseError, match="malformed .* no entries could be recovered") as caught:
        collect("rss", server.url("/feed"))
    assert not isinstance(caught.value, NotAFeedError)


def test_well_formed_empty_feed_is_fine(server: LoopbackServer) -> None:
    server.serve(
        "/feed", '<?xml version="1.0"?><rss version="2.0"><channel><title>空</title></channel></rss>'
    )
    result = collect("rss", server.url("/feed"))
    assert result.posts == [] and result.warnings == []


def test_second_poll_is_not_modified(server: LoopbackServer) -> None:
    server.serve(WEIBO_ROUTE, fixture_bytes("zh_weibo_rss20.xml"), etag='"abc"')
    first = collect("rss", server.url(WEIBO_ROUTE))
    assert first.state == SourceState(etag='"abc"')
    second = collect("rss", server.url(WEIBO_ROUTE), state=first.state)
    assert second.not_modified and second.posts == [] and second.http_status == 304
    assert second.state.etag == '"abc"'


def test_json_feed_at_an_rss_source_is_read_as_json_feed(server: LoopbackServer) -> None:
    server.serve("/weibo/user/1", fixture_bytes("jsonfeed_ids.json"), content_type="application/feed+json")
    result = collect("rss", server.url("/weibo/user/1"))
    assert [post.external_id for post in result.posts] == ["20241123001", "tag:feeds.example.cn,2024:2"]
    assert result.posts[0].platform == "weibo"


def test_platform_option_overrides_the_guess(server: LoopbackServer) -> None:
    server.serve(WEIBO_ROUTE, fixture_bytes("zh_weibo_rss20.xml"))
    result = collect("rss", server.url(WEIBO_ROUTE), options={"platform": "brand-site"})
    assert {post.platform for post in result.posts} == {"brand-site"}


def test_feeds_are_parsed_off_the_event_loop(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import collectors.rss as rss

    threads: list[int] = []
    real_parse = rss.parse_feed

    def recording_parse(*args, **kwargs):  # type: ignore[no-untyped-def]
        threads.append(threading.get_ident())
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(rss, "parse_feed", recording_parse)
    server.serve(WEIBO_ROUTE, fixture_bytes("zh_weibo_rss20.xml"))
    result = collect("rss", server.url(WEIBO_ROUTE))
    assert len(result.posts) == 3
    # collect() runs the event loop in this thread; the parse ran in another one.
    assert threads and threads[0] != threading.get_ident()
