"""Rate limits per client address (anonymous routes such as the playback beacon), with the ``limits`` package.

Unlike the per-user limits of :mod:`livecast.domain.ratelimit` (a moving window: exact ``retry_after``, one
stored timestamp per counted action), an address limit is a **fixed window**: one counter per address and
window, so an attacker spreading requests over many addresses costs a few hundred bytes per address, never
one entry per request. ``retry_after`` is exact (the end of the window); a client may burst up to twice the
limit across a window boundary. IPv6 clients are counted per ``/64`` (one subscriber's allocation: cycling
through its addresses does not multiply the limit); IPv4 per address. Storage: ``memory://`` or ``redis://``
(shared by every API process), as for the per-user limits.
"""

from __future__ import annotations

import ipaddress
import math
import time

from limits import RateLimitItem, parse
from limits.aio.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError

from livecast.domain.errors import RateLimited
from livecast.domain.ratelimit import limit_storage

IPV6_PREFIX = 64
"""IPv6 addresses are counted per network of this prefix length."""


class LimitUnavailable(Exception):
    """The limit's storage (Redis) cannot be reached; the request was not counted."""


def client_key(address: str | None) -> str:
    """What one client is counted as: the IPv4 address, the IPv6 ``/64`` network (an IPv4-mapped IPv6
    address counts as its IPv4 address), or the text as given when it is not an IP address (e.g. a Unix
    socket peer); ``"unknown"`` when there is none."""
    if not address:
        return "unknown"
    if ":" not in address:  # IPv4 (the server gives a literal) or a name: as is, without parsing
        return address[:64]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


class AddressLimit:
    """``await limit.hit(address)`` counts one request of ``address`` against ``limit`` (``limits`` notation,
    e.g. ``"600/minute"``) under ``namespace``; past it, ``RateLimited`` with ``retry_after`` in seconds.
    ``LimitUnavailable`` when the Redis storage fails."""

    def __init__(self, url: str = "memory://", *, limit: str = "600/minute", namespace: str = "address") -> None:
        storage, self._pool = limit_storage(url)
        self._limiter = FixedWindowRateLimiter(storage)
        self.item: RateLimitItem = parse(limit)
        self.namespace = namespace

    async def hit(self, address: str | None) -> None:
        key = client_key(address)
        try:
            if await self._limiter.hit(self.item, self.namespace, key):
                return
            stats = await self._limiter.get_window_stats(self.item, self.namespace, key)
        except (RedisError, OSError) as e:
            raise LimitUnavailable(f"rate limit storage: {e}") from e
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"too many requests from this address: at most {self.item}; try again in {retry_after} s",
            retry_after=retry_after,
        )

    async def close(self) -> None:
        """Close the Redis connections (nothing to do for memory)."""
        if self._pool is not None:
            await self._pool.aclose()
