"""A real HTTP server on 127.0.0.1 for tests, running in a background thread.

Register routes, point the code under test at `server.url(path)`, then assert on `server.requests`::

    def test_feed(loopback_server):
        loopback_server.serve("/feed.xml", FEED_BYTES, etag='"v1"')        # static, answers 304 to validators
        loopback_server.script("/flaky", Reply(500), Reply(200, b"ok"))    # in order; the last one repeats
        loopback_server.hang("/slow", seconds=5)                           # answers nothing for 5 s
        loopback_server.handle("/api", lambda request: Reply(200, b"[]"))  # computed per request
        ...
        assert loopback_server.requests_to("/feed.xml")[0].headers["user-agent"].startswith("Yuqing/")

Import the `loopback_server` fixture into a conftest (`from tests.support.loopback import
loopback_server`) to get a fresh server per test. Unknown paths answer 404. Closing the server wakes
up hanging routes, so a hang never blocks shutdown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

__all__ = ["LoopbackServer", "RecordedRequest", "Reply", "loopback_server"]


@dataclass
class Reply:
    """One HTTP response to send: status, body, content type, extra headers, an optional delay."""

    status: int = 200
    body: bytes | str = b""
    content_type: str | None = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunked: bool = False  # send with Transfer-Encoding: chunked instead of Content-Length

    def body_bytes(self) -> bytes:
        """The body as bytes (str bodies are encoded as UTF-8)."""
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received: method, path without query, parsed query, lower-cased headers."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]

    def param(self, name: str) -> str | None:
        """The first value of a query parameter, or None."""
        values = self.query.get(name)
        return values[0] if values else None


Handler = Callable[[RecordedRequest], Reply]


class LoopbackServer:
    """A threaded HTTP/1.1 server on a random free port of 127.0.0.1; see the module docstring."""

    def __init__(self) -> None:
        self._routes: dict[str, Handler] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        host, port = self._httpd.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"

    def url(self, path: str = "/") -> str:
        """The absolute URL of `path` (which may include a query string) on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def handle(self, path: str, handler: Handler) -> None:
        """Answer every request to `path` (query ignored for matching) with `handler(request)`."""
        with self._lock:
            self._routes[path] = handler

    def serve(
        self,
        path: str,
        body: bytes | str,
        *,
        content_type: str | None = "application/xml; charset=utf-8",
        status: int = 200,
        headers: dict[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> None:
        """Serve a fixed body; with `etag`/`last_modified`, matching validators get a 304."""
        extra = dict(headers or {})
        if etag:
            extra["ETag"] = etag
        if last_modified:
            extra["Last-Modified"] = last_modified

        def respond(request: RecordedRequest) -> Reply:
            if _not_modified(request, etag, last_modified):
                return Reply(304, b"", content_type=None, headers=extra)
            return Reply(status, body, content_type=content_type, headers=extra)

        self.handle(path, respond)

    def script(self, path: str, *replies: Reply) -> None:
        """Answer successive requests to `path` with `replies` in order; the last one then repeats."""
        if not replies:
            raise ValueError("script() needs at least one reply")
        queue = list(replies)
        lock = threading.Lock()

        def respond(request: RecordedRequest) -> Reply:
            with lock:
                return queue.pop(0) if len(queue) > 1 else queue[0]

        self.handle(path, respond)

    def hang(self, path: str, seconds: float = 30.0) -> None:
        """Accept requests to `path` but answer nothing for `seconds` (cut short when the server closes)."""
        self.handle(path, lambda request: Reply(200, b"too late", delay=seconds))

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The requests received for `path` (query ignored)."""
        return [request for request in self.requests if request.path == path]

    def close(self) -> None:
        """Stop serving; hanging routes are woken up so that this returns promptly."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _dispatch(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            handler = self._routes.get(request.path)
        if handler is None:
            return Reply(404, f"no route for {request.path}")
        return handler(request)

    def _wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; False when the server is closing meanwhile."""
        return not self._stopping.wait(seconds)


def _not_modified(request: RecordedRequest, etag: str | None, last_modified: str | None) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if etag and if_none_match is not None:
        wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in wanted or etag.removeprefix("W/") in wanted
    if_modified_since = request.headers.get("if-modified-since")
    if last_modified and if_modified_since:
        try:
            return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
    return False


def _make_handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - name required by BaseHTTPRequestHandler
            self._answer()

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer()

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            self._answer()

        def _answer(self) -> None:
            parts = urlsplit(self.path)
            request = RecordedRequest(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={name.lower(): value for name, value in self.headers.items()},
            )
            reply = server._dispatch(request)
            if reply.delay and not server._wait(reply.delay):
                self.close_connection = True
                return
            try:
                self._send(reply)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (e.g. its timeout fired)

        def _send(self, reply: Reply) -> None:
            body = reply.body_bytes()
            self.send_response(reply.status)
            if reply.content_type:
                self.send_header("Content-Type", reply.content_type)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.status == 304:
                self.end_headers()
                return
            if reply.chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(body), 64 * 1024):
                    piece = body[start : start + 64 * 1024]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output quiet
            return

    return _Handler


@pytest.fixture
def loopback_server() -> Iterator[LoopbackServer]:
    """A fresh loopback HTTP server for one test, closed afterwards."""
    server = LoopbackServer()
    try:
        yield server
    finally:
        server.close()
