"""The `mastodon` collector against a fake instance on loopback, plus the shared cassettes and entity."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from collectors.base import ConfigError, HTTPStatusError, RateLimitedError, SourceState
from collectors.mastodon import newest_id, status_to_post
from collectors.registry import get_collector
from tests.collectors.fake_mastodon import FakeMastodon, load_statuses
from tests.collectors.helpers import collect
from tests.support.loopback import LoopbackServer, RecordedRequest, Reply
from tests.support.shared import shared_path

TAG = {"timeline": "tag", "hashtag": "舆情"}


def poll(server: LoopbackServer, state: SourceState | None = None, **options: Any):  # type: ignore[no-untyped-def]
    return collect("mastodon", server.base_url, options={**TAG, **options}, state=state)


def ids(result: Any) -> list[str]:
    return [post.extra.get("boost_id") or post.external_id for post in result.posts]


def test_min_id_cursor_and_link_paging_are_gap_free_across_polls(server: LoopbackServer) -> None:
    statuses = load_statuses()
    instance = FakeMastodon(server)
    instance.publish(statuses["98"], statuses["99"], statuses["100"])

    first = poll(server, limit=2)
    assert ids(first) == ["100", "99"]  # the newest page only
    assert first.state.cursor == "100"  # "100" is newer than "99": ids compare by (length, string)
    assert [r.param("min_id") for r in instance.requests()] == [None]

    instance.publish(statuses["101"], statuses["102"], statuses["103"], statuses["104"])
    second = poll(server, state=first.state, limit=2)
    assert ids(second) == ["102", "101", "104", "103"]
    assert second.state.cursor == "104" and second.warnings == [] and second.retry_after is None
    assert [r.param("min_id") for r in instance.requests()[1:]] == ["100", "102", "104"]  # via Link rel=prev

    third = poll(server, state=second.state, limit=2)
    assert third.posts == [] and third.state.cursor == "104"


def test_max_pages_defers_the_rest_to_the_next_poll(server: LoopbackServer) -> None:
    statuses = load_statuses()
    instance = FakeMastodon(server)
    instance.publish(statuses["98"])
    state = poll(server, limit=2).state
    instance.publish(*(statuses[i] for i in ("99", "100", "101", "102")))
    partial = poll(server, state=state, limit=2, max_pages=1)
    assert ids(partial) == ["100", "99"] and partial.state.cursor == "100"
    assert partial.warnings == ["more new statuses remain after 1 pages; the next poll continues from here"]
    rest = poll(server, state=partial.state, limit=2, max_pages=1)
    assert ids(rest) == ["102", "101"]


def test_low_rate_limit_stops_paging_and_sets_retry_after(server: LoopbackServer) -> None:
    statuses = load_statuses()
    instance = FakeMastodon(server, remaining=12, reset_in=300)
    instance.publish(statuses["98"])
    state = poll(server, limit=2).state  # remaining 11
    instance.publish(*(statuses[i] for i in ("99", "100", "101", "102")))
    result = poll(server, state=state, limit=2)  # remaining 10: stop after this page
    assert ids(result) == ["100", "99"] and result.state.cursor == "100"
    assert result.retry_after is not None and 295 <= result.retry_after <= 301
    assert "rate limit nearly used up" in result.warnings[0]
    assert len(instance.requests()) == 2


def test_429_raises_rate_limited_with_reset(server: LoopbackServer) -> None:
    FakeMastodon(server, remaining=0, reset_in=120)
    with pytest.raises(RateLimitedError) as caught:
        poll(server)
    assert caught.value.retry_after is not None and 115 <= caught.value.retry_after <= 121
    assert caught.value.status == 429


def test_401_explains_that_authentication_is_required(server: LoopbackServer) -> None:
    FakeMastodon(server, hashtag=None, token="s3cret")
    with pytest.raises(HTTPStatusError) as caught:
        collect("mastodon", server.base_url)
    message = str(caught.value)
    assert caught.value.status == 401
    assert "requires authentication for its public timeline (HTTP 401)" in message
    assert "access_token" in message
    with pytest.raises(HTTPStatusError, match="rejected the access token"):
        collect("mastodon", server.base_url, options={"access_token": "wrong"})


def test_access_token_is_sent_as_bearer(server: LoopbackServer) -> None:
    instance = FakeMastodon(server, hashtag=None, token="s3cret")
    instance.publish(load_statuses()["104"])
    result = collect("mastodon", server.base_url + "/", options={"access_token": "s3cret", "local": True})
    assert ids(result) == ["104"]
    request = instance.requests()[-1]
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.param("local") == "true" and request.param("limit") == "40"


def test_status_mapping_boost_spoiler_and_hidden_url_parts(server: LoopbackServer) -> None:
    statuses = load_statuses()
    instance = FakeMastodon(server)
    instance.publish(statuses["98"], statuses["99"], statuses["100"], statuses["101"])
    posts = {post.extra.get("boost_id") or post.external_id: post for post in poll(server).posts}
    boost = posts["100"]
    assert boost.external_id == "77" and boost.author == "metro@transit.example"
    assert boost.extra["boosted_by"] == "booster"
    # the boosted status's author and reach, not the booster's; Mastodon has no verified accounts
    assert (boost.author_id, boost.author_followers, boost.author_verified) == ("694177", 250_000, None)
    assert (posts["98"].author_id, posts["98"].author_followers) == ("617532", 1520)
    assert boost.text == "原帖：地铁停运，大家注意安排出行 #舆情"
    assert boost.engagement == {"reposts": 20, "likes": 31, "comments": 4, "quotes": 1}
    assert boost.published_at == datetime(2024, 11, 23, 3, 1, 0, 123000, tzinfo=UTC)
    warned = posts["99"]
    assert warned.text == "负面情绪\n\n第二条：这家公司的回应让人失望"
    assert posts["98"].text == "第一条：今天早上 https://www.example.cn/news/2024/11/23/metro 的新闻"
    assert posts["101"].text == "第四条：有人在现场拍到了视频 :blobcat:"
    assert all(post.platform == "mastodon" and post.lang == "zh" for post in posts.values())
    assert posts["98"].extra["uri"] == "https://mastodon.example/users/xiaoming/statuses/98"


def test_newest_id_treats_ids_as_opaque_strings() -> None:
    assert newest_id(["99", "100", "98"]) == "100"
    assert newest_id(["117020593134559451", "117020592137523525"]) == "117020593134559451"
    assert newest_id([]) is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeline": "tag"}, "timeline 'tag' needs a hashtag"),
        ({"hashtag": "舆情"}, "hashtag is only used with timeline 'tag'"),
        ({"limit": 41}, "limit: Input should be less than or equal to 40"),
        ({"timeline": "home"}, "timeline: Input should be 'public' or 'tag'"),
        ({"timeline": "tag", "hashtag": "a/b"}, "must be a single tag"),
        ({"since": "1"}, "since: unknown option"),
    ],
)
def test_bad_options_raise_config_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        get_collector("mastodon").validate_options(options)


def test_options_are_normalised() -> None:
    options = get_collector("mastodon").validate_options({"timeline": "tag", "hashtag": "#舆情"})
    assert options["hashtag"] == "舆情" and options["limit"] == 40 and options["max_pages"] == 5


def test_api_url_instead_of_instance_url_is_a_config_error(server: LoopbackServer) -> None:
    with pytest.raises(ConfigError, match="instance base URL"):
        collect("mastodon", server.url("/api/v1/timelines/public"))


# ---- ../shared/fixtures/mastodon ------------------------------------------------------------------

SKIPPED_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}


def serve_cassette(server: LoopbackServer, name: str, path: str) -> dict[str, Any]:
    """Serve the recorded response for GET `path` from a Mastodon.py VCR cassette; return it."""
    yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the Mastodon.py cassettes")
    cassette = yaml.safe_load(shared_path("fixtures", "mastodon", name).read_text(encoding="utf-8"))
    for interaction in cassette["interactions"]:
        request, response = interaction["request"], interaction["response"]
        if request["method"] == "GET" and request["uri"].endswith(path):
            headers = {k: " ".join(v) for k, v in response["headers"].items() if k not in SKIPPED_HEADERS}
            reply = Reply(response["status"]["code"], response["body"]["string"], None, headers)

            def respond(_request: RecordedRequest, reply: Reply = reply) -> Reply:
                return reply

            server.handle(path, respond)
            return response
    raise AssertionError(f"{name} has no GET {path}")


@pytest.mark.shared
def test_shared_public_timeline_cassette(server: LoopbackServer) -> None:
    serve_cassette(server, "mastodonpy_cassette_public_timeline_anonymous.yaml", "/api/v1/timelines/public")
    result = collect("mastodon", server.base_url)
    assert len(result.posts) == 8 and result.retry_after is None
    first = result.posts[0]
    assert first.external_id == result.state.cursor == "117020593134559451"
    assert first.text == "Toot, finally!" and first.author == "mastodonpy_test_2"
    assert first.published_at == datetime(2026, 8, 1, 13, 55, 46, 609000, tzinfo=UTC)
    assert first.lang == "ja"  # passed through as reported, although the text is English
    assert result.posts[1].text == "you can't say that on television"


@pytest.mark.shared
def test_shared_hashtag_cassette_then_next_poll_uses_the_cursor(server: LoopbackServer) -> None:
    serve_cassette(server, "mastodonpy_cassette_hashtag_timeline.yaml", "/api/v1/timelines/tag/hoot")
    options = {"timeline": "tag", "hashtag": "hoot"}
    result = collect("mastodon", server.base_url, options=options)
    (post,) = result.posts
    assert post.text == "#hoot (hashtag toot)" and post.extra["tags"] == ["hoot"]
    assert result.state.cursor == "117020593741189701"
    server.handle("/api/v1/timelines/tag/hoot", lambda request: Reply(200, "[]", "application/json"))
    again = collect("mastodon", server.base_url, options=options, state=result.state)
    assert again.posts == [] and again.state.cursor == "117020593741189701"
    assert server.requests_to("/api/v1/timelines/tag/hoot")[-1].param("min_id") == "117020593741189701"


@pytest.mark.shared
def test_shared_status_entity_example() -> None:
    status = json.loads(shared_path("fixtures", "mastodon", "mastodon_docs_status_example.json").read_text())
    post = status_to_post(status)
    assert post is not None
    assert post.external_id == "103270115826048975" and post.author == "Gargron"
    assert (post.author_id, post.author_followers, post.author_verified) == ("1", 322930, None)
    assert post.engagement == {"reposts": 6, "likes": 11, "comments": 5, "quotes": 2}
    assert post.text == (
        '"I lost my inheritance with one wrong digit on my sort code"\n\n'
        "https://www.theguardian.com/money/2019/dec/07/i-lost-my-193000-inheritance-with-one-wrong-digit-on-my-sort-code"
    )
    assert post.url == "https://mastodon.social/@Gargron/103270115826048975"
    assert post.published_at == datetime(2019, 12, 8, 3, 48, 33, 901000, tzinfo=UTC)
