"""Known-answer tests for DingTalk 加签, Feishu signing, Standard Webhooks and GitHub signatures.

Each vector is checked three ways: our stored expected value, an HMAC computed here independently,
and (for the published vectors) the copy in ../shared, which is skipped when absent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from app.channels import dingtalk, feishu, webhook
from tests.support.shared import shared_path

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "fixtures" / "channels" / "signature_vectors.json").read_text(
        "utf-8"
    )
)


def _b64_hmac(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


@pytest.mark.parametrize("name", ["dingtalk", "own_dingtalk"])
def test_dingtalk_sign_known_answer(name: str) -> None:
    vector = VECTORS[name]
    secret, timestamp = vector["secret"], vector["timestamp_ms"]
    independent = _b64_hmac(secret.encode(), f"{timestamp}\n{secret}".encode())
    assert dingtalk.sign(secret, timestamp) == independent == vector["expected_base64"]


def test_dingtalk_signed_url_encodes_the_sign_exactly_once() -> None:
    vector = VECTORS["dingtalk"]
    now = datetime.fromtimestamp(vector["timestamp_ms"] / 1000, UTC)
    url = dingtalk.signed_url("https://oapi.dingtalk.com/robot/send?access_token=abc", vector["secret"], now)
    assert url == (
        "https://oapi.dingtalk.com/robot/send?access_token=abc"
        f"&timestamp=1599360473000&sign={vector['expected_url_encoded']}"
    )
    assert parse_qs(urlsplit(url).query)["sign"] == [vector["expected_base64"]]


def test_dingtalk_without_secret_leaves_the_url_alone() -> None:
    assert dingtalk.signed_url(
        "https://x.example/robot/send?access_token=a", None, datetime.now(UTC)
    ).endswith("=a")


@pytest.mark.parametrize("name", ["feishu", "own_feishu"])
def test_feishu_sign_known_answer(name: str) -> None:
    vector = VECTORS[name]
    secret, timestamp = vector["secret"], vector["timestamp"]
    independent = _b64_hmac(f"{timestamp}\n{secret}".encode(), b"")
    assert feishu.sign(secret, timestamp) == independent == vector["expected"]


def test_feishu_is_not_the_dingtalk_construction() -> None:
    vector = VECTORS["feishu"]
    assert feishu.sign(vector["secret"], vector["timestamp"]) != vector["dingtalk_style_wrong_value"]
    wrong = _b64_hmac(vector["secret"].encode(), f"{vector['timestamp']}\n{vector['secret']}".encode())
    assert wrong == vector["dingtalk_style_wrong_value"]


def test_standard_webhooks_own_vector() -> None:
    vector = VECTORS["own_standard_webhooks"]
    body = vector["payload"].encode()
    key = base64.b64decode(vector["secret"].removeprefix("whsec_"))
    signed = f"{vector['webhook_id']}.{vector['webhook_timestamp']}.".encode() + body
    independent = "v1," + _b64_hmac(key, signed)
    ours = webhook.sign(vector["secret"], vector["webhook_id"], vector["webhook_timestamp"], body)
    assert ours == independent == vector["expected_webhook_signature"]
    github = "sha256=" + hmac.new(vector["secret"].encode(), body, hashlib.sha256).hexdigest()
    assert (
        webhook.github_signature(vector["secret"], body) == github == vector["expected_github_signature_256"]
    )


@pytest.mark.shared
def test_standard_webhooks_published_vector() -> None:
    vectors = json.loads(
        shared_path("fixtures", "webhooks", "signature_test_vectors.json").read_text("utf-8")
    )
    vector = vectors["standard_webhooks_v1"]
    signature = webhook.sign(
        vector["secret"], vector["webhook_id"], vector["webhook_timestamp"], vector["payload"].encode()
    )
    assert signature == vector["expected_webhook_signature"]


@pytest.mark.shared
def test_github_published_vector() -> None:
    vectors = json.loads(
        shared_path("fixtures", "webhooks", "signature_test_vectors.json").read_text("utf-8")
    )
    vector = vectors["github_x_hub_signature_256"]
    assert webhook.github_signature(vector["secret"], vector["payload"].encode()) == vector["expected_header"]


@pytest.mark.parametrize("secret", ["not-whsec", "whsec_***", "whsec_" + base64.b64encode(b"short").decode()])
def test_webhook_secret_must_be_a_standard_webhooks_secret(secret: str) -> None:
    with pytest.raises(ValueError):
        webhook.secret_key(secret)
