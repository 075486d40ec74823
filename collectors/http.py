"""The HTTP side of collectors: one polite, bounded, retrying `Fetcher` around an httpx.AsyncClient.

It enforces timeouts (connect and total), a body size cap, conditional GET from the source state,
retries with exponential backoff and full jitter on 429/5xx/network errors (honouring Retry-After up to
a cap), and a minimum interval between requests to the same host.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from collectors import __version__
from collectors.base import SourceState
from collectors.charset import decode_body
from collectors.errors import (
    BlockedAddressError,
    BodyTooLargeError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    NetworkError,
    RateLimitedError,
)
from collectors.health import rsshub_error
from collectors.html import html_to_text
from collectors.response import FetchResponse, parse_link_header
from collectors.retry import RETRYABLE_STATUS, backoff_delay, retry_after_seconds

__all__ = ["USER_AGENT", "FetchResponse", "Fetcher", "decode_body", "parse_link_header"]

log = logging.getLogger(__name__)

USER_AGENT = f"Yuqing/{__version__} (+https://github.com/yuqing-project/yuqing)"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
EXCERPT_BYTES = 2048

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


AddressCheck = Callable[[str, str, int], str | None]
"""(host, IP address, port) -> None when a connection may be made, else why not (one short sentence)."""
Resolve = Callable[[str], Awaitable[list[str]]]
"""host -> the IP addresses to try, as strings; raises OSError when the host does not resolve."""


async def system_resolve(host: str) -> list[str]:
    """The addresses of `host` from the system resolver, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves each host at connect time and connects only to addresses the check allows.

    The check runs for every connection, so neither a redirect to a private address nor a DNS
    answer that changed since the URL was validated (rebinding) reaches the internal network. A host
    with one refused address among several is refused whole, as when its URL was saved; otherwise the
    connection goes to a checked address itself. TLS still verifies the original host name. `resolve`
    turns the host into addresses (the system resolver unless given).
    """

    def __init__(
        self,
        check: AddressCheck,
        inner: httpcore.AsyncNetworkBackend | None = None,
        resolve: Resolve | None = None,
    ) -> None:
        self._check = check
        self._inner = inner or httpcore.AnyIOBackend()
        self._resolve = resolve or system_resolve

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first address of `host` that answers, when the check allows all of them."""
        try:
            addresses = await asyncio.wait_for(self._resolve(host), timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        refusals = {address: self._check(host, address, port) for address in addresses}
        reasons = sorted({reason for reason in refusals.values() if reason})
        if reasons or not addresses:  # one refused address refuses the host, as when its URL was saved
            raise BlockedAddressError(f"refused to connect to {host}: {'; '.join(reasons) or 'no address'}")
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        """Unix sockets are never a collector's target."""
        raise BlockedAddressError("refused to connect to a Unix socket")

    async def sleep(self, seconds: float) -> None:
        """Delegate to the wrapped backend."""
        await self._inner.sleep(seconds)


def guarded_transport(check: AddressCheck | None, resolve: Resolve | None = None) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection passes `check` (a plain transport when None);
    hosts are resolved with `resolve` (the system resolver unless given)."""
    transport = httpx.AsyncHTTPTransport()
    if check is not None:
        pool = transport._pool  # httpx builds its pool without a way to pass a network backend
        if not hasattr(pool, "_network_backend"):
            raise RuntimeError("this httpx version cannot take the address guard; refusing to run unguarded")
        pool._network_backend = GuardedNetworkBackend(check, resolve=resolve)
    return transport


class Fetcher:
    """Fetches URLs for collectors with timeouts, a size cap, retries, politeness and conditional GET.

    One instance is shared by every collector in a process. Pass `client` (e.g. with an
    `httpx.MockTransport`) to control the transport; it is then not closed by `aclose`.

    `timeout` bounds each attempt as a whole (connect, headers and body); `connect_timeout` and
    `read_timeout` (default: `timeout`) bound the connect and each read. A failed attempt is retried
    at most `max_retries` times; no single wait exceeds `max_retry_wait` (a longer Retry-After raises
    RateLimitedError at once) and all waits together stay under `max_total_wait`. `host_interval` is
    the minimum time between two requests to one host. `sleep`, `clock` (monotonic), `wall_clock`
    (epoch seconds) and `jitter` (uniform in [0, 1)) are injectable for tests. `address_check` runs on
    every connection, with hosts resolved by `resolve` (see GuardedNetworkBackend).
    """

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        read_timeout: float | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_retries: int = 2,
        backoff_base: float = 1.0,
        max_retry_wait: float = 30.0,
        max_total_wait: float = 60.0,
        host_interval: float = 1.0,
        user_agent: str = USER_AGENT,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        address_check: AddressCheck | None = None,
        resolve: Resolve | None = None,
    ) -> None:
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout, timeout)
        self.read_timeout = min(read_timeout or timeout, timeout)
        self.max_bytes = max_bytes
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.max_retry_wait = max_retry_wait
        self.max_total_wait = max_total_wait
        self.host_interval = host_interval
        self.user_agent = user_agent
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._jitter = jitter
        self._client = client
        self._owns_client = client is None
        self.address_check = address_check
        self.resolve = resolve
        self._loop: asyncio.AbstractEventLoop | None = None
        self._host_locks: dict[str, asyncio.Lock] = {}
        self._next_slot: dict[str, float] = {}

    async def get(
        self,
        url: str,
        *,
        state: SourceState | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> FetchResponse:
        """GET `url` (conditionally when `state` has validators) and return the whole response.

        Raises:
            FetchTimeout, NetworkError: after the retries are used up.
            RateLimitedError: 429 (or Retry-After beyond `max_retry_wait`) that retrying cannot cure.
            HTTPStatusError: any other 4xx/5xx status.
            BodyTooLargeError: the body exceeds `max_bytes`.
        """
        request_headers = self._headers(state, headers)
        attempt, waited = 0, 0.0
        while True:
            await self._polite(url)
            retry_after: float | None = None
            try:
                response = await self._attempt(url, request_headers, params)
            except NetworkError as exc:
                error: FetchError = exc
            else:
                if response.status < 400:
                    return response
                error = self._status_error(response)
                if response.status not in RETRYABLE_STATUS:
                    raise error
                now = self._wall_clock()
                retry_after = retry_after_seconds(response.headers, now=now, status=response.status)
            delay = self._next_delay(error, retry_after, attempt, waited)
            log.info("retrying %s in %.1f s after: %s", url, delay, error)
            await self._sleep(delay)
            attempt, waited = attempt + 1, waited + delay

    def _next_delay(self, error: FetchError, retry_after: float | None, attempt: int, waited: float) -> float:
        """How long to wait before the next attempt, or raise when retrying is over."""
        if retry_after is not None and retry_after > self.max_retry_wait:
            raise RateLimitedError(retry_after, url=error.url, status=error.status) from error
        if attempt >= self.max_retries:
            raise error
        if retry_after is not None:
            delay = retry_after
        else:
            cap = self.max_retry_wait
            delay = backoff_delay(attempt, base=self.backoff_base, cap=cap, jitter=self._jitter)
        if waited + delay > self.max_total_wait:
            raise error
        return delay

    def _headers(self, state: SourceState | None, extra: Mapping[str, str] | None) -> httpx.Headers:
        headers = httpx.Headers({"User-Agent": self.user_agent})
        if state is not None and state.etag:
            headers["If-None-Match"] = state.etag
        if state is not None and state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        headers.update(extra or {})
        return headers

    def _status_error(self, response: FetchResponse) -> FetchError:
        if response.status == 429:
            wait = retry_after_seconds(response.headers, now=self._wall_clock())
            return RateLimitedError(wait, url=response.url, status=429)
        body = decode_body(response.body[:EXCERPT_BYTES], response.content_type)
        if "html" in response.content_type.lower():
            body = html_to_text(body)
        # An RSSHub error page says what went wrong in one line: keep that line, not the page's start.
        body = rsshub_error(body) or body
        return HTTPStatusError(response.status, body, url=response.url)

    async def _attempt(
        self, url: str, headers: httpx.Headers, params: Mapping[str, Any] | None
    ) -> FetchResponse:
        timeout = httpx.Timeout(self.timeout, connect=self.connect_timeout, read=self.read_timeout)
        try:
            async with asyncio.timeout(self.timeout):
                client = self._get_client()
                request = client.build_request("GET", url, headers=headers, params=params, timeout=timeout)
                response = await client.send(request, stream=True, follow_redirects=True)
                try:
                    return await self._read(response)
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise FetchTimeout(self._timeout_message(exc, url), url=url) from exc
        except httpx.TooManyRedirects as exc:
            raise FetchError(f"too many redirects from {_host(url)}", url=url) from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            detail = str(exc) or type(exc).__name__
            raise NetworkError(f"network error talking to {_host(url)}: {detail}", url=url) from exc

    def _timeout_message(self, exc: Exception, url: str) -> str:
        host = _host(url)
        if isinstance(exc, httpx.ConnectTimeout):
            return f"could not connect to {host} within {self.connect_timeout:g} s"
        if isinstance(exc, httpx.ReadTimeout) and self.read_timeout < self.timeout:
            return f"{host} sent nothing for {self.read_timeout:g} s"
        return f"no complete response from {host} within {self.timeout:g} s"

    async def _read(self, response: httpx.Response) -> FetchResponse:
        url = str(response.url)
        status = response.status_code
        if status == 304:
            return FetchResponse(status, response.headers, b"", url, not_modified=True)
        limit = self.max_bytes if status < 400 else EXCERPT_BYTES
        declared = response.headers.get("content-length", "")
        if status < 400 and declared.isdigit() and int(declared) > self.max_bytes:
            raise BodyTooLargeError(self.max_bytes, url=url)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                if status < 400:
                    raise BodyTooLargeError(self.max_bytes, url=url)
                break  # an error page: the first bytes are enough for the message
        return FetchResponse(status, response.headers, b"".join(chunks), url)

    async def _polite(self, url: str) -> None:
        """Wait until `host_interval` seconds have passed since the previous request to this host."""
        if self.host_interval <= 0:
            return
        host = _host(url)
        self._bind_loop()
        lock = self._host_locks.setdefault(host, asyncio.Lock())
        async with lock:
            wait = self._next_slot.get(host, 0.0) - self._clock()
            if wait > 0:
                await self._sleep(wait)
            self._next_slot[host] = self._clock() + self.host_interval

    def _bind_loop(self) -> None:
        """Locks and an owned client belong to one event loop; start afresh when the loop changes."""
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        self._loop = loop
        self._host_locks = {}
        if self._owns_client:
            self._client = None

    def _get_client(self) -> httpx.AsyncClient:
        self._bind_loop()
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout, read=self.read_timeout),
                max_redirects=5,
                headers={"User-Agent": self.user_agent},
                transport=guarded_transport(self.address_check, self.resolve),
            )
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client if this fetcher created it."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            if self._loop is asyncio.get_running_loop():
                await client.aclose()
            # else its connections belong to an event loop that has ended; they cannot be awaited

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower() or url
