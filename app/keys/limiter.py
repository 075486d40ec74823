"""The limit on failed authentications: a token bucket of failures per client, in memory per process.

Every request that presents a key which turns out unknown or revoked spends one token of its
client's bucket (`burst` tokens, refilled at `per_minute`); a client whose bucket is empty gets 429
with Retry-After *before* any database lookup, unless the key it presents is one this process knows
to be valid. So guessing keys costs the database at most `burst` lookups, then one per refill, per
client, while a valid key always gets through:

- keys that authenticated in this process are remembered (their hashes, not the keys);
- a key not remembered, from a limited client, is looked up in a snapshot of the hashes of every
  unrevoked key, reloaded at most every `refresh_seconds` (one query, whatever the attack rate), so a
  key created moments ago by another process is admitted at the latest after that interval.

The database lookup that follows stays the authority (a revoked key fails there and is forgotten).
A client is its address as the server sees it (behind a reverse proxy on this machine, uvicorn takes
it from X-Forwarded-For); IPv6 clients count per /64, the block one subscriber usually holds. State
is per process: with N API processes a client may fail N × `burst` times before every one limits it.
At most `max_clients` buckets are kept; the least recently failed are dropped first.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


def client_of(address: str | None) -> str:
    """The client a request counts against: its IPv4 address, or its IPv6 /64."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class FailedAuthLimiter:
    """Token buckets of failed authentications per client, and the key hashes known to be valid."""

    def __init__(
        self,
        *,
        burst: int,
        per_minute: float,
        refresh_seconds: float = 10.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.rate = per_minute / 60.0
        self.refresh_seconds = refresh_seconds
        self.max_clients = max_clients
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._valid: set[str] = set()
        self._loaded_at: float | None = None

    def _refilled(self, client: str, now: float) -> _Bucket | None:
        bucket = self._buckets.get(client)
        if bucket is not None:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= self.burst:
                del self._buckets[client]  # full again: nothing to remember
                return None
        return bucket

    def retry_after(self, client: str) -> int | None:
        """Whole seconds until `client` may fail again, or None when it may fail now."""
        with self._lock:
            bucket = self._refilled(client, self._clock())
            if bucket is None or bucket.tokens >= 1:
                return None
            return max(1, math.ceil((1 - bucket.tokens) / self.rate))

    def failed(self, client: str) -> None:
        """Spend one token of `client`'s bucket for a failed authentication."""
        with self._lock:
            now = self._clock()
            bucket = self._refilled(client, now) or _Bucket(float(self.burst), now)
            bucket.tokens = max(0.0, bucket.tokens - 1)
            self._buckets[client] = bucket
            self._buckets.move_to_end(client)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)

    def remember(self, key_hash: str) -> None:
        """A key that just authenticated: it passes a limited client's check from now on."""
        with self._lock:
            self._valid.add(key_hash)

    def forget(self, key_hash: str) -> None:
        """A key that failed (e.g. revoked since): it no longer passes the check."""
        with self._lock:
            self._valid.discard(key_hash)

    def may_be_valid(self, key_hash: str, load: Callable[[], Iterable[str]]) -> bool:
        """True when `key_hash` is a known valid key, reloading the valid hashes with `load` when the
        snapshot is older than `refresh_seconds` (at most one load per interval, across threads)."""
        with self._lock:
            if key_hash in self._valid:
                return True
            now = self._clock()
            if self._loaded_at is not None and now - self._loaded_at < self.refresh_seconds:
                return False
            self._loaded_at = now  # other threads keep the old snapshot meanwhile
        hashes = set(load())
        with self._lock:
            self._valid = hashes
        return key_hash in hashes
