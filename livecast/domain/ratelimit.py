"""Per-user rate limits on chat messages and reactions, with the ``limits`` package.

The moving-window strategy allows a burst of N actions in any window of the given length (e.g. Twitch's
"20 messages per 30 seconds"). Storage is ``memory://`` (one process) or ``redis://`` (shared by every API
process, so a user cannot multiply the limit by hitting several processes).
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from livecast.domain.errors import RateLimited

CHAT = "chat"
REACTIONS = "reactions"


def _storage(url: str) -> Storage:
    scheme = url.split("://", 1)[0]
    if scheme == "memory":
        return MemoryStorage()
    if scheme in ("redis", "rediss"):
        return RedisStorage(f"async+{url}", implementation="redispy", key_prefix="livecast-ratelimit")
    raise ValueError(f"unsupported rate limit storage {url!r}: use memory:// or redis://")


class RateLimits:
    """``await limits.check(CHAT, user_id)`` raises ``RateLimited`` (with ``retry_after`` in seconds)."""

    def __init__(self, url: str = "memory://", *, chat: str = "20/30 seconds", reactions: str = "30/10 seconds") -> None:
        self._limiter = MovingWindowRateLimiter(_storage(url))
        self._items: dict[str, RateLimitItem] = {CHAT: parse(chat), REACTIONS: parse(reactions)}

    async def check(self, action: str, user_id: str) -> None:
        """Count one ``action`` (``CHAT`` or ``REACTIONS``) for ``user_id``; refuse it past the limit."""
        item = self._items[action]
        if await self._limiter.hit(item, action, user_id):
            return
        stats = await self._limiter.get_window_stats(item, action, user_id)
        retry_after = max(0.1, math.ceil((stats.reset_time - time.time()) * 10) / 10)
        raise RateLimited(f"too many {action} actions: at most {item}; try again in {retry_after:g} s", retry_after=retry_after)
