"""The `jsonfeed` collector on our own fixtures and on ../shared/fixtures/jsonfeed, over loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from collectors.base import CollectResult, InvalidJSONError, NotAFeedError
from collectors.jsonfeed import item_id_of
from tests.collectors.helpers import collect, fixture_bytes
from tests.support.loopback import LoopbackServer
from tests.support.shared import shared_path

JSON_FEED = "application/feed+json"


def test_items_without_id_are_discarded_and_fields_mapped(server: LoopbackServer) -> None:
    server.serve("/feed.json", fixture_bytes("jsonfeed_ids.json"), content_type=JSON_FEED)
    result = collect("jsonfeed", server.url("/feed.json"))
    assert result.warnings == ["discarded 2 items without an id (JSON Feed requires one)"]
    complaint, plain = result.posts
    assert complaint.external_id == "20241123001"  # numeric id coerced to str
    assert complaint.url == server.url("/posts/20241123001")
    assert complaint.title == "用户投诉 App 闪退"
    assert complaint.text == "多位用户反映更新后 App 闪退。\n\n官方回应：正在修复 [微笑]"
    assert complaint.raw.startswith("<p>多位用户反映")
    assert complaint.author == "张三, 李四"  # `authors` wins over the deprecated `author`
    assert complaint.published_at == datetime(2024, 11, 23, 0, 0, tzinfo=UTC)
    assert complaint.lang == "zh-cn" and complaint.extra["tags"] == ["投诉", "App"]
    assert plain.text == "纯文本内容\n第二行" and plain.author == "王五"
    assert plain.published_at == datetime(2024, 11, 22, 16, 30, tzinfo=UTC)  # date_modified fallback


def test_truncated_json_raises_invalid_json_with_position(server: LoopbackServer) -> None:
    body = fixture_bytes("jsonfeed_truncated.json")
    server.serve("/feed.json", body, content_type=JSON_FEED)
    with pytest.raises(InvalidJSONError) as caught:
        collect("jsonfeed", server.url("/feed.json"))
    error = caught.value
    assert error.position is not None and error.position > len(body.decode()) - 10
    assert str(error).startswith("invalid JSON at line 6, column ")
    assert str(error).endswith("the body looks truncated")


def test_gbk_json_without_charset_decodes(server: LoopbackServer) -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "本地论坛",
        "items": [{"id": "a1", "content_text": "垃圾分类新规引发热议，居民意见不一"}],
    }
    server.serve(
        "/gbk.json", json.dumps(feed, ensure_ascii=False).encode("gbk"), content_type="application/json"
    )
    (post,) = collect("jsonfeed", server.url("/gbk.json")).posts
    assert post.text == "垃圾分类新规引发热议，居民意见不一"
    assert post.extra["feed_title"] == "本地论坛"


def page(number: int, next_path: str | None) -> dict[str, object]:
    feed: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "分页",
        "items": [{"id": f"p{number}", "content_text": f"第{number}页"}],
    }
    if next_path:
        feed["next_url"] = next_path
    return feed


def test_next_url_is_followed_up_to_max_pages_and_loops_refused(server: LoopbackServer) -> None:
    server.serve("/p1.json", json.dumps(page(1, "/p2.json")), content_type=JSON_FEED)
    server.serve("/p2.json", json.dumps(page(2, "/p1.json")), content_type=JSON_FEED)
    one = collect("jsonfeed", server.url("/p1.json"))
    assert [post.external_id for post in one.posts] == ["p1"]
    looped = collect("jsonfeed", server.url("/p1.json"), options={"max_pages": 5})
    assert [post.external_id for post in looped.posts] == ["p1", "p2"]
    assert looped.warnings == [
        f"next_url {server.url('/p1.json')} points back to a page already read; stopped"
    ]
    assert len(server.requests_to("/p1.json")) == 2 and len(server.requests_to("/p2.json")) == 1


def test_json_that_is_not_a_json_feed(server: LoopbackServer) -> None:
    server.serve("/feed.json", '{"data": []}', content_type="application/json")
    with pytest.raises(NotAFeedError, match='JSON but not a JSON Feed .*no "items" list'):
        collect("jsonfeed", server.url("/feed.json"))


def test_html_instead_of_json_feed(server: LoopbackServer) -> None:
    server.serve("/feed.json", fixture_bytes("waf_challenge.html"), content_type="text/html")
    with pytest.raises(NotAFeedError, match="WAF/anti-bot challenge\\), not a JSON Feed"):
        collect("jsonfeed", server.url("/feed.json"))


def test_conditional_get(server: LoopbackServer) -> None:
    server.serve("/feed.json", fixture_bytes("jsonfeed_ids.json"), content_type=JSON_FEED, etag='"j1"')
    first = collect("jsonfeed", server.url("/feed.json"))
    again = collect("jsonfeed", server.url("/feed.json"), state=first.state)
    assert again.not_modified and again.posts == [] and again.state.etag == '"j1"'


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, "1"), (2.0, "2"), ("  x ", "x"), ("", None), ("  ", None), (None, None), (True, None)],
)
def test_item_id_coercion(value: object, expected: str | None) -> None:
    assert item_id_of(value) == expected


# ---- ../shared/fixtures/jsonfeed ------------------------------------------------------------------


def collect_shared(
    server: LoopbackServer, name: str, content_type: str = "application/json"
) -> CollectResult:
    body = shared_path("fixtures", "jsonfeed", name).read_bytes()
    server.serve("/feed.json", body, content_type=content_type)
    return collect("jsonfeed", server.url("/feed.json"))


@pytest.mark.shared
def test_shared_spec_simple_example(server: LoopbackServer) -> None:
    result = collect_shared(server, "jsonfeed_spec_1_1_simple_example.json")
    second, first = result.posts
    assert (second.external_id, second.text) == ("2", "This is a second item.")
    assert (first.external_id, first.text, first.raw) == ("1", "Hello, world!", "<p>Hello, world!</p>")
    assert first.url == "https://example.org/initial-post"


@pytest.mark.shared
def test_shared_microblog_example(server: LoopbackServer) -> None:
    (post,) = collect_shared(server, "jsonfeed_spec_1_1_microblog_example.json").posts
    assert post.external_id == "2347259" and post.title is None
    assert post.author == "Brent Simmons"  # feed-level authors
    assert post.published_at == datetime(2016, 2, 9, 21, 22, tzinfo=UTC)  # 14:22 -07:00
    assert post.text == "Cats are neat.\n\nhttps://example.org/cats"


@pytest.mark.shared
def test_shared_feedparser_v1_example(server: LoopbackServer) -> None:
    second, first = collect_shared(server, "feedparser_test_jsonfeed_v1_example.json").posts
    assert second.author == "me" and second.extra["tags"] == ["test", "JSON"]
    assert first.author == "you"  # the item's deprecated `author` beats the feed's
    assert first.text == "Hello, world!" and "<script>" in first.raw


@pytest.mark.shared
def test_shared_v2ex_zh(server: LoopbackServer) -> None:
    (post,) = collect_shared(server, "v2ex_jsonfeed_v1_zh.json").posts
    assert post.external_id == post.url == "https://www.v2ex.com/t/641290"
    assert post.title == "什么插件可以做到 JSON 格式化/压缩/还原/转 2JZ 的？"
    assert post.author == "DEVN" and post.text == ""
    assert post.published_at == datetime(2020, 1, 31, 15, 5, 16, tzinfo=UTC)
    assert post.extra["feed_title"] == "JSON Feed"


@pytest.mark.shared
def test_shared_item_with_empty_id_is_discarded(server: LoopbackServer) -> None:
    result = collect_shared(server, "v2ex_jsonfeed_item_empty_id.json")
    assert [post.external_id for post in result.posts] == ["https://www.v2ex.com/t/641290"]
    assert result.warnings == ["discarded 1 item without an id (JSON Feed requires one)"]


@pytest.mark.shared
def test_shared_only_item_without_id_gives_no_posts(server: LoopbackServer) -> None:
    result = collect_shared(server, "v2ex_jsonfeed_item_missing_id.json")
    assert result.posts == []
    assert result.warnings == ["discarded 1 item without an id (JSON Feed requires one)"]


@pytest.mark.shared
def test_shared_truncated_json(server: LoopbackServer) -> None:
    with pytest.raises(InvalidJSONError, match=r"invalid JSON at line 15, column 1 \(character \d+\)"):
        collect_shared(server, "jsonfeed_truncated_invalid_json.json")


@pytest.mark.shared
def test_shared_gbk_encoded_without_charset(server: LoopbackServer) -> None:
    result = collect_shared(server, "jsonfeed_gbk_encoded_no_charset.json")
    assert [post.external_id for post in result.posts] == ["2", "1"]
    title = "中国国家标准简体中文字符集，全称《信息交换用汉字编码字符集·基本集》"
    assert result.posts[0].extra["feed_title"] == title
