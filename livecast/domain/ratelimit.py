"""Per-user rate limits on chat messages and reactions, with the ``limits`` package.

A limit reads "N per period" (e.g. Twitch's "20 messages per 30 seconds"), enforced as a moving window: at
most N actions in any ``period`` seconds, and a refusal's ``retry_after`` is exact (when the oldest counted
action leaves the window). ``limits`` has no token bucket; of its strategies the moving window is the one
whose refusals tell the truth (its sliding-window counter, tried, reported 0.1 s while refusing for 0.9 s
more). Storage is ``memory://`` (one process) or ``redis://`` (shared by every API process, so a user cannot
multiply the limit by hitting several processes; one Lua script per hit).
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool

from livecast.domain.errors import RateLimited

CHAT = "chat"
REACTIONS = "reactions"


def _storage(url: str) -> tuple[Storage, ConnectionPool | None]:
    """The storage and, for Redis, its connection pool (ours, so that :meth:`RateLimits.close` can close it)."""
    scheme = url.split("://", 1)[0]
    if scheme == "memory":
        return MemoryStorage(), None
    if scheme in ("redis", "rediss"):
        pool = ConnectionPool.from_url(url)
        storage = RedisStorage(f"async+{url}", implementation="redispy", key_prefix="livecast-ratelimit", connection_pool=pool)
        return storage, pool
    raise ValueError(f"unsupported rate limit storage {url!r}: use memory:// or redis://")


class RateLimits:
    """``await limits.check(CHAT, user_id)`` raises ``RateLimited`` (with ``retry_after`` in seconds)."""

    def __init__(self, url: str = "memory://", *, chat: str = "20/30 seconds", reactions: str = "30/10 seconds") -> None:
        storage, self._pool = _storage(url)
        self._limiter = MovingWindowRateLimiter(storage)
        self._items: dict[str, RateLimitItem] = {CHAT: parse(chat), REACTIONS: parse(reactions)}

    async def check(self, action: str, user_id: str) -> None:
        """Count one ``action`` (``CHAT`` or ``REACTIONS``) for ``user_id``; refuse it past the limit."""
        item = self._items[action]
        if await self._limiter.hit(item, action, user_id):
            return
        stats = await self._limiter.get_window_stats(item, action, user_id)
        retry_after = max(0.1, math.ceil((stats.reset_time - time.time()) * 10) / 10)
        raise RateLimited(f"too many {action} actions: at most {item}; try again in {retry_after:g} s", retry_after=retry_after)

    async def close(self) -> None:
        """Close the Redis connections (nothing to do for memory)."""
        if self._pool is not None:
            await self._pool.aclose()
