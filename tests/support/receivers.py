"""Loopback vendor emulators: WeCom, DingTalk, Feishu, Slack and a Standard Webhooks receiver.

Each behaves as its vendor documents: it checks the credential and signature with its own HMAC
code (independent of app/channels), enforces the size limit and the rate limit, and answers with
the vendor's real bodies from tests/fixtures/channels/vendor_responses.json.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.background_server import BackgroundHTTPServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "channels"
BODIES = {
    item["name"]: item["body"]
    for item in json.loads((FIXTURES / "vendor_responses.json").read_text("utf-8"))["responses"]
}
Reply = tuple[int, dict[str, str], bytes]


def _json(body: Any, status: int = 200) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(body, ensure_ascii=False).encode()


@dataclass
class Received:
    """One request that reached an emulator."""

    vendor: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class VendorState:
    """Credentials the emulators expect, their limits, and everything they accepted."""

    wecom_key: str = "wecom-key-1"
    dingtalk_token: str = "ding-token-1"
    dingtalk_secret: str = "SECding舆情secret"
    dingtalk_keyword: str | None = None
    feishu_token: str = "feishu-token-1"
    feishu_secret: str = "feishu-secret-1"
    webhook_secret: str = "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
    webhook_status: int = 204
    webhook_headers: dict[str, str] = field(default_factory=dict)
    per_minute: dict[str, int] = field(default_factory=lambda: {"wecom": 20, "dingtalk": 20, "feishu": 100})
    accepted: list[Received] = field(default_factory=list)
    rejected: list[tuple[Received, int, bytes]] = field(default_factory=list)
    seen_webhook_ids: list[str] = field(default_factory=list)
    _times: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def over_rate(self, bucket: str, limit: int, window: float) -> bool:
        """Record one request and say whether `bucket` exceeded `limit` per `window` seconds."""
        now = time.monotonic()
        times = self._times[bucket]
        while times and now - times[0] >= window:
            times.popleft()
        times.append(now)
        return len(times) > limit

    def accepted_for(self, vendor: str) -> list[Received]:
        """Accepted requests of one vendor."""
        return [item for item in self.accepted if item.vendor == vendor]


def _wecom(state: VendorState, request: Received) -> tuple[Reply, bool]:
    if request.query.get("key") != [state.wecom_key]:
        return _json(BODIES["wecom_bad_key"]), False
    payload = request.json()
    kind = payload.get("msgtype")
    content = payload.get(kind, {}).get("content", "")
    limit = 4096 if kind == "markdown" else 2048
    if len(content.encode("utf-8")) > limit:
        return _json(BODIES["wecom_too_long"]), False
    if state.over_rate("wecom", state.per_minute["wecom"], 60):
        return _json(BODIES["wecom_rate_limited"]), False
    return _json(BODIES["wecom_ok"]), True


def dingtalk_expected_sign(secret: str, timestamp: str) -> str:
    """DingTalk 加签, computed independently of app/channels."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _dingtalk(state: VendorState, request: Received) -> tuple[Reply, bool]:
    if request.query.get("access_token") != [state.dingtalk_token]:
        return _json({"errcode": 300001, "errmsg": "token is not exist"}), False
    timestamp = request.query.get("timestamp", [""])[0]
    if not timestamp.isdigit() or abs(time.time() * 1000 - int(timestamp)) > 3600 * 1000:
        return _json(BODIES["dingtalk_invalid_timestamp"]), False
    expected = dingtalk_expected_sign(state.dingtalk_secret, timestamp)
    if not hmac.compare_digest(request.query.get("sign", [""])[0], expected):
        return _json(BODIES["dingtalk_sign_not_match"]), False
    if len(request.body) > 20000:
        return _json(BODIES["dingtalk_too_long"]), False
    if state.dingtalk_keyword and state.dingtalk_keyword not in request.body.decode("utf-8"):
        return _json(BODIES["dingtalk_keywords"]), False
    if state.over_rate("dingtalk", state.per_minute["dingtalk"], 60):
        return _json(BODIES["dingtalk_rate_limited"]), False
    return _json(BODIES["dingtalk_ok"]), True


def feishu_expected_sign(secret: str, timestamp: str) -> str:
    """Feishu signature (key = ts + LF + secret, empty message), computed independently."""
    return base64.b64encode(
        hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    ).decode()


def _feishu(state: VendorState, request: Received) -> tuple[Reply, bool]:
    if request.path.rsplit("/", 1)[-1] != state.feishu_token:
        return _json(
            {"code": 19001, "data": {}, "msg": "param invalid: incoming webhook access token invalid"}
        ), False
    if len(request.body) > 20000:
        return _json(BODIES["feishu_bad_request"], 400), False
    payload = request.json()
    timestamp = str(payload.get("timestamp", ""))
    fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) <= 3600
    if not fresh or payload.get("sign") != feishu_expected_sign(state.feishu_secret, timestamp):
        return _json(BODIES["feishu_sign"]), False
    too_fast = state.over_rate("feishu-s", 5, 1.0)
    if state.over_rate("feishu", state.per_minute["feishu"], 60) or too_fast:
        return _json(BODIES["feishu_rate_limited"]), False
    return _json(BODIES["feishu_ok"]), True


def _slack(state: VendorState, request: Received) -> tuple[Reply, bool]:
    text_reply = {"Content-Type": "text/html"}
    payload = request.json()
    blocks = payload.get("blocks", [])
    sections = [block["text"]["text"] for block in blocks if block.get("type") == "section"]
    headers = [block["text"]["text"] for block in blocks if block.get("type") == "header"]
    if len(blocks) > 50 or any(len(text) > 3000 for text in sections) or any(len(h) > 150 for h in headers):
        return (400, text_reply, b"invalid_blocks"), False
    if not payload.get("text") and not blocks:
        return (400, text_reply, b"no_text"), False
    if state.over_rate("slack", 5, 1.0):
        return (429, {**text_reply, "Retry-After": "1"}, b"rate_limited"), False
    return (200, text_reply, b"ok"), True


def standard_webhook_expected(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """Standard Webhooks v1 signature, computed independently."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = message_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def _webhook(state: VendorState, request: Received) -> tuple[Reply, bool]:
    headers = request.headers
    message_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
        return (400, {}, b"timestamp outside tolerance"), False
    expected = standard_webhook_expected(state.webhook_secret, message_id, timestamp, request.body)
    offered = headers.get("webhook-signature", "").split(" ")
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        return (401, {}, b"bad signature"), False
    github = headers.get("x-hub-signature-256")
    if github is not None:
        mac = hmac.new(state.webhook_secret.encode(), request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(github, "sha256=" + mac):
            return (401, {}, b"bad github signature"), False
    if state.webhook_status >= 300:
        return (state.webhook_status, state.webhook_headers, b"nope"), False
    state.seen_webhook_ids.append(message_id)
    return (state.webhook_status, {}, b""), True


ROUTES = {
    "/cgi-bin/webhook/send": ("wecom", _wecom),
    "/robot/send": ("dingtalk", _dingtalk),
    "/open-apis/bot/v2/hook/": ("feishu", _feishu),
    "/services/": ("slack", _slack),
    "/hooks/standard": ("webhook", _webhook),
}


class _Handler(BaseHTTPRequestHandler):
    server: VendorServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_POST(self) -> None:
        """Route to an emulator, or to the /status and /slow helpers."""
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {key.lower(): value for key, value in self.headers.items()}
        if parts.path.startswith("/slow"):
            time.sleep(1.0)
            return self._reply((200, {}, b"late"))
        if parts.path.startswith("/status/"):
            status = int(parts.path.rsplit("/", 1)[-1])
            return self._reply((status, {"Retry-After": "7"}, b"status"))
        for prefix, (vendor, emulator) in ROUTES.items():
            if parts.path.startswith(prefix):
                request = Received(vendor, parts.path, parse_qs(parts.query), headers, body)
                state = self.server.state
                with state.lock:
                    reply, ok = emulator(state, request)
                    if ok:
                        state.accepted.append(request)
                    else:
                        state.rejected.append((request, reply[0], reply[2]))
                return self._reply(reply)
        self._reply((404, {}, b"no route"))

    def _reply(self, reply: Reply) -> None:
        status, headers, body = reply
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class VendorServer(BackgroundHTTPServer):
    """A threaded loopback server hosting every emulator, with its shared `state`."""

    def __init__(self) -> None:
        super().__init__(_Handler)
        self.state = VendorState()
