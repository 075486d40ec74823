"""Guard against server-side request forgery: user-given URLs may not reach private networks."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from app.core.errors import UnsafeURL

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
    return list({ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos})


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
