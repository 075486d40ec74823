"""Every real vendor answer lands in the outcome the vendor means, not what the HTTP status says."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.channels import CHANNEL_KINDS, Outcome, UnknownChannel, classify, get_channel
from app.channels.base import parse_retry_after
from tests.support.shared import shared_path

OWN = json.loads(
    (Path(__file__).resolve().parents[2] / "fixtures" / "channels" / "vendor_responses.json").read_text(
        "utf-8"
    )
)["responses"]
SHARED_EXPECTED = {
    93000: "permanent",
    45009: "rate_limited",
    310000: "permanent",
    130101: "rate_limited",
    460101: "too_large",
    90030: "rate_limited",
    19021: "permanent",
    0: "ok",
    9499: "too_large",
}


def _body(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


@pytest.mark.parametrize("case", OWN, ids=[case["name"] for case in OWN])
def test_own_copies_of_vendor_bodies(case: dict[str, Any]) -> None:
    result = classify(case["kind"], case["status"], {}, _body(case["body"]))
    assert result.outcome.value == case["expected"]
    assert result.http_status == case["status"]
    if result.outcome is not Outcome.OK:
        assert result.vendor_code == case["body"].get("errcode", case["body"].get("code"))
        assert result.vendor_message


@pytest.mark.shared
def test_shared_observed_bodies() -> None:
    path = shared_path("fixtures", "webhooks", "chat_webhook_responses_observed.json")
    responses = json.loads(path.read_text("utf-8"))["responses"]
    for response in responses:
        body = response["body"]
        code = body.get("errcode", body.get("code"))
        result = classify(response["platform"], 200, {}, _body(body))
        assert result.outcome.value == SHARED_EXPECTED[code], response["meaning"]
    ours = {json.dumps(case["body"], sort_keys=True) for case in OWN}
    for response in responses:
        assert json.dumps(response["body"], sort_keys=True) in ours, "our fixture copy drifted"


def test_rate_limits_back_off_at_least_a_minute_and_dingtalk_ten() -> None:
    assert classify("wecom", 200, {}, _body({"errcode": 45009, "errmsg": "x"})).retry_after == 60
    assert classify("feishu", 200, {}, _body({"code": 11232, "msg": "x"})).retry_after == 60
    assert classify("dingtalk", 200, {}, _body({"errcode": 130101, "errmsg": "x"})).retry_after == 600
    assert classify("dingtalk", 302, {"Location": "https://x"}, b"").outcome is Outcome.RATE_LIMITED


@pytest.mark.parametrize("kind", ["wecom", "dingtalk", "feishu"])
def test_chat_robots_are_not_judged_by_http_status(kind: str) -> None:
    assert classify(kind, 200, {}, b"<html>gateway</html>").outcome is Outcome.PERMANENT
    assert classify(kind, 200, {}, b"").outcome is Outcome.PERMANENT
    assert classify(kind, 200, {}, _body({"errcode": 77777, "code": 77777})).outcome is Outcome.PERMANENT


@pytest.mark.parametrize("kind", [kind for kind in CHANNEL_KINDS if kind != "email"])  # email: SMTP codes
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (429, "retry"),
        (404, "permanent"),
        (403, "permanent"),
        (413, "too_large"),
    ],
)
def test_http_errors_for_every_kind(kind: str, status: int, expected: str) -> None:
    result = classify(kind, status, {"Retry-After": "30"}, b"error")
    assert result.outcome.value == expected
    if expected == "retry":
        assert result.retry_after == 30


def test_feishu_openapi_rate_limit_header() -> None:
    result = classify("feishu", 429, {"x-ogw-ratelimit-reset": "12"}, b"")
    assert (result.outcome, result.retry_after) == (Outcome.RETRY, 12)


def test_feishu_older_status_code_field_counts() -> None:
    body = _body({"Extra": None, "StatusCode": 19021, "StatusMessage": "sign match fail"})
    assert classify("feishu", 200, {}, body).outcome is Outcome.PERMANENT


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b"ok", "ok"),
        (200, b"\xe4\xb8\xad", "permanent"),
        (400, b"invalid_blocks", "permanent"),
        (400, b"msg_blocks_too_long", "too_large"),
        (404, b"no_service", "permanent"),
        (410, b"channel_is_archived", "permanent"),
        (429, b"rate_limited", "retry"),
    ],
)
def test_slack_answers(status: int, body: bytes, expected: str) -> None:
    assert classify("slack", status, {}, body).outcome.value == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "ok"),
        (202, "ok"),
        (204, "ok"),
        (301, "permanent"),
        (400, "permanent"),
        (410, "permanent"),
        (429, "retry"),
        (502, "retry"),
        (504, "retry"),
    ],
)
def test_standard_webhook_statuses(status: int, expected: str) -> None:
    assert classify("webhook", status, {}, b"").outcome.value == expected


def test_gone_says_to_disable_the_endpoint() -> None:
    assert "disable" in (classify("webhook", 410, {}, b"").detail or "")


def test_alertmanager_empty_200_is_success() -> None:
    assert classify("alertmanager", 200, {}, b"").ok
    assert classify("alertmanager", 400, {}, b'{"code":400,"message":"bad"}').outcome is Outcome.PERMANENT


def test_retry_after_as_http_date() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert parse_retry_after({"Retry-After": "Mon, 23 Nov 2026 12:01:30 GMT"}, now=now) == 90
    assert parse_retry_after({"retry-after": "soon"}) is None


def test_unknown_kind() -> None:
    with pytest.raises(UnknownChannel):
        get_channel("telegram")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (250, "ok"),
        (354, "ok"),
        (421, "retry"),
        (451, "retry"),
        (535, "permanent"),
        (550, "permanent"),
        (552, "too_large"),
    ],
)
def test_email_is_judged_by_the_smtp_reply_code(code: int, expected: str) -> None:
    result = classify("email", code, {}, "5.7.8 认证失败".encode())
    assert result.outcome.value == expected and result.vendor_code == code
