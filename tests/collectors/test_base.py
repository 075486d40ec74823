"""Records, state round trip, error messages, the registry, and the package boundary."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from collectors import base, errors
from collectors.base import (
    BodyTooLargeError,
    CollectorError,
    ConfigError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    NetworkError,
    NotAFeedError,
    ParseError,
    RateLimitedError,
    RawPost,
    SourceState,
)
from collectors.registry import COLLECTORS, KINDS, get_collector

COLLECTORS_DIR = Path(base.__file__).resolve().parent


def test_raw_post_times_are_utc() -> None:
    shanghai = timezone(timedelta(hours=8))
    post = RawPost(text="你好", published_at=datetime(2024, 11, 23, 11, 30, tzinfo=shanghai))
    assert post.published_at == datetime(2024, 11, 23, 3, 30, tzinfo=UTC)
    assert post.published_at is not None and post.published_at.utcoffset() == timedelta(0)
    naive = RawPost(text="x", published_at=datetime(2024, 11, 23, 3, 30))
    assert naive.published_at == datetime(2024, 11, 23, 3, 30, tzinfo=UTC)
    with pytest.raises(AttributeError):
        post.text = "changed"  # type: ignore[misc]


def test_raw_post_round_trips_through_json_with_the_author_reach() -> None:
    post = RawPost(
        text="你好",
        author="路人甲",
        author_id="5555",
        author_followers=1200,
        author_verified=False,
        published_at=datetime(2024, 11, 23, 3, 30, tzinfo=UTC),
    )
    assert RawPost.from_dict(json.loads(json.dumps(post.to_dict()))) == post
    older = {k: v for k, v in post.to_dict().items() if not k.startswith("author_")}  # queued before
    back = RawPost.from_dict(older)
    assert (back.author, back.author_id, back.author_followers, back.author_verified) == (
        "路人甲",
        None,
        None,
        None,
    )


def test_source_state_round_trips_through_json() -> None:
    state = SourceState(
        etag='W/"a"', last_modified="Sat, 23 Nov 2024 04:00:00 GMT", cursor="117", extra={"k": [1]}
    )
    assert SourceState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    assert SourceState.from_dict(None) == SourceState()
    assert SourceState.from_dict({"etag": 5, "cursor": "", "extra": "bad", "unknown": 1}) == SourceState()


def test_error_tree() -> None:
    assert issubclass(FetchError, CollectorError) and issubclass(ParseError, CollectorError)
    assert issubclass(ConfigError, CollectorError)
    fetch_errors: list[type[Exception]] = [NetworkError, HTTPStatusError, RateLimitedError, BodyTooLargeError]
    assert all(issubclass(cls, FetchError) for cls in fetch_errors)
    assert issubclass(FetchTimeout, NetworkError)
    assert not issubclass(FetchTimeout, TimeoutError)  # asyncio.wait_for budgets must not swallow it
    parse_errors: list[type[Exception]] = [NotAFeedError, errors.InvalidJSONError, errors.EncodingError]
    assert all(issubclass(cls, ParseError) for cls in parse_errors)


def test_every_error_class_is_documented_in_the_tree() -> None:
    doc = errors.__doc__ or ""
    classes = [
        obj for obj in vars(errors).values() if isinstance(obj, type) and issubclass(obj, CollectorError)
    ]
    assert len(classes) == 13
    for cls in classes:
        assert cls.__name__ in doc and cls.__doc__ and "\n" not in cls.__doc__.strip()


def test_error_messages_are_short_and_carry_status() -> None:
    error = HTTPStatusError(502, "<html>" + "x" * 5000, url="https://rsshub.example.org/weibo/user/1")
    assert error.status == 502 and str(error).startswith("HTTP 502 from rsshub.example.org: <html>xxx")
    assert len(str(error)) < 200 and str(error).endswith("…")
    limited = RateLimitedError(90.0, url="https://mastodon.example/api/v1/timelines/public")
    assert str(limited) == "rate limited (HTTP 429) from mastodon.example; it asks us to wait 90 s"
    assert limited.retry_after == 90.0 and limited.status == 429
    assert (
        str(BodyTooLargeError(10 * 1024 * 1024)) == "response body is larger than the 10,485,760 byte limit"
    )


def test_kinds_are_unique_and_registered_explicitly() -> None:
    assert len(KINDS) == len(set(KINDS)) == len(COLLECTORS)
    assert KINDS == ("rss", "jsonfeed", "mastodon", "json")
    for kind in KINDS:
        assert get_collector(kind).kind == kind


def test_unknown_kind_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError, match="unknown source kind 'twitter'; known kinds: rss, jsonfeed, mastodon, json"
    ):
        get_collector("twitter")


@pytest.mark.parametrize("kind", ["rss", "jsonfeed"])
def test_feed_options(kind: str) -> None:
    collector = get_collector(kind)
    assert collector.validate_options(None)["platform"] is None
    with pytest.raises(ConfigError, match="nope: unknown option"):
        collector.validate_options({"nope": 1})
    with pytest.raises(ConfigError, match="must be a JSON object"):
        collector.validate_options(["x"])  # type: ignore[arg-type]


def test_jsonfeed_max_pages_bounds() -> None:
    with pytest.raises(ConfigError, match="max_pages: Input should be greater than or equal to 1"):
        get_collector("jsonfeed").validate_options({"max_pages": 0})


def test_collectors_never_import_app_or_analysis() -> None:
    offenders = []
    for path in sorted(COLLECTORS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [
                f"{path.name}: {name}" for name in names if name.split(".")[0] in ("app", "analysis")
            ]
    assert offenders == []
    assert len(list(COLLECTORS_DIR.glob("*.py"))) >= 10  # the scan really looked at the package
