"""A broadcaster backend for Redis pub/sub that survives Redis going away.

* One reader task owns the subscriber connection. When it fails (Redis stopped, ``CLIENT KILL``, network
  cut, or a health-check PING unanswered for an interval; a busy event loop is not taken for silence) it
  reconnects with exponential backoff
  (1 s doubling to 30 s; capped at 2 s during the first minute of an outage, so a Redis restart or failover
  costs live gauges at most ~2 s after Redis is back), resubscribes every channel, and then delivers a gap
  marker on each channel, because Redis pub/sub is at-most-once: whatever was published meanwhile is gone.
* ``publish`` never raises for an outage: the caller's database write already happened; the event is lost
  for other processes, whose subscribers get the gap marker when Redis is back.
* redis-py's own transparent pub/sub reconnect is disabled (``retries=0``) so no reconnect goes unnoticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from broadcaster._backends.base import BroadcastBackend
from broadcaster._base import Event
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from livecast.bus.hub import GAP_MESSAGE

logger = logging.getLogger(__name__)


class ResilientRedisBackend(BroadcastBackend):
    def __init__(
        self,
        url: str,
        *,
        ping_interval: float = 5.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        fast_retry_max: float = 2.0,
        fast_retry_seconds: float = 60.0,
        connect_timeout: float = 2.0,
    ) -> None:
        self._url = url
        self._ping_interval = ping_interval
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._fast_retry_max = fast_retry_max
        self._fast_retry_seconds = fast_retry_seconds
        self._connect_timeout = connect_timeout
        self._channels: set[str] = set()
        self._messages: asyncio.Queue[Event] = asyncio.Queue()
        self._pubsub: PubSub | None = None
        self._publisher: Redis | None = None
        self._reader: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self._closing = False
        self.reconnects = 0
        self.publish_failures = 0

    def _client(self) -> Redis:
        return Redis.from_url(
            self._url,
            decode_responses=True,
            socket_connect_timeout=self._connect_timeout,
            socket_timeout=max(self._ping_interval * 2, 5.0),
            retry=Retry(NoBackoff(), 0),
        )

    async def connect(self) -> None:
        """Start the reader; waits up to the connect timeout for Redis, then goes on reconnecting in the
        background (a process may start while Redis is still coming up)."""
        self._publisher = self._client()
        self._reader = asyncio.create_task(self._run(), name="livecast-redis-reader")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), self._connect_timeout + 1)
        if not self.connected.is_set():
            logger.warning("Redis at %s is not reachable yet; events wait for it", _safe(self._url))

    async def disconnect(self) -> None:
        """Stop the reader. redis-py can swallow a cancellation inside a read, so the reader also checks
        ``_closing`` between reads (at least every second) and is cancelled again until it has ended."""
        self._closing = True
        reader = self._reader
        while reader is not None and not reader.done():
            reader.cancel()
            await asyncio.wait({reader}, timeout=0.5)
        if reader is not None and not reader.cancelled() and reader.exception() is not None:
            logger.warning("Redis reader ended with %r", reader.exception())
        if self._publisher is not None:
            await self._publisher.aclose()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):  # the reader reconnects and resubscribes
                await self._pubsub.subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(channel)

    async def publish(self, channel: str, message: str) -> None:
        assert self._publisher is not None
        try:
            await self._publisher.publish(channel, message)
        except (RedisError, OSError) as e:
            self.publish_failures += 1
            logger.warning("event not published to Redis (%s): %s", channel, type(e).__name__)

    async def publish_many(self, messages: list[tuple[str, str]]) -> None:
        """Publish (channel, message) pairs in order, in one pipeline (one round trip)."""
        assert self._publisher is not None
        if not messages:
            return
        try:
            async with self._publisher.pipeline(transaction=False) as pipe:
                for channel, message in messages:
                    pipe.publish(channel, message)
                await pipe.execute()
        except (RedisError, OSError) as e:
            self.publish_failures += len(messages)
            logger.warning(
                "%d event(s) not published to Redis (%s): %s", len(messages), messages[0][0], type(e).__name__
            )

    async def next_published(self) -> Event:
        return await self._messages.get()

    async def _run(self) -> None:
        backoff, ever_connected, outage_since = self._backoff_initial, False, time.monotonic()
        while not self._closing:
            client = self._client()
            pubsub = client.pubsub()
            try:
                await client.ping()
                if self._channels:
                    await pubsub.subscribe(*self._channels)
                self._pubsub = pubsub
                self.connected.set()
                if ever_connected:
                    self.reconnects += 1
                    logger.warning("Redis connection restored; %d channel(s) resubscribed", len(self._channels))
                    for channel in list(self._channels):
                        self._messages.put_nowait(Event(channel, GAP_MESSAGE))
                ever_connected, backoff = True, self._backoff_initial
                await self._read(client, pubsub)  # returns only when closing
            except (RedisError, OSError, TimeoutError) as e:
                if self._closing:
                    return
                if self.connected.is_set():
                    outage_since = time.monotonic()
                    logger.warning("Redis connection lost (%s); reconnecting", type(e).__name__)
            finally:
                self._pubsub = None
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            if self._closing:
                return
            await asyncio.sleep(backoff)
            early = time.monotonic() - outage_since < self._fast_retry_seconds
            backoff = min(backoff * 2, self._fast_retry_max if early else self._backoff_max)

    async def _read(self, client: Redis, pubsub: PubSub) -> None:
        last_heard = time.monotonic()
        pinged_at: float | None = None  # an unanswered PING
        read_timeout = min(self._ping_interval, 1.0)
        while not self._closing:
            if not pubsub.subscribed:  # nothing to read: just check that Redis is there
                await asyncio.sleep(min(self._ping_interval, 0.5))
                if time.monotonic() - last_heard >= self._ping_interval:
                    await client.ping()
                    last_heard = time.monotonic()
                continue
            # Every reply counts as heard, so none is filtered out: with decode_responses, redis-py 8 parses the
            # PONG of a subscribed connection as a subscribe confirmation ({"type": "P", ...}), and
            # ignore_subscribe_messages would hide it (the PING then looked unanswered on a quiet channel).
            message = await pubsub.get_message(timeout=read_timeout)
            now = time.monotonic()
            if message is not None:
                last_heard, pinged_at = now, None
                if message["type"] == "message":
                    self._messages.put_nowait(Event(message["channel"], message["data"]))
                continue
            # Dead only if a PING went unanswered for an interval. Time without reading is no evidence: a busy
            # event loop (a fan-out to 10,000 subscribers, a full garbage collection) lets every timed read
            # expire before it parses what Redis already sent, and it sends no PING meanwhile.
            if pinged_at is not None and now - pinged_at > self._ping_interval and not await _unread(pubsub):
                raise TimeoutError("Redis did not answer the health-check PING")
            if pinged_at is None and now - last_heard >= self._ping_interval:
                await pubsub.ping()
                pinged_at = time.monotonic()


async def _unread(pubsub: PubSub) -> bool:
    """Whether bytes from Redis wait on the connection, unparsed (so it did answer)."""
    connection = pubsub.connection
    if connection is None:
        return False
    check = getattr(connection, "can_read", None) or connection.can_read_destructive  # renamed in redis-py 8
    try:
        return bool(await check())
    except (RedisError, OSError):
        return False


def _safe(url: str) -> str:
    """The URL without its password, for logs."""
    _, sep, tail = url.rpartition("@")
    return f"{url.split('://', 1)[0]}://***@{tail}" if sep else url
