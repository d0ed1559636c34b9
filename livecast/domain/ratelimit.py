"""Per-user rate limits on chat messages, reactions and new streams, with the ``limits`` package.

A limit reads "N per period" (e.g. Twitch's "20 messages per 30 seconds"), enforced as a moving window: at
most N actions in any ``period`` seconds, and a refusal's ``retry_after`` is exact (when the oldest counted
action leaves the window). ``limits`` has no token bucket; of its strategies the moving window is the one
whose refusals tell the truth (its sliding-window counter, tried, reported 0.1 s while refusing for 0.9 s
more). Storage is ``memory://`` (one process) or ``redis://`` (shared by every API process, so a user cannot
multiply the limit by hitting several processes; one Lua script per hit). When Redis cannot be reached, each
process counts in its own memory for :data:`FALLBACK_SECONDS` before it tries Redis again (one warning per
outage): chat keeps working, and stays limited, through a Redis outage.

Nobody is exempt. A stream's owner, its moderators and admins (``privileged``) get limits of their own,
higher by default, counted apart from their limits as a viewer: they are not slowed down where they moderate,
and one account still cannot flood a chat without bound. Creating streams has one limit for everyone,
admins included (:mod:`livecast.domain.stream_quota`).
"""

from __future__ import annotations

import logging
import math
import time

from limits import parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool

from livecast.domain.errors import RateLimited

CHAT = "chat"
REACTIONS = "reactions"
STREAMS = "streams"
"""Creating a stream (``createStream``)."""
WHAT = {CHAT: "chat messages", REACTIONS: "reactions", STREAMS: "new streams"}
FALLBACK_SECONDS = 5.0
"""Seconds a process counts in memory after the shared (Redis) storage failed, before trying it again."""

logger = logging.getLogger(__name__)


def limit_storage(url: str) -> tuple[Storage, ConnectionPool | None]:
    """The storage and, for Redis, its connection pool (ours, so that :meth:`RateLimits.close` can close it)."""
    scheme = url.split("://", 1)[0]
    if scheme == "memory":
        return MemoryStorage(), None
    if scheme in ("redis", "rediss"):
        pool = ConnectionPool.from_url(url)
        storage = RedisStorage(
            f"async+{url}", implementation="redispy", key_prefix="livecast-ratelimit", connection_pool=pool,
            wrap_exceptions=True,  # any Redis failure is a StorageError
        )  # fmt: skip
        return storage, pool
    raise ValueError(f"unsupported rate limit storage {url!r}: use memory:// or redis://")


class RateLimits:
    """``await limits.check(CHAT, user_id)`` raises ``RateLimited`` (with ``retry_after`` in seconds).

    Limits are ``limits`` notation (``"20/30 seconds"``, ``"50/day"``): ``chat``/``reactions`` for everyone,
    ``chat_privileged``/``reactions_privileged`` for the stream's owner, moderators and admins, ``streams``
    for creating streams (one limit for everyone). ``ValueError`` for a malformed limit or storage URL.
    """

    def __init__(
        self,
        url: str = "memory://",
        *,
        chat: str = "20/30 seconds",
        reactions: str = "30/10 seconds",
        chat_privileged: str = "100/30 seconds",
        reactions_privileged: str = "60/10 seconds",
        streams: str = "50/day",
    ) -> None:
        storage, self._pool = limit_storage(url)
        self._limiter = MovingWindowRateLimiter(storage)
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared_down_until: float | None = None
        """While Redis is unavailable: when to try it again (monotonic seconds); ``None`` while it works."""
        self._items = {CHAT: parse(chat), REACTIONS: parse(reactions), STREAMS: parse(streams)}
        self._privileged = {CHAT: parse(chat_privileged), REACTIONS: parse(reactions_privileged)}

    async def check(self, action: str, user_id: str, *, privileged: bool = False) -> None:
        """Count one ``action`` (``CHAT``, ``REACTIONS`` or ``STREAMS``) for ``user_id``; refuse it past the
        limit. ``privileged``: the user owns, moderates or administers the stream (chat and reactions: the
        privileged limit, counted apart; ignored for ``STREAMS``). A refused action is not counted."""
        item, scope = self._items[action], action
        if privileged and action in self._privileged:
            item, scope = self._privileged[action], f"{action}:privileged"
        limiter = self._choose()
        try:
            allowed = await limiter.hit(item, scope, user_id)
        except StorageError as e:
            limiter = self._shared_failed(e)
            allowed = await limiter.hit(item, scope, user_id)
        else:
            self._shared_works(limiter)
        if allowed:
            return
        try:
            reset_time = (await limiter.get_window_stats(item, scope, user_id)).reset_time
        except StorageError:
            reset_time = time.time() + item.get_expiry()
        retry_after = max(0.1, math.ceil((reset_time - time.time()) * 10) / 10)
        raise RateLimited(
            f"too many {WHAT[action]}: at most {item}; try again in {retry_after:g} s", retry_after=retry_after
        )

    def _choose(self) -> MovingWindowRateLimiter:
        if self._shared_down_until is not None and time.monotonic() < self._shared_down_until:
            return self._local
        return self._limiter

    def _shared_failed(self, error: StorageError) -> MovingWindowRateLimiter:
        if self._shared_down_until is None:
            cause = type(error.storage_error).__name__
            logger.warning("rate limit storage unavailable (%s): counting in this process meanwhile", cause)
        self._shared_down_until = time.monotonic() + FALLBACK_SECONDS
        return self._local

    def _shared_works(self, limiter: MovingWindowRateLimiter) -> None:
        if limiter is self._limiter and self._shared_down_until is not None:
            self._shared_down_until = None
            logger.info("rate limit storage available again")

    async def close(self) -> None:
        """Close the Redis connections (nothing to do for memory)."""
        if self._pool is not None:
            await self._pool.aclose()
