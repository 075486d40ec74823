"""Guard against server-side request forgery: user-given URLs reach only public addresses.

One policy (`is_public`) decides both when a URL is saved (`check_url`) and on every connection
collectors and channels make (`address_check`, run by collectors.http's guarded transport after
resolving the host with `resolve`). An address is public when it is globally routable unicast:
IPv4 outside the special-purpose ranges below, IPv6 inside 2000::/3 outside its special-purpose
ranges. IPv6 forms that carry an IPv4 address (IPv4-mapped, NAT64 64:ff9b::/96, 6to4 2002::/16)
are judged by the IPv4 address they carry; Teredo (2001::/32) and the deprecated IPv4-compatible
form (::a.b.c.d) are never public. Host names and networks in YUQING_URL_ALLOWLIST are exempt, and
so is the service's own address (its base URL) at connect time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Sequence

import httpx

from app.core.config import Settings
from app.core.errors import UnsafeURL
from collectors.http import guarded_transport

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IANA special-purpose IPv4 ranges that are not globally reachable, plus multicast and reserved space.
# Written out rather than taken from `ipaddress.is_global`, whose lists differ between Python versions
# and which calls 100.64.0.0/10's neighbours, multicast and IPv6 transition forms global.
NOT_PUBLIC_V4 = tuple(
    ipaddress.IPv4Network(network)
    for network in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 connects to the local host
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # shared address space, carrier-grade NAT (100.100.100.200: Alibaba Cloud metadata)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local (169.254.169.254 is a cloud metadata service)
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation (TEST-NET-1)
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation (TEST-NET-2)
        "203.0.113.0/24",  # documentation (TEST-NET-3)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and 255.255.255.255 broadcast
    )
)
GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
NOT_PUBLIC_V6 = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "2001::/23",  # IETF protocol assignments: Teredo 2001::/32, benchmarking, ORCHID
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
    )
)
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
LOOPBACK = (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))


def embedded_ipv4(address: IPAddress) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address carries, with the form's name (None when it carries none)."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address in NAT64:
        return "NAT64", ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    if address.teredo is not None:
        return "Teredo", address.teredo[1]
    if int(address) >> 32 == 0 and int(address) > 1:
        return "IPv4-compatible", ipaddress.IPv4Address(int(address))
    return None


def is_public(address: IPAddress) -> bool:
    """True when `address` is globally routable unicast (IPv6 transition forms judged by their IPv4)."""
    if isinstance(address, ipaddress.IPv4Address):
        return not any(address in network for network in NOT_PUBLIC_V4)
    carried = embedded_ipv4(address)
    if carried is not None and carried[0] in ("IPv4-mapped", "NAT64", "6to4"):
        return is_public(carried[1])
    # Teredo and IPv4-compatible addresses fall outside 2000::/3 or inside 2001::/23: never public.
    return address in GLOBAL_UNICAST_V6 and not any(address in network for network in NOT_PUBLIC_V6)


def describe(address: IPAddress) -> str:
    """An address as error messages show it, naming the IPv4 address an IPv6 form carries."""
    carried = embedded_ipv4(address)
    return f"{address} ({carried[0]} for {carried[1]})" if carried else str(address)


def _bare(host: str) -> str:
    """A host as compared with allow-list entries: lower case, without IPv6 brackets or a trailing dot."""
    return host.strip("[]").rstrip(".").lower()


def _allowed(host: str, addresses: Sequence[IPAddress], allowlist: Sequence[str]) -> bool:
    name = _bare(host)
    for entry in allowlist:
        if "/" in entry or _looks_like_ip(entry):
            network = ipaddress.ip_network(entry, strict=False)
            if addresses and all(_in_network(addr, network) for addr in addresses):
                return True
        else:
            wanted = _bare(entry)
            if name == wanted or name.endswith("." + wanted):
                return True
    return False


def _in_network(address: IPAddress, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    carried = embedded_ipv4(address)
    return address in network or (carried is not None and carried[1] in network)


def _looks_like_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _ip_literal(host: str) -> IPAddress | None:
    """The address a host names without DNS: IPv6 and IPv4 literals, including the numeric forms
    (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`) that C resolvers accept as IPv4."""
    bare = host.strip("[]").split("%")[0].rstrip(".")
    if _looks_like_ip(bare):
        return ipaddress.ip_address(bare)
    if bare and all(c in "0123456789abcdefxABCDEFX." for c in bare) and bare[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def resolve(host: str) -> list[IPAddress]:
    """Every address a host name resolves to (an IP literal, in any numeric form, to itself;
    `localhost`, `localhost.` and `*.localhost` to the loopback addresses).

    The one resolver of the guard, used when a URL is saved and on every connection; tests replace
    it to make names resolve where they choose.

    Raises:
        OSError: the name does not resolve.
    """
    literal = _ip_literal(host)
    if literal is not None:
        return [literal]
    if _bare(host) == "localhost" or _bare(host).endswith(".localhost"):
        return list(LOOPBACK)  # RFC 6761: localhost names are loopback whatever DNS says
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return list({ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos})


async def resolve_for_connect(host: str) -> list[str]:
    """`resolve` for the guarded transport: addresses as strings, off the event loop."""
    return [str(address) for address in await asyncio.to_thread(resolve, host)]


def _host_of(url: str) -> str:
    """The host the HTTP client will connect to, parsed as the client parses it."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise UnsafeURL(f"not a valid URL: {url!r} ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        raise UnsafeURL(f"URL must start with http:// or https://, got {url!r}")
    if not parsed.host:
        raise UnsafeURL(f"URL has no host: {url!r}")
    return parsed.host


def check_url(url: str, allowlist: Sequence[str] = ()) -> str:
    """Return the URL when it is http(s) and reaches only public addresses (or allow-listed ones).

    Raises:
        UnsafeURL: wrong scheme, no host, unresolvable, or a target that is not a public address.
    """
    host = _host_of(url)
    if _allowed(host, [], [e for e in allowlist if "/" not in e and not _looks_like_ip(e)]):
        return url
    try:
        addresses = resolve(host)
    except OSError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UnsafeURL(f"cannot resolve host {host!r}: {reason}") from None
    if _allowed(host, addresses, allowlist):
        return url
    refused = [describe(addr) for addr in addresses if not is_public(addr)]
    if refused:
        raise UnsafeURL(
            f"URL host {host!r} resolves to an address that is not public "
            f"({', '.join(refused)}): private, loopback, link-local, shared, multicast, reserved "
            "or documentation space; add it to YUQING_URL_ALLOWLIST if this is intended",
            details={"host": host, "addresses": refused},
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
    own = httpx.URL(own_url) if own_url else None
    own_host = _bare(own.host) if own else ""
    own_port = (own.port or (443 if own.scheme == "https" else 80)) if own else 0

    def check(host: str, address: str, port: int) -> str | None:
        ip = ipaddress.ip_address(address)
        if is_public(ip) or _allowed(host, [ip], allowlist):
            return None
        if own_host and _bare(host) == own_host and port == own_port:
            return None
        where = "" if _ip_literal(host) == ip else f"{host} resolves to "
        return (
            f"{where}{describe(ip)}, which is not a public address; "
            "add it to YUQING_URL_ALLOWLIST if this is intended"
        )

    return check


def outgoing_client(settings: Settings) -> httpx.AsyncClient:
    """An HTTP client for channel deliveries whose connections pass `address_check`."""
    return httpx.AsyncClient(
        headers={"User-Agent": "Yuqing/1"},
        transport=guarded_transport(
            address_check(settings.url_allowlist, settings.base_url), resolve=resolve_for_connect
        ),
    )
