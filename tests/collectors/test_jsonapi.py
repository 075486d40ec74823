"""The generic `json` collector: options validation and mapping a real response over loopback."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from collectors.base import ConfigError, NotAFeedError, ParseError
from collectors.registry import get_collector
from tests.collectors.helpers import collect, fixture_bytes
from tests.support.loopback import LoopbackServer

OPTIONS: dict[str, Any] = {
    "items_path": "data.items",
    "fields": {
        "id": "mid",
        "text": "content",
        "url": "link",
        "author": "user.screen_name",
        "author_id": "user.idstr",
        "author_followers": "user.followers_count",
        "author_verified": "user.verified",
        "published_at": "created_at",
        "engagement.reposts": "counts.reposts",
        "engagement.comments": "counts.comments",
        "engagement.likes": "counts.likes",
    },
    "timezone": "Asia/Shanghai",
    "headers": {"X-Api-Key": "k-123"},
    "params": {"q": "某品牌", "page": 1},
}


def test_items_are_mapped_by_dotted_paths(server: LoopbackServer) -> None:
    server.serve("/api/search", fixture_bytes("json_api.json"), content_type="application/json", etag='"s1"')
    result = collect("json", server.url("/api/search"), options=OPTIONS)
    angry, fair = result.posts
    assert angry.external_id == "4990001"
    assert angry.text == "这家店的服务太差了，排队两小时 [怒]" and "<b>" in angry.raw
    assert angry.author == "路人甲" and angry.url == "https://weibo.com/5555/Pq9rS"
    assert angry.published_at == datetime(2024, 11, 23, 3, 0, tzinfo=UTC)  # epoch milliseconds
    assert angry.engagement == {"reposts": 12000, "comments": 35, "likes": 1024}
    assert angry.platform == "weibo"  # guessed from the item URL
    assert (angry.author_id, angry.author_followers, angry.author_verified) == ("5555", 123_000, True)
    assert (fair.author_id, fair.author_followers, fair.author_verified) == ("6666", 88, False)
    assert fair.published_at == datetime(2024, 11, 23, 4, 0, tzinfo=UTC)  # naive, read as Asia/Shanghai
    assert fair.url is None and fair.platform is None
    assert result.warnings == ["skipped 1 item without text at 'content'"]
    assert result.state.etag == '"s1"'
    request = server.requests_to("/api/search")[0]
    assert request.headers["x-api-key"] == "k-123" and request.headers["accept"] == "application/json"
    assert request.param("q") == "某品牌" and request.param("page") == "1"


def test_top_level_list_and_strptime_format(server: LoopbackServer) -> None:
    body = '[{"t": "第一条", "when": "23/11/2024 08:00"}, {"t": "第二条", "when": "bad"}]'
    server.serve("/list", body, content_type="application/json")
    options = {"fields": {"text": "t", "published_at": "when"}, "time_format": "%d/%m/%Y %H:%M"}
    first, second = collect("json", server.url("/list"), options=options).posts
    assert first.published_at == datetime(2024, 11, 23, 8, 0, tzinfo=UTC)
    assert second.published_at is None and first.external_id is None


def test_missing_items_path_is_a_parse_error(server: LoopbackServer) -> None:
    server.serve("/api", '{"data": {"list": []}}', content_type="application/json")
    with pytest.raises(ParseError, match="items_path 'data.items' is not present in the response"):
        collect("json", server.url("/api"), options=OPTIONS)


def test_items_path_to_an_object_is_a_parse_error(server: LoopbackServer) -> None:
    server.serve("/api", '{"data": {"items": {"a": 1}}}', content_type="application/json")
    with pytest.raises(ParseError, match="is a dict, not a list of items"):
        collect("json", server.url("/api"), options=OPTIONS)


def test_html_error_page_instead_of_json(server: LoopbackServer) -> None:
    server.serve("/api", "<html><title>502 Bad Gateway</title></html>", content_type="text/html")
    with pytest.raises(NotAFeedError, match="HTML page titled '502 Bad Gateway', not JSON"):
        collect("json", server.url("/api"), options=OPTIONS)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "fields: Field required"),
        ({"fields": {"title": "t"}}, "a 'text' mapping is required"),
        ({"fields": {"text": "t", "likes": "n"}}, "unknown field 'likes'; use id, text"),
        ({"fields": {"text": "t", "engagement.Bad Name": "n"}}, "unknown field 'engagement.Bad Name'"),
        ({"fields": {"text": "a..b"}}, "path of text 'a..b' is not a dotted path"),
        ({"fields": {"text": "t"}, "items_path": "data."}, "items_path 'data.' is not a dotted path"),
        ({"fields": {"text": "t"}, "time_format": "yyyy-mm-dd"}, "use a strptime format"),
        ({"fields": {"text": "t"}, "timezone": "Mars/Base"}, "unknown time zone 'Mars/Base'"),
        ({"fields": {"text": "t"}, "headers": {"Host": "x"}}, "header 'Host' is managed by the HTTP client"),
        ({"fields": {"text": "t"}, "headers": {"X-A": "1\r\nX-B: 2"}}, "invalid name or value"),
        ({"fields": {"text": "t"}, "extra": 1}, "extra: unknown option"),
        ({"fields": "text"}, "fields: Input should be a valid dictionary"),
    ],
)
def test_bad_options_raise_config_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        get_collector("json").validate_options(options)


def test_valid_options_are_returned_normalised() -> None:
    normalised = get_collector("json").validate_options({"fields": {"text": "content"}})
    assert normalised == {
        "items_path": "",
        "fields": {"text": "content"},
        "time_format": None,
        "timezone": None,  # YUQING_TIMEZONE when collected
        "headers": {},
        "params": {},
        "platform": None,
        "paging": None,
    }
