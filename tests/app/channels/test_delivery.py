"""One-shot `send`: network trouble becomes a result, never an exception; no retries inside."""

from __future__ import annotations

import socket

from app.channels import ChannelRequest, Outcome
from tests.app.channels.conftest import deliver
from tests.support.receivers import VendorServer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_retry() -> None:
    request = ChannelRequest("webhook", "POST", f"http://127.0.0.1:{_free_port()}/x", json={})
    result = deliver([request])[0]
    assert result.outcome is Outcome.RETRY and "ConnectError" in (result.detail or "")


def test_timeout_is_retry(vendor: VendorServer) -> None:
    result = deliver([ChannelRequest("slack", "POST", f"{vendor.base}/slow", json={})], timeout=0.2)[0]
    assert result.outcome is Outcome.RETRY and "timeout" in (result.detail or "")


def test_unusable_url_is_permanent() -> None:
    result = deliver([ChannelRequest("webhook", "POST", "ftp://127.0.0.1/x", json={})])[0]
    assert result.outcome is Outcome.PERMANENT


def test_server_error_is_retry_with_retry_after(vendor: VendorServer) -> None:
    result = deliver([ChannelRequest("wecom", "POST", f"{vendor.base}/status/503", json={})])[0]
    assert (result.outcome, result.retry_after, result.http_status) == (Outcome.RETRY, 7, 503)


def test_redirects_are_not_followed(vendor: VendorServer) -> None:
    result = deliver([ChannelRequest("webhook", "POST", f"{vendor.base}/status/307", json={})])[0]
    assert (result.outcome, result.http_status) == (Outcome.PERMANENT, 307)


def test_result_is_json_ready(vendor: VendorServer) -> None:
    result = deliver([ChannelRequest("slack", "POST", f"{vendor.base}/status/429", json={})])[0]
    assert result.to_dict() == {
        "outcome": "retry",
        "retry_after": 7.0,
        "vendor_code": "status",
        "vendor_message": "status",
        "http_status": 429,
        "detail": None,
    }
