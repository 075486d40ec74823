"""The Fetcher against a real loopback server, and against httpx.MockTransport for timing details."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from collectors import __version__
from collectors.base import (
    BodyTooLargeError,
    FetchTimeout,
    HTTPStatusError,
    NetworkError,
    RateLimitedError,
    SourceState,
)
from collectors.http import USER_AGENT, Fetcher, FetchResponse, parse_link_header
from tests.collectors.helpers import RecordingSleep, make_fetcher
from tests.support.loopback import LoopbackServer, Reply


def fetch(url: str, state: SourceState | None = None, **overrides: object) -> FetchResponse:
    async def run() -> FetchResponse:
        async with make_fetcher(**overrides) as fetcher:
            return await fetcher.get(url, state=state)

    return asyncio.run(run())


def test_user_agent_names_the_project_and_version(server: LoopbackServer) -> None:
    server.serve("/feed", "ok", content_type="text/plain")
    response = fetch(server.url("/feed"))
    assert response.status == 200 and response.body == b"ok"
    agent = server.requests_to("/feed")[0].headers["user-agent"]
    assert agent == USER_AGENT == f"Yuqing/{__version__} (+https://github.com/yuqing-project/yuqing)"


def test_hanging_server_raises_fetch_timeout_in_bounded_time(server: LoopbackServer) -> None:
    server.hang("/slow", seconds=10)
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as caught:
        fetch(server.url("/slow"), timeout=0.4, max_retries=0)
    assert time.monotonic() - started < 2.0
    assert "within 0.4 s" in str(caught.value) and "127.0.0.1" in str(caught.value)


def test_read_timeout_shorter_than_total_is_named(server: LoopbackServer) -> None:
    server.hang("/slow", seconds=10)
    with pytest.raises(FetchTimeout, match="127.0.0.1:[0-9]+ sent nothing for 0.2 s"):
        fetch(server.url("/slow"), timeout=3.0, read_timeout=0.2, max_retries=0)


def test_timeout_is_retried_then_reported(server: LoopbackServer, recording_sleep: RecordingSleep) -> None:
    server.hang("/slow", seconds=10)
    with pytest.raises(FetchTimeout):
        fetch(server.url("/slow"), timeout=0.3, max_retries=1, sleep=recording_sleep, jitter=lambda: 0.5)
    assert len(server.requests_to("/slow")) == 2
    assert recording_sleep.waits == [0.5]  # full jitter: 0.5 * min(cap, 1.0 * 2**0)


def test_500_then_200_succeeds_after_one_retry(
    server: LoopbackServer, recording_sleep: RecordingSleep
) -> None:
    server.script("/flaky", Reply(500, "boom"), Reply(200, "<rss/>", content_type="application/xml"))
    response = fetch(server.url("/flaky"), sleep=recording_sleep, jitter=lambda: 1.0)
    assert response.status == 200 and response.body == b"<rss/>"
    assert len(server.requests_to("/flaky")) == 2
    assert recording_sleep.waits == [1.0]


def test_persistent_503_raises_http_status_error_with_short_excerpt(
    server: LoopbackServer, recording_sleep: RecordingSleep
) -> None:
    page = "<html><body><h1>Service Unavailable</h1><p>" + "维护中 " * 2000 + "</p></body></html>"
    server.serve("/down", page, status=503, content_type="text/html; charset=utf-8")
    with pytest.raises(HTTPStatusError) as caught:
        fetch(server.url("/down"), sleep=recording_sleep, max_retries=2)
    error = caught.value
    assert error.status == 503
    assert len(server.requests_to("/down")) == 3
    assert str(error).startswith("HTTP 503 from 127.0.0.1:")
    assert "Service Unavailable" in str(error) and "<h1>" not in str(error)
    assert len(str(error)) < 220  # never the whole body


def test_404_is_not_retried(server: LoopbackServer, recording_sleep: RecordingSleep) -> None:
    with pytest.raises(HTTPStatusError) as caught:
        fetch(server.url("/missing"), sleep=recording_sleep)
    assert caught.value.status == 404
    assert len(server.requests_to("/missing")) == 1 and recording_sleep.waits == []


def test_429_with_retry_after_waits_then_succeeds(
    server: LoopbackServer, recording_sleep: RecordingSleep
) -> None:
    server.script("/limited", Reply(429, "slow down", headers={"Retry-After": "1"}), Reply(200, "fine"))
    response = fetch(server.url("/limited"), sleep=recording_sleep)
    assert response.body == b"fine"
    assert recording_sleep.waits == [1.0]


def test_retry_after_http_date_is_converted_to_seconds(
    server: LoopbackServer, recording_sleep: RecordingSleep
) -> None:
    # The loopback server's own Date header is the reference, so clock skew does not matter.
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    server.script("/limited", Reply(503, "", headers={"Retry-After": later}), Reply(200, "fine"))
    fetch(server.url("/limited"), sleep=recording_sleep)
    assert len(recording_sleep.waits) == 1 and 17 <= recording_sleep.waits[0] <= 21


def test_retry_after_beyond_cap_raises_rate_limited(
    server: LoopbackServer, recording_sleep: RecordingSleep
) -> None:
    server.serve("/limited", "later", status=429, content_type="text/plain", headers={"Retry-After": "3600"})
    with pytest.raises(RateLimitedError) as caught:
        fetch(server.url("/limited"), sleep=recording_sleep, max_retry_wait=30)
    assert caught.value.retry_after == 3600.0 and caught.value.status == 429
    assert recording_sleep.waits == []  # never slept an hour
    assert "wait 3600 s" in str(caught.value)


def test_429_without_retry_after_exhausts_retries(
    server: LoopbackServer, recording_sleep: RecordingSleep
) -> None:
    server.serve("/limited", "", status=429, content_type="text/plain")
    with pytest.raises(RateLimitedError) as caught:
        fetch(server.url("/limited"), sleep=recording_sleep, max_retries=2, jitter=lambda: 1.0)
    assert caught.value.retry_after is None
    assert recording_sleep.waits == [1.0, 2.0]  # exponential: 1 * 2**0, 1 * 2**1


def test_total_wait_is_bounded(server: LoopbackServer, recording_sleep: RecordingSleep) -> None:
    server.serve("/limited", "", status=429, content_type="text/plain", headers={"Retry-After": "20"})
    with pytest.raises(RateLimitedError):
        fetch(server.url("/limited"), sleep=recording_sleep, max_retries=5, max_total_wait=45)
    assert recording_sleep.waits == [20.0, 20.0]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_cap_raises_body_too_large(server: LoopbackServer, chunked: bool) -> None:
    server.handle("/big", lambda request: Reply(200, b"x" * 300_000, chunked=chunked))
    with pytest.raises(BodyTooLargeError) as caught:
        fetch(server.url("/big"), max_bytes=100_000)
    assert caught.value.limit == 100_000
    assert "larger than the 100,000 byte limit" in str(caught.value)


def test_body_at_cap_is_accepted(server: LoopbackServer) -> None:
    server.handle("/exact", lambda request: Reply(200, b"y" * 100_000, chunked=True))
    assert len(fetch(server.url("/exact"), max_bytes=100_000).body) == 100_000


def test_etag_round_trip_gives_not_modified(server: LoopbackServer) -> None:
    server.serve("/feed", "<rss/>", etag='W/"v1"', last_modified="Sat, 23 Nov 2024 04:00:00 GMT")
    first = fetch(server.url("/feed"))
    state = first.next_state(SourceState(cursor="kept"))
    assert (state.etag, state.last_modified, state.cursor) == (
        'W/"v1"',
        "Sat, 23 Nov 2024 04:00:00 GMT",
        "kept",
    )
    second = fetch(server.url("/feed"), state=state)
    assert second.not_modified and second.status == 304 and second.body == b""
    assert second.next_state(state).etag == 'W/"v1"'
    sent = server.requests_to("/feed")[1].headers
    assert sent["if-none-match"] == 'W/"v1"'
    assert sent["if-modified-since"] == "Sat, 23 Nov 2024 04:00:00 GMT"


def test_last_modified_alone_gives_not_modified(server: LoopbackServer) -> None:
    server.serve("/feed", "<rss/>", last_modified="Sat, 23 Nov 2024 04:00:00 GMT")
    state = fetch(server.url("/feed")).next_state(SourceState())
    assert state.etag is None
    assert fetch(server.url("/feed"), state=state).not_modified


def test_changed_etag_gives_full_body_and_new_validators(server: LoopbackServer) -> None:
    server.serve("/feed", "<rss>new</rss>", etag='"v2"')
    response = fetch(server.url("/feed"), state=SourceState(etag='"v1"', last_modified="old"))
    assert not response.not_modified and response.body == b"<rss>new</rss>"
    assert response.next_state(SourceState(etag='"v1"', last_modified="old")) == SourceState(etag='"v2"')


def test_connection_refused_is_a_network_error(recording_sleep: RecordingSleep) -> None:
    with LoopbackServer() as closed:
        url = closed.url("/gone")
    with pytest.raises(NetworkError) as caught:
        fetch(url, sleep=recording_sleep, max_retries=1)
    assert not isinstance(caught.value, FetchTimeout)
    assert "network error talking to 127.0.0.1" in str(caught.value)
    assert len(recording_sleep.waits) == 1


class FakeClock:
    """A monotonic clock that only moves when the fetcher sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 6))
        self.now += seconds


def mock_fetcher(handler: Callable[[httpx.Request], httpx.Response], **overrides: object) -> Fetcher:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return Fetcher(client=client, **overrides)  # type: ignore[arg-type]


def test_per_host_interval_is_respected() -> None:
    clock = FakeClock()
    seen: list[tuple[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, clock.now))
        return httpx.Response(200, text="ok")

    async def run() -> None:
        fetcher = mock_fetcher(handler, host_interval=2.0, clock=clock, sleep=clock.sleep)
        await fetcher.get("http://a.example/1")
        await fetcher.get("http://b.example/1")  # another host: no wait
        clock.now += 0.5
        await fetcher.get("http://a.example/2")  # 0.5 s after the first request to a.example
        await fetcher.get("http://a.example/3")

    asyncio.run(run())
    assert clock.waits == [1.5, 2.0]
    assert seen == [
        ("a.example", 1000.0),
        ("b.example", 1000.0),
        ("a.example", 1002.0),
        ("a.example", 1004.0),
    ]


def test_concurrent_requests_to_one_host_are_spaced() -> None:
    clock = FakeClock()
    times: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        times.append(clock.now)
        return httpx.Response(200, text="ok")

    async def run() -> None:
        fetcher = mock_fetcher(handler, host_interval=1.0, clock=clock, sleep=clock.sleep)
        await asyncio.gather(*(fetcher.get(f"http://a.example/{n}") for n in range(3)))

    asyncio.run(run())
    assert times == [1000.0, 1001.0, 1002.0]


def test_injected_client_gets_headers_and_is_not_closed() -> None:
    captured: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        captured.append(request)
        return httpx.Response(200, text="ok", headers={"ETag": '"e"'})

    async def run() -> bool:
        fetcher = mock_fetcher(handler, host_interval=0)
        response = await fetcher.get(
            "http://api.example/x",
            state=SourceState(etag='"old"'),
            headers={"Accept": "application/json"},
            params={"q": "舆情"},
        )
        assert response.etag == '"e"'
        await fetcher.aclose()
        return fetcher._client is not None and not fetcher._client.is_closed

    assert asyncio.run(run())
    request = captured[0]
    assert request.headers["user-agent"] == USER_AGENT
    assert request.headers["if-none-match"] == '"old"' and request.headers["accept"] == "application/json"
    assert request.url.params["q"] == "舆情"


# Connections left open by the ended first loop are only reclaimed by the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_fetcher_survives_a_new_event_loop(server: LoopbackServer) -> None:
    server.serve("/feed", "ok", content_type="text/plain")
    fetcher = make_fetcher(host_interval=0.01)

    async def once() -> bytes:
        return (await fetcher.get(server.url("/feed"))).body

    assert asyncio.run(once()) == b"ok"
    assert asyncio.run(once()) == b"ok"  # a second asyncio.run: fresh client and locks
    asyncio.run(fetcher.aclose())


def test_parse_link_header_reads_mastodon_links() -> None:
    value = (
        '<http://localhost:3000/api/v1/timelines/tag/hoot?max_id=117020593741189701>; rel="next", '
        '<http://localhost:3000/api/v1/timelines/tag/hoot?min_id=117020593741189701>; rel="prev"'
    )
    links = parse_link_header(value)
    assert links == {
        "next": "http://localhost:3000/api/v1/timelines/tag/hoot?max_id=117020593741189701",
        "prev": "http://localhost:3000/api/v1/timelines/tag/hoot?min_id=117020593741189701",
    }
    assert parse_link_header(None) == {} and parse_link_header("") == {}


def test_error_page_excerpt_is_decoded_with_its_charset(server: LoopbackServer) -> None:
    page = "<html><body><h1>502 网关错误</h1><p>上游服务器无响应</p></body></html>".encode("gbk")
    server.serve("/bad", page, status=502, content_type="text/html; charset=gbk")
    with pytest.raises(HTTPStatusError) as caught:
        fetch(server.url("/bad"), max_retries=0)
    assert str(caught.value).endswith(": 502 网关错误 上游服务器无响应")
