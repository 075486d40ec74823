"""Masked channel URLs: only the credentials are hidden (scheme, host, IPv6 brackets, port and path
stay), and a channel read, edited and sent back keeps its stored credentials and still delivers."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest

from app.core.masking import mask_url, redact, restore_masked_url, restore_redacted
from tests.support.delivery import Receiver

KINDS = ("wecom", "dingtalk", "feishu", "slack", "webhook", "alertmanager")


@pytest.fixture
def analyzer():  # type: ignore[no-untyped-def]
    """Channel tests never analyse posts: skip loading the sentiment model and jieba."""
    from app.posts.analyzer import PostAnalyzer

    return PostAnalyzer(model=object(), tokenizer=object())  # type: ignore[arg-type]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """The loopback vendor emulators (on an ephemeral, non-default port), with tokens long enough
    to be masked."""
    server = Receiver()
    server.state.wecom_key = "693a91f6-7aaa-4bc4-97a0-0ec2b1fa5aaa"
    server.state.dingtalk_token = "0123456789abcdef0123456789abcdef"
    server.state.feishu_token = "2c3b1f0e-9b2a-4c1d-8e7f-0a1b2c3d4e5f"
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "https://[2001:db8::1]:8443/cgi-bin/webhook/send?key=693a91f6-7aaa-4bc4",
            "https://[2001:db8::1]:8443/cgi-bin/webhook/send?key=693a***",
        ),
        (
            "http://127.0.0.1:18080/robot/send?access_token=0123456789abcdef&x=ab",
            "http://127.0.0.1:18080/robot/send?access_token=0123***&x=***",
        ),
        (
            "https://user:pw@am.example.org:9093/am",
            "https://user:***@am.example.org:9093/am",
        ),
        (
            "https://open.feishu.cn:443/open-apis/bot/v2/hook/2c3b1f0e-9b2a-4c1d-8e7f-0a1b2c3d4e5f",
            "https://open.feishu.cn:443/open-apis/bot/v2/hook/2c3b***",
        ),
        ("https://hooks.example.org/a%20b?q=%E8%88%86%E6%83%85", "https://hooks.example.org/a%20b?q=%E8%***"),
    ],
)
def test_mask_hides_credentials_only_and_round_trips(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert restore_masked_url(masked, url) == url


def test_a_mask_that_is_not_the_stored_one_is_refused() -> None:
    stored = "https://hooks.example.org/send?key=693a91f6-7aaa-4bc4"
    with pytest.raises(ValueError, match="query parameter 'key=abcd\\*\\*\\*' is masked"):
        restore_masked_url("https://hooks.example.org/send?key=abcd***", stored)
    with pytest.raises(ValueError, match="is masked and does not match"):
        restore_masked_url("https://hooks.example.org/send?key=693a***", None)
    moved = restore_masked_url("https://other.example.org:8443/send?key=693a***", stored)
    assert moved == "https://other.example.org:8443/send?key=693a91f6-7aaa-4bc4"  # a new host keeps the key


@pytest.mark.parametrize("kind", KINDS)
def test_get_patch_test_round_trip_for_every_kind(
    kind: str, client, receiver, write_headers, read_headers
) -> None:  # type: ignore[no-untyped-def]
    spec = receiver.channel_spec(kind)
    created = client.post(
        "/api/v1/channels", headers=write_headers, json={"name": kind, "kind": kind, **spec}
    )
    assert created.status_code == 201, created.text
    channel_id = created.json()["id"]
    shown = client.get(f"/api/v1/channels/{channel_id}", headers=read_headers).json()
    assert shown["url"].startswith(receiver.base + "/")  # host and port as stored
    for credential in ("693a91f6-7aaa-4bc4-97a0-0ec2b1fa5aaa", "0123456789abcdef0123456789abcdef"):
        assert credential not in shown["url"]
    back = {key: shown[key] for key in ("url", "mention", "options", "min_grade", "topics", "enabled")}
    back["name"] = f"{kind} (edited)"
    if shown["has_secret"]:
        back["secret"] = "***"  # as a form that only knows "a secret is set" sends it back
    patched = client.patch(f"/api/v1/channels/{channel_id}", headers=write_headers, json=back)
    assert patched.status_code == 200, patched.text
    assert patched.json()["url"] == shown["url"]
    answer = client.post(f"/api/v1/channels/{channel_id}/test", headers=write_headers).json()
    assert answer["ok"] is True, answer
    (request,) = receiver.accepted(kind)
    stored_path, _, stored_query = spec["url"].removeprefix(receiver.base).partition("?")
    assert request.path.startswith(stored_path)  # Alertmanager appends /api/v2/alerts
    for name, values in parse_qs(stored_query).items():  # DingTalk adds its timestamp and sign
        assert request.query[name] == values
    assert "***" not in request.path and all("***" not in v for vs in request.query.values() for v in vs)


def test_a_masked_secret_with_nothing_stored_is_refused(client, receiver, write_headers) -> None:  # type: ignore[no-untyped-def]
    created = client.post(
        "/api/v1/channels",
        headers=write_headers,
        json={"name": "企业微信", "kind": "wecom", "url": receiver.channel_spec("wecom")["url"]},
    ).json()
    answer = client.patch(f"/api/v1/channels/{created['id']}", headers=write_headers, json={"secret": "***"})
    assert answer.status_code == 400 and "masked" in answer.json()["error"]["message"]
    wrong = client.patch(
        f"/api/v1/channels/{created['id']}",
        headers=write_headers,
        json={"url": f"{receiver.base}/cgi-bin/webhook/send?key=abcd***"},
    )
    assert wrong.status_code == 400 and "does not match the stored URL" in wrong.json()["error"]["message"]


def test_credential_headers_and_params_are_redacted_and_restored() -> None:
    stored = {
        "headers": {"X-API-Key": "k-123", "Authorization": "Bearer t", "Accept-Language": "zh-CN"},
        "params": {"access_key": "ak", "page_size": 50},
        "fields": {"author": "user.name", "text": "content"},
    }
    shown = redact(stored)
    assert shown == {
        "headers": {"X-API-Key": "***", "Authorization": "***", "Accept-Language": "zh-CN"},
        "params": {"access_key": "***", "page_size": 50},
        "fields": {"author": "user.name", "text": "content"},
    }
    assert restore_redacted(shown, stored) == stored
