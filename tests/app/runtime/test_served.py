"""Hostile requests against a real `yuqing serve` (uvicorn) on loopback: bodies streamed without a
Content-Length are refused as soon as they pass the limit, with or without a key, the server's memory
stays bounded, and a refused request or post never breaks the requests that follow it."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from app.core.db import Database
from tests.conftest import make_key
from tests.support.processes import Server, service_env

pytestmark = [pytest.mark.slow, pytest.mark.serial]
LIMIT = 1024 * 1024  # YUQING_MAX_BODY_BYTES of the served process
MIB = 1024 * 1024


@dataclass
class Served:
    """The running server and a write key for it."""

    server: Server
    key: str

    @property
    def headers(self) -> dict[str, str]:
        """Authorization for the write key."""
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`yuqing serve` on SQLite with a 1 MiB body limit and no background jobs."""
    folder = tmp_path_factory.mktemp("served")
    url = f"sqlite:///{folder / 'yuqing.db'}"
    env = service_env(url, YUQING_MAX_BODY_BYTES=str(LIMIT), YUQING_SCHEDULER_ENABLED="false")
    with Server(env, folder, name="limits") as server:
        db = Database(url)
        key = make_key(db, "limits-writer", "write")
        db.dispose()
        yield Served(server, key)


@dataclass
class Streamed:
    """What a chunked upload achieved: bytes the server let us send, and its raw answer."""

    sent: int
    answer: bytes

    @property
    def status(self) -> int:
        """The HTTP status of the answer (0 when there was none)."""
        head = self.answer.split(b"\r\n", 1)[0].split()
        return int(head[1]) if len(head) > 1 else 0


def stream_chunked(
    port: int, headers: dict[str, str], body_start: bytes, total: int, body_end: bytes = b""
) -> Streamed:
    """POST /api/v1/posts with Transfer-Encoding: chunked: `body_start`, JSON whitespace, `body_end`,
    `total` bytes in all, in 64 KiB chunks, stopping as soon as the server answers (as a careful
    client does)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = "POST /api/v1/posts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sent = 0
    pending = body_start
    filler = b" " * (64 * 1024)  # JSON whitespace: the body stays valid wherever it is cut off
    try:
        sock.sendall(head.encode() + b"\r\n")
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break  # the server answered before the body was complete
            room = total - sent - len(body_end)
            piece, pending = pending or filler[:room] or body_end, b""
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent += len(piece)
        else:
            sock.sendall(b"0\r\n\r\n")
    except OSError:  # the server closed the connection on the rest of a refused body
        pass
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except OSError:
        pass
    finally:
        sock.close()
    return Streamed(sent, answer)


def test_an_anonymous_chunked_stream_is_cut_off_at_the_limit_and_memory_stays_bounded(served) -> None:  # type: ignore[no-untyped-def]
    before = served.server.rss_mb()
    total = 100 * MIB
    result = stream_chunked(served.server.port, {}, b'{"source": "anon", "posts": [], "x": "', total)
    assert result.status == 413, result.answer[:300]
    assert b"payload_too_large" in result.answer and b"connection: close" in result.answer.lower()
    assert result.sent < total // 4, f"the server read {result.sent} bytes of a refused body"
    grown = served.server.peak_rss_mb() - before
    assert grown < 40, f"one refused anonymous upload grew the server by {grown:.0f} MiB"
    assert httpx.get(served.server.base_url + "/healthz", timeout=10).status_code == 200


@pytest.mark.parametrize("size", [LIMIT + 1, 10 * MIB])
def test_a_keyed_chunked_body_over_the_limit_is_413_and_the_next_request_works(served, size: int) -> None:  # type: ignore[no-untyped-def]
    start = b'{"source": "chunked", "posts": []'
    result = stream_chunked(served.server.port, served.headers, start, size, body_end=b"}")
    assert result.status == 413, result.answer[:300]
    with httpx.Client(base_url=served.server.base_url, headers=served.headers, timeout=30) as client:
        body = {"source": "chunked", "posts": [{"text": "限额之后的正常推送"}]}
        ok = client.post("/api/v1/posts", json=body)
        assert ok.status_code == 200 and ok.json()["rejected"] == []


def test_a_chunked_body_at_the_limit_is_read_whole(served) -> None:  # type: ignore[no-untyped-def]
    start = '{"source": "chunked", "posts": [{"id": "at-limit", "text": "正好在限额内"}]'.encode()
    body = start + b" " * (LIMIT - len(start) - 1) + b"}"
    assert len(body) == LIMIT
    with httpx.Client(base_url=served.server.base_url, headers=served.headers, timeout=30) as client:
        pieces = (body[i : i + 65536] for i in range(0, len(body), 65536))
        response = client.post("/api/v1/posts", content=pieces, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] + response.json()["duplicates"] == 1


def test_a_post_whose_time_overflows_is_rejected_alone_and_the_connection_stays_usable(served) -> None:  # type: ignore[no-untyped-def]
    posts = [
        {"id": "overflow-west", "text": "时间溢出", "published_at": "9999-12-31T23:00:00-08:00"},
        {"id": "overflow-east", "text": "时间溢出", "published_at": "0001-01-01T00:00:00+08:00"},
        {"id": "fine", "text": "同一批里正常的帖子"},
    ]
    with httpx.Client(base_url=served.server.base_url, headers=served.headers, timeout=30) as client:
        first = client.post("/api/v1/posts", json={"source": "overflow", "posts": posts})
        assert first.status_code == 200, first.text
        assert [r["index"] for r in first.json()["rejected"]] == [0, 1]
        assert first.json()["accepted"] == 1
        assert first.headers.get("connection", "").lower() != "close"
        second = client.post("/api/v1/posts", json={"source": "overflow", "posts": [{"text": "下一条"}]})
        assert second.status_code == 200 and second.json()["accepted"] == 1
