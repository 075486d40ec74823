"""Guard against server-side request forgery: user-given URLs may not reach private networks."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import httpx

from app.core.config import Settings
from app.core.errors import UnsafeURL
from collectors.http import guarded_transport

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _is_private(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return bool(
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def _allowed(host: str, addresses: Sequence[IPAddress], allowlist: Sequence[str]) -> bool:
    for entry in allowlist:
        if "/" in entry or _looks_like_ip(entry):
            network = ipaddress.ip_network(entry, strict=False)
            if addresses and all(addr in network for addr in addresses):
                return True
        elif host.lower() == entry.lower() or host.lower().endswith("." + entry.lower()):
            return True
    return False


def _looks_like_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def resolve(host: str) -> list[IPAddress]:
    """Every address a host name resolves to (an IP literal resolves to itself)."""
    if _looks_like_ip(host.strip("[]")):
        return [ipaddress.ip_address(host.strip("[]"))]
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise UnsafeURL(f"cannot resolve host {host!r}: {exc.strerror}") from None
    return list({ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos})


def check_url(url: str, allowlist: Sequence[str] = ()) -> str:
    """Return the URL when it is http(s) and reaches only public addresses (or allow-listed ones).

    Raises:
        UnsafeURL: wrong scheme, no host, unresolvable, or a private/loopback/link-local target.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL(f"URL must start with http:// or https://, got {url!r}")
    host = parts.hostname
    if not host:
        raise UnsafeURL(f"URL has no host: {url!r}")
    if _allowed(host, [], [e for e in allowlist if "/" not in e and not _looks_like_ip(e)]):
        return url
    addresses = resolve(host)
    if _allowed(host, addresses, allowlist):
        return url
    private = [str(addr) for addr in addresses if _is_private(addr)]
    if private:
        raise UnsafeURL(
            f"URL host {host!r} resolves to a private, loopback or link-local address "
            f"({', '.join(private)}); "
            "add it to YUQING_URL_ALLOWLIST if this is intended",
            details={"host": host, "addresses": private},
        )
    return url


def address_check(
    allowlist: Sequence[str] = (), own_url: str | None = None
) -> Callable[[str, str, int], str | None]:
    """The connect-time check for outgoing requests (collectors and channels).

    `check_url` validates a URL when it is saved; this runs on every connection, redirects
    included, so a redirect to a private address or a host whose DNS answer changed since
    (rebinding) is refused unless the host or the network is allow-listed. The service's own
    address (`own_url`, its base URL, e.g. the demo's webhook sink) is always allowed.
    """
    own = urlsplit(own_url) if own_url else None
    own_host = (own.hostname or "").lower() if own else ""
    own_port = (own.port or (443 if own.scheme == "https" else 80)) if own else 0

    def check(host: str, address: str, port: int) -> str | None:
        ip = ipaddress.ip_address(address)
        if not _is_private(ip) or _allowed(host, [ip], allowlist):
            return None
        if own_host and host.lower() == own_host and port == own_port:
            return None
        where = f"{host} is" if host == address else f"{host} resolves to"
        return (
            f"{where} the private, loopback or link-local address {ip}; "
            "add it to YUQING_URL_ALLOWLIST if this is intended"
        )

    return check


def outgoing_client(settings: Settings) -> httpx.AsyncClient:
    """An HTTP client for channel deliveries whose connections pass `address_check`."""
    return httpx.AsyncClient(
        headers={"User-Agent": "Yuqing/1"},
        transport=guarded_transport(address_check(settings.url_allowlist, settings.base_url)),
    )
