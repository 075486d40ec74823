"""A paged `json` source (a licensed data-subscription API shape): cursor and offset paging over a
loopback server, at most `max_pages` per poll, and the next poll resuming where the last one stopped."""

from __future__ import annotations

from pathlib import Path

from tests.collectors.helpers import collect
from tests.support.loopback import LoopbackServer, RecordedRequest, Reply

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "collectors" / "json_paged"
FIELDS = {
    "id": "doc_id",
    "text": "content",
    "author": "nickname",
    "published_at": "pub_time",
    "url": "source_url",
    "engagement.reposts": "stats.repost",
}


def _cursor_api(request: RecordedRequest) -> Reply:
    page = {None: "page1", "c1": "page2", "c2": "page3"}.get(request.param("cursor"), "empty")
    return Reply(200, (PAGES / f"{page}.json").read_bytes(), "application/json")


def test_cursor_paging_resumes_where_it_stopped(loopback_server: LoopbackServer) -> None:
    loopback_server.handle("/subscription", _cursor_api)
    options = {
        "items_path": "data.list",
        "fields": FIELDS,
        "params": {"topic": "星河汽车"},
        "paging": {"mode": "cursor", "param": "cursor", "next_path": "data.next_cursor", "max_pages": 2},
        "timezone": "Asia/Shanghai",
    }
    first = collect("json", loopback_server.url("/subscription"), options=options)
    assert [p.external_id for p in first.posts] == ["d1", "d2", "d3", "d4"]
    assert first.state.cursor == "c2" and "resumes at c2" in first.warnings[-1]
    second = collect("json", loopback_server.url("/subscription"), options=options, state=first.state)
    assert [p.external_id for p in second.posts] == ["d5", "d6"]
    assert second.state.cursor == "c2"  # page 3 named no next cursor: stay there
    assert second.posts[0].engagement == {"reposts": 6}
    assert all(r.param("topic") == "星河汽车" for r in loopback_server.requests_to("/subscription"))
    assert [r.param("cursor") for r in loopback_server.requests_to("/subscription")] == [None, "c1", "c2"]


def test_offset_paging_counts_items(loopback_server: LoopbackServer) -> None:
    def offset_api(request: RecordedRequest) -> Reply:
        page = {"0": "page1", "2": "page2", "4": "page3"}.get(request.param("offset") or "", "empty")
        return Reply(200, (PAGES / f"{page}.json").read_bytes(), "application/json")

    loopback_server.handle("/offset", offset_api)
    options = {"items_path": "data.list", "fields": FIELDS, "paging": {"mode": "offset", "param": "offset"}}
    first = collect("json", loopback_server.url("/offset"), options=options)
    assert len(first.posts) == 6 and first.state.cursor == "6"  # three pages, then an empty one
    again = collect("json", loopback_server.url("/offset"), options=options, state=first.state)
    assert again.posts == [] and again.state.cursor == "6"
    assert [r.param("offset") for r in loopback_server.requests_to("/offset")] == ["0", "2", "4", "6", "6"]


def test_cursor_paging_needs_a_path() -> None:
    from collectors.base import ConfigError
    from collectors.registry import get_collector

    try:
        get_collector("json").validate_options(
            {"fields": {"text": "t"}, "paging": {"mode": "cursor", "param": "c"}}
        )
    except ConfigError as exc:
        assert "next_path" in str(exc)
    else:
        raise AssertionError("cursor paging without next_path was accepted")
