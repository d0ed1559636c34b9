"""The EventBus implementation: in-process fan-out with bounded queues over a ``broadcaster`` backend.

``broadcaster.Broadcast`` itself is not used: its per-subscriber queues are unbounded, two concurrent first
subscribers of a channel race (one is lost), and its listener dies with the backend (encode/broadcaster#144).
The backend interface (``BroadcastBackend``: connect, subscribe, publish, next_published) is broadcaster's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from broadcaster._backends.base import BroadcastBackend

from livecast.domain.bus import Delivery, Gap, SubscriberTooSlow
from livecast.domain.events import Event, decode_event, encode_event

logger = logging.getLogger(__name__)

GAP_MESSAGE = "\x00livecast:gap"
"""What a backend delivers on a channel after reconnecting (never valid JSON, so never an event)."""
_END = object()


class Subscriber:
    """One subscription's queue: one slot for gauges, ``maxsize`` for lossless delivery."""

    def __init__(self, channel: str, delivery: Delivery, maxsize: int) -> None:
        self.channel = channel
        self.delivery = delivery
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize=1 if delivery is Delivery.GAUGE else maxsize)
        self._error: Exception | None = None
        self.closed = False

    def offer(self, item: Event | Gap) -> bool:
        """Enqueue without waiting; ``False`` if this subscriber had to be ended (too slow)."""
        if self.closed:
            return False
        if self.delivery is Delivery.GAUGE:
            if isinstance(item, Gap):
                return True  # gauges resume with the next value
            if self._queue.full():
                self._queue.get_nowait()
            self._queue.put_nowait(item)
            return True
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.close(SubscriberTooSlow(f"more than {self._queue.maxsize} events behind on {self.channel}"))
            return False
        return True

    def close(self, error: Exception | None = None) -> None:
        if self.closed:
            return
        self.closed, self._error = True, error
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_END)

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> Event | Gap:
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)  # stay ended for any further call
            if self._error is not None:
                raise self._error
            raise StopAsyncIteration
        return item  # type: ignore[return-value]


class Hub:
    """EventBus over a broadcaster backend (``MemoryBackend`` or :class:`ResilientRedisBackend`)."""

    def __init__(self, backend: BroadcastBackend, *, lossless_queue_size: int = 1000) -> None:
        self._backend = backend
        self._maxsize = lossless_queue_size
        self._channels: dict[str, set[Subscriber]] = {}
        self._backend_channels: set[str] = set()
        self._sync_lock = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        await self._backend.connect()
        self._listener = asyncio.create_task(self._listen(), name="livecast-bus-listener")

    async def disconnect(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        for subscribers in list(self._channels.values()):
            for subscriber in list(subscribers):
                subscriber.close()
        self._channels.clear()
        await self._backend.disconnect()

    def subscriber_count(self, channel: str) -> int:
        return len(self._channels.get(channel, ()))

    @property
    def channel_count(self) -> int:
        return len(self._channels)

    async def publish(self, channels: Iterable[str], event: Event) -> None:
        payload = encode_event(event)
        for channel in channels:
            await self._backend.publish(channel, payload)

    @asynccontextmanager
    async def subscribe(self, channel: str, *, delivery: Delivery = Delivery.LOSSLESS) -> AsyncIterator[Subscriber]:
        subscriber = Subscriber(channel, delivery, self._maxsize)
        self._channels.setdefault(channel, set()).add(subscriber)
        try:
            await self._sync(channel)
            yield subscriber
        finally:
            subscriber.close()
            remaining = self._channels.get(channel)
            if remaining is not None:
                remaining.discard(subscriber)
                if not remaining:
                    del self._channels[channel]
            # shielded: a cancelled subscriber still releases the backend subscription
            await asyncio.shield(self._sync(channel))

    async def _sync(self, channel: str) -> None:
        """Make the backend's subscription match whether anyone here listens on ``channel``."""
        async with self._sync_lock:
            wanted = channel in self._channels
            if wanted and channel not in self._backend_channels:
                await self._backend.subscribe(channel)
                self._backend_channels.add(channel)
            elif not wanted and channel in self._backend_channels:
                self._backend_channels.discard(channel)
                await self._backend.unsubscribe(channel)

    async def _listen(self) -> None:
        while True:
            try:
                message = await self._backend.next_published()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("event bus backend failed; listening again in 1 s")
                await asyncio.sleep(1)
                continue
            subscribers = self._channels.get(message.channel)
            if not subscribers:
                continue
            item: Event | Gap | None
            item = Gap(message.channel) if message.message == GAP_MESSAGE else decode_event(message.message)
            if item is None:
                continue
            for subscriber in list(subscribers):
                if not subscriber.offer(item):
                    subscribers.discard(subscriber)
