"""Signed generic webhook: Standard Webhooks headers verified by a loopback receiver."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from app.channels import Notice, Outcome, get_channel
from app.channels.webhook import WebhookConfig
from tests.app.channels.conftest import NOW, deliver, huge_digest, huge_notice, make_notice
from tests.support.receivers import VendorServer, standard_webhook_expected

WEBHOOK = get_channel("webhook")
SECRET = "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="


def _config(vendor: VendorServer | None = None, **options: object) -> WebhookConfig:
    base = vendor.base if vendor else "https://hooks.example.com"
    return WEBHOOK.parse_config({"url": f"{base}/hooks/standard", "secret": SECRET, **options})


def test_body_is_the_notice_with_a_version() -> None:
    notice = make_notice()
    request = WEBHOOK.render(notice, _config(), now=NOW)[0]
    payload = json.loads(request.body_bytes())
    assert payload["version"] == 1
    assert Notice.from_dict(payload) == notice


def test_headers_follow_standard_webhooks() -> None:
    request = WEBHOOK.render(make_notice(), _config(github_signature=True), now=NOW)[0]
    headers = request.headers
    assert headers["webhook-id"] == "5f0c8a2e-4a57-4b7e-9d7a-2f3b1c0d9e11"
    assert headers["webhook-timestamp"] == "1795435200"
    expected = standard_webhook_expected(SECRET, headers["webhook-id"], "1795435200", request.body_bytes())
    assert headers["webhook-signature"] == expected
    assert headers["X-Hub-Signature-256"].startswith("sha256=")


def test_secret_is_required_and_checked() -> None:
    with pytest.raises(ValidationError):
        WEBHOOK.parse_config({"url": "https://hooks.example.com/x"})
    with pytest.raises(ValidationError):
        WEBHOOK.parse_config({"url": "https://hooks.example.com/x", "secret": "plain-secret"})


def test_receiver_verifies_and_accepts(vendor: VendorServer) -> None:
    requests = WEBHOOK.render(make_notice(), _config(vendor, github_signature=True), now=datetime.now(UTC))
    assert [result.outcome for result in deliver(requests)] == [Outcome.OK]
    assert vendor.state.seen_webhook_ids == ["5f0c8a2e-4a57-4b7e-9d7a-2f3b1c0d9e11"]


def test_receiver_rejects_wrong_secret_and_replays(vendor: VendorServer) -> None:
    other = "whsec_" + "B" * 44
    wrong = WEBHOOK.render(
        make_notice(),
        WEBHOOK.parse_config({"url": f"{vendor.base}/hooks/standard", "secret": other}),
        now=datetime.now(UTC),
    )
    stale = WEBHOOK.render(make_notice(), _config(vendor), now=datetime.now(UTC) - timedelta(minutes=10))
    results = deliver(wrong + stale)
    assert [(r.outcome, r.http_status) for r in results] == [
        (Outcome.PERMANENT, 401),
        (Outcome.PERMANENT, 400),
    ]


@pytest.mark.parametrize(
    ("status", "headers", "outcome", "retry_after"),
    [
        (410, {}, Outcome.PERMANENT, None),
        (429, {"Retry-After": "120"}, Outcome.RETRY, 120),
        (502, {}, Outcome.RETRY, None),
        (504, {"retry-after": "5"}, Outcome.RETRY, 5),
    ],
)
def test_receiver_status_codes(
    vendor: VendorServer, status: int, headers: dict[str, str], outcome: Outcome, retry_after: float | None
) -> None:
    vendor.state.webhook_status, vendor.state.webhook_headers = status, headers
    result = deliver(WEBHOOK.render(make_notice(), _config(vendor), now=datetime.now(UTC)))[0]
    assert (result.outcome, result.retry_after, result.http_status) == (outcome, retry_after, status)


def test_huge_notice_drops_trailing_posts_to_fit(vendor: VendorServer) -> None:
    requests = WEBHOOK.render(huge_notice(), _config(vendor, max_body_bytes=64 * 1024), now=datetime.now(UTC))
    assert len(requests) == 1 and len(requests[0].body_bytes()) <= 64 * 1024
    payload = requests[0].json
    assert payload["truncated"] is True and 0 < len(payload["top_posts"]) < 1000
    assert deliver(requests)[0].ok


def test_huge_digest_is_split_with_suffixed_ids(vendor: VendorServer) -> None:
    digest = huge_digest(300)
    requests = WEBHOOK.render(digest, _config(vendor, max_body_bytes=64 * 1024), now=datetime.now(UTC))
    assert len(requests) > 1 and all(len(request.body_bytes()) <= 64 * 1024 for request in requests)
    ids = [request.headers["webhook-id"] for request in requests]
    assert ids == [f"digest-1-{index}" for index in range(1, len(requests) + 1)]
    parts = [request.json["part"] for request in requests]
    assert parts[0] == {"index": 1, "count": len(requests)}
    assert sum(len(request.json["items"]) for request in requests) == 300
    assert all(result.ok for result in deliver(requests))
    assert vendor.state.seen_webhook_ids == ids
