"""The SSRF guard over a table of URL forms: each is refused (or accepted) for sources and channels
both when saved through the API and on connection, through the check collectors and channels use.

Refused forms point at the port of a live loopback server, so a guard that let one through would
be seen: the server would record the request. Host names resolve through the guard's one resolver
(`app.core.urls.resolve`), which the `fake_dns` fixture extends with names of its own.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.core import urls
from app.core.config import load_settings
from app.core.db import Database
from tests.conftest import make_key

FAKE_DNS = {
    "intranet.example": ["10.0.0.7"],
    "metadata.example": ["100.100.100.200"],
    "rebind.example": ["93.184.216.34", "127.0.0.1"],
    "sixtofour.example": ["2002:7f00:1::1"],
    "mapped.example": ["::ffff:10.0.0.1"],
    "nat64.example": ["64:ff9b::a9fe:a9fe"],
    "loop.example": ["127.0.0.1"],
    "public.example": ["93.184.216.34"],
    "public6.example": ["2606:4700::1111"],
}

# Every form that must be refused; {port} is a live loopback server's port.
REFUSED = [
    "http://127.0.0.1:{port}/feed",
    "http://127.1:{port}/feed",
    "http://127.0.0.1.:{port}/feed",  # trailing dot
    "http://2130706433:{port}/feed",  # decimal
    "http://017700000001:{port}/feed",  # octal, one number
    "http://0177.0.0.1:{port}/feed",  # octal dotted (the HTTP client refuses to parse it)
    "http://0x7f000001:{port}/feed",  # hex, one number
    "http://0x7f.0.0.1:{port}/feed",  # hex dotted
    "http://0x7f.1:{port}/feed",
    "http://0:{port}/feed",  # 0.0.0.0 reaches the local host
    "http://0.0.0.0:{port}/feed",
    "http://10.1.2.3:{port}/rss",
    "http://172.16.5.4:{port}/rss",
    "http://192.168.1.20:{port}/rss",
    "http://100.64.0.1:{port}/rss",  # shared address space
    "http://100.100.100.200:{port}/latest/meta-data/",  # Alibaba Cloud metadata
    "http://169.254.169.254:{port}/latest/meta-data/",
    "http://192.0.0.8:{port}/",
    "http://192.0.2.1:{port}/",  # documentation
    "http://198.51.100.7:{port}/",
    "http://203.0.113.9:{port}/",
    "http://198.18.0.1:{port}/",  # benchmarking
    "http://224.0.0.1:{port}/",  # multicast
    "http://239.255.255.250:{port}/",
    "http://240.0.0.1:{port}/",  # reserved
    "http://255.255.255.255:{port}/",
    "http://[::1]:{port}/feed",
    "http://[::]:{port}/feed",
    "http://[::ffff:127.0.0.1]:{port}/feed",  # IPv4-mapped
    "http://[::ffff:7f00:1]:{port}/feed",
    "http://[::ffff:169.254.169.254]:{port}/",
    "http://[::127.0.0.1]:{port}/feed",  # IPv4-compatible
    "http://[2002:7f00:1::1]:{port}/feed",  # 6to4 of 127.0.0.1
    "http://[2002:a9fe:a9fe::1]:{port}/",  # 6to4 of 169.254.169.254
    "http://[2002:6464:64c8::1]:{port}/",  # 6to4 of 100.100.100.200
    "http://[2001:0:4136:e378:8000:63bf:80ff:fefe]:{port}/",  # Teredo, client 127.0.1.1
    "http://[64:ff9b::127.0.0.1]:{port}/",  # NAT64
    "http://[64:ff9b::a9fe:a9fe]:{port}/",
    "http://[64:ff9b:1::a00:1]:{port}/",  # local-use NAT64
    "http://[fe80::1]:{port}/",  # link-local
    "http://[fc00::1]:{port}/",  # unique local
    "http://[fd12:3456::1]:{port}/",
    "http://[fec0::1]:{port}/",  # site-local (deprecated)
    "http://[ff02::1]:{port}/",  # multicast
    "http://[2001:db8::1]:{port}/",  # documentation
    "http://localhost:{port}/feed",
    "http://LOCALHOST:{port}/feed",
    "http://localhost.:{port}/feed",  # trailing dot
    "http://feeds.localhost:{port}/feed",  # RFC 6761: every *.localhost name is loopback
    "http://public.example@127.0.0.1:{port}/feed",  # userinfo that looks like the host
    "http://user:pass@[::1]:{port}/feed",
    "http://public.example:80@127.0.0.1:{port}/feed",
    "http://127。0。0。1:{port}/feed",  # ideographic full stops, normalised by the HTTP client
    "HTTP://127.0.0.1:{port}/feed",
    "http://intranet.example:{port}/feed",  # DNS names resolving to addresses that are not public
    "http://metadata.example:{port}/",
    "http://rebind.example:{port}/feed",  # one public and one loopback address
    "http://sixtofour.example:{port}/",
    "http://mapped.example:{port}/",
    "http://nat64.example:{port}/",
    "http://loop.example.:{port}/",
]

# Public forms: accepted when saved, and every address they resolve to passes the connect-time check.
PUBLIC = [
    "http://8.8.8.8/feed",
    "http://100.63.255.255/feed",  # just below the shared address space
    "http://100.128.0.1/feed",  # just above it
    "http://11.0.0.1/feed",
    "https://[2606:4700::1111]/feed",
    "http://[2002:808:808::1]/feed",  # 6to4 of a public address
    "http://[64:ff9b::808:808]/feed",  # NAT64 of a public address
    "http://[::ffff:8.8.8.8]/feed",  # IPv4-mapped public address
    "http://public.example/feed",
    "http://public6.example./feed",
    "http://user:pw@public.example/feed",
    "http://127.0.0.1@public.example/feed",  # userinfo that looks private, host public
    "https://public.example:8443/hook?token=x",
]


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names of FAKE_DNS resolve to their addresses; everything else through the real resolver."""
    real = urls.resolve

    def resolve(host: str) -> list[urls.IPAddress]:
        known = FAKE_DNS.get(host.rstrip(".").lower())
        return [ipaddress.ip_address(a) for a in known] if known else real(host)

    monkeypatch.setattr(urls, "resolve", resolve)


@pytest.fixture
def api(
    tmp_path: Path, sqlite_template: Path, analyzer, fake_dns
) -> Iterator[tuple[TestClient, dict[str, str]]]:  # type: ignore[no-untyped-def]
    """The app over a fresh SQLite copy, with no allow-list."""
    from app.runtime.application import create_app
    from app.runtime.container import Services

    path = tmp_path / "forms.db"
    shutil.copyfile(sqlite_template, path)
    config = load_settings(database_url=f"sqlite:///{path}", scheduler_enabled=False, url_allowlist=[])
    db = Database(config.database_url)
    with TestClient(create_app(config, services=Services.create(config, db=db, analyzer=analyzer))) as client:
        yield client, {"Authorization": f"Bearer {make_key(db, 'forms-admin', 'admin')}"}
    db.dispose()


def _save(client: TestClient, headers: dict[str, str], index: int, url: str) -> tuple[int, int]:
    """Save `url` as a source and as a channel; the two status codes and error codes."""
    source = client.post(
        "/api/v1/sources", json={"name": f"s{index}", "kind": "rss", "url": url}, headers=headers
    )
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    channel = client.post(
        "/api/v1/channels",
        json={"name": f"c{index}", "kind": "webhook", "url": url, "secret": secret},
        headers=headers,
    )
    for response in (source, channel):
        if response.status_code != 201:
            assert response.json()["error"]["code"] == "unsafe_url", (url, response.text)
    return source.status_code, channel.status_code


def test_the_table_has_enough_forms() -> None:
    assert len(REFUSED) + len(PUBLIC) >= 40 and len(set(REFUSED)) == len(REFUSED)


def test_every_form_is_refused_or_accepted_when_saved(api) -> None:  # type: ignore[no-untyped-def]
    client, headers = api
    wrong: list[str] = []
    for index, template in enumerate(REFUSED):
        url = template.format(port=8080)
        if _save(client, headers, index, url) != (422, 422):
            wrong.append(f"accepted: {url}")
    for index, url in enumerate(PUBLIC, start=len(REFUSED)):
        if _save(client, headers, index, url) != (201, 201):
            wrong.append(f"refused: {url}")
    assert not wrong, "\n".join(wrong)


def test_every_refused_form_is_refused_at_connect_time(loopback_server, fake_dns) -> None:  # type: ignore[no-untyped-def]
    from app.channels.base import ChannelRequest, Outcome
    from app.channels.delivery import send
    from app.runtime.container import make_fetcher
    from collectors.errors import BlockedAddressError

    port = int(loopback_server.base_url.rsplit(":", 1)[1])
    loopback_server.serve("/feed", b"<rss/>", content_type="application/xml")
    settings = load_settings(
        url_allowlist=[], collect_host_interval_seconds=0, base_url="http://127.0.0.1:8000"
    )
    wrong: list[str] = []

    async def run() -> None:
        async with make_fetcher(settings) as fetcher, urls.outgoing_client(settings) as client:
            for template in REFUSED:
                url = template.format(port=port)
                try:
                    await fetcher.get(url)
                    wrong.append(f"collector fetched {url}")
                except BlockedAddressError as exc:
                    if "YUQING_URL_ALLOWLIST" not in str(exc):
                        wrong.append(f"collector: no hint for {url}: {exc}")
                except httpx.InvalidURL:
                    pass  # the client cannot even parse it: nothing is connected to
                except Exception as exc:  # noqa: BLE001 - any other outcome means the guard let it through
                    wrong.append(f"collector: {url} failed past the guard: {type(exc).__name__}: {exc}")
                request = ChannelRequest(kind="webhook", method="POST", url=url, json={})
                result = await send(request, client, timeout=5)
                if result.outcome is not Outcome.PERMANENT:
                    wrong.append(f"channel: {url} gave {result.outcome}: {result.detail}")

    asyncio.run(run())
    assert not wrong, "\n".join(wrong)
    assert loopback_server.requests == []


def test_public_forms_pass_the_connect_time_check(fake_dns) -> None:  # type: ignore[no-untyped-def]
    check = urls.address_check([], "http://127.0.0.1:8000")
    for url in PUBLIC:
        parsed = httpx.URL(url)
        addresses = asyncio.run(urls.resolve_for_connect(parsed.host))
        assert addresses, url
        for address in addresses:
            assert check(parsed.host, address, parsed.port or 80) is None, (url, address)


def test_allow_listed_names_and_networks_and_the_own_address_stay_reachable(
    loopback_server, fake_dns
) -> None:  # type: ignore[no-untyped-def]
    from app.runtime.container import make_fetcher
    from collectors.errors import BlockedAddressError

    port = int(loopback_server.base_url.rsplit(":", 1)[1])
    loopback_server.serve("/feed", b"<rss/>", content_type="application/xml")

    async def fetch(url: str, **overrides: Any) -> int:
        settings = load_settings(**{"collect_host_interval_seconds": 0, "url_allowlist": [], **overrides})
        async with make_fetcher(settings) as fetcher:
            return (await fetcher.get(url)).status

    network = asyncio.run(fetch(f"http://[::ffff:127.0.0.1]:{port}/feed", url_allowlist=["127.0.0.0/8"]))
    named = asyncio.run(fetch(f"http://loop.example.:{port}/feed", url_allowlist=["loop.example"]))
    own = asyncio.run(fetch(f"http://127.0.0.1:{port}/feed", base_url=f"http://127.0.0.1:{port}"))
    assert (network, named, own) == (200, 200, 200)
    with pytest.raises(BlockedAddressError):  # the own address is one port, not the whole host
        asyncio.run(fetch(f"http://127.0.0.1:{port}/feed", base_url="http://127.0.0.1:1"))
    assert urls.check_url("http://[::ffff:10.0.0.1]/", ["10.0.0.0/8"]) == "http://[::ffff:10.0.0.1]/"
    assert urls.check_url("http://intranet.example./", ["intranet.example"]) == "http://intranet.example./"
