"""The EventBus implementation: in-process fan-out with bounded queues over a ``broadcaster`` backend.

``broadcaster.Broadcast`` itself is not used: its per-subscriber queues are unbounded, two concurrent first
subscribers of a channel race (one is lost), and its listener dies with the backend (encode/broadcaster#144).
The backend interface (``BroadcastBackend``: connect, subscribe, publish, next_published) is broadcaster's.

Built for many subscribers per channel (10,000 viewers of one stream): a subscriber is one small object (no
``asyncio.Queue``), and subscribers that derive the same value from each event (``prepare``) share one
*lane*: a task that computes the value once per event, in order, before any of them is woken. So per-event
work (a database read) happens once per process, and no subscriber waits on it holding objects that the
garbage collector would then have to scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from broadcaster._backends.base import BroadcastBackend

from livecast.domain.bus import Delivery, Gap, SubscriberTooSlow
from livecast.domain.events import Event, decode_event, encode_event

logger = logging.getLogger(__name__)

GAP_MESSAGE = "\x00livecast:gap"
"""What a backend delivers on a channel after reconnecting (never valid JSON, so never an event)."""

Prepare = Callable[[Event], Awaitable[Any]]


class Subscriber:
    """One subscription: ``async with`` registers it, ``async for`` reads it. Holds one item for gauges (a
    newer value replaces an unread one), up to ``maxsize`` for lossless delivery (beyond: ended as too slow)."""

    __slots__ = ("_error", "_hub", "_items", "_maxsize", "_waiter", "channel", "closed", "delivery", "prepare")

    def __init__(
        self, hub: Hub | None, channel: str, delivery: Delivery, maxsize: int, prepare: Prepare | None = None
    ) -> None:
        self.channel = channel
        self.delivery = delivery
        self.prepare = prepare
        self.closed = False
        self._hub = hub
        self._items: list[Any] = []
        self._maxsize = 1 if delivery is Delivery.GAUGE else maxsize
        self._waiter: asyncio.Future[None] | None = None
        self._error: Exception | None = None

    def offer(self, item: Any) -> bool:
        """Enqueue without waiting; ``False`` if this subscriber is closed or had to be ended (too slow)."""
        if self.closed:
            return False
        if self.delivery is Delivery.GAUGE:
            if isinstance(item, Gap):
                return True  # gauges resume with the next value
            self._items[:] = (item,)
        elif len(self._items) >= self._maxsize:
            self.close(SubscriberTooSlow(f"more than {self._maxsize} events behind on {self.channel}"))
            return False
        else:
            self._items.append(item)
        self._wake()
        return True

    def close(self, error: Exception | None = None) -> None:
        """End the iteration (with ``error``, if given); unread items are dropped."""
        if self.closed:
            return
        self.closed, self._error = True, error
        self._items.clear()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> Any:
        while not self._items:
            if self.closed:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    async def __aenter__(self) -> Subscriber:
        assert self._hub is not None
        await self._hub._join(self)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._hub is not None
        self.close()
        await self._hub._leave(self)


class _Lane:
    """Subscribers of one channel sharing a ``prepare`` step: a task runs it once per event, in order, and
    offers the result to each of them. If it fails (the database is down), their subscriptions end with the
    error; if it falls ``maxsize`` events behind, with ``SubscriberTooSlow``."""

    def __init__(self, channel: str, prepare: Prepare, delivery: Delivery, maxsize: int) -> None:
        self.members: set[Subscriber] = set()
        self.inbox = Subscriber(None, channel, delivery, maxsize)
        self._prepare = prepare
        self.task = asyncio.create_task(self._run(), name=f"livecast-bus-lane:{channel}")

    async def _run(self) -> None:
        while True:
            try:
                async for item in self.inbox:
                    if not isinstance(item, Gap):
                        try:
                            item = await self._prepare(item)
                        except Exception as e:
                            logger.warning("preparing an event on %s failed: %r", self.inbox.channel, e)
                            self._end(e)
                            continue
                    for member in list(self.members):
                        member.offer(item)
                return
            except SubscriberTooSlow as e:  # the members end; the lane goes on for those who subscribe again
                self._end(e)
                self.inbox = Subscriber(None, self.inbox.channel, self.inbox.delivery, self.inbox._maxsize)

    def _end(self, error: Exception) -> None:
        for member in list(self.members):
            member.close(error)


class Hub:
    """EventBus over a broadcaster backend (``MemoryBackend`` or :class:`ResilientRedisBackend`)."""

    def __init__(self, backend: BroadcastBackend, *, lossless_queue_size: int = 1000) -> None:
        self._backend = backend
        self._maxsize = lossless_queue_size
        self._channels: dict[str, set[Subscriber]] = {}
        """Subscribers without ``prepare``, per channel (offered each event directly)."""
        self._lanes: dict[str, dict[tuple[Prepare, Delivery], _Lane]] = {}
        """Subscribers with a ``prepare``, per channel, grouped in lanes."""
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
        lanes = [lane for by_key in self._lanes.values() for lane in by_key.values()]
        for subscribers in [*self._channels.values(), *(lane.members for lane in lanes)]:
            for subscriber in list(subscribers):
                subscriber.close()
        for lane in lanes:
            lane.task.cancel()
        await asyncio.gather(*(lane.task for lane in lanes), return_exceptions=True)
        self._channels.clear()
        self._lanes.clear()
        await self._backend.disconnect()

    def subscriber_count(self, channel: str) -> int:
        laned = sum(len(lane.members) for lane in self._lanes.get(channel, {}).values())
        return len(self._channels.get(channel, ())) + laned

    @property
    def channel_count(self) -> int:
        """Channels with at least one subscriber in this process."""
        return len(self._channels.keys() | self._lanes.keys())

    @property
    def backend_channel_count(self) -> int:
        """Channels this process is subscribed to on the backend (Redis): equal to ``channel_count`` at rest."""
        return len(self._backend_channels)

    @property
    def lane_count(self) -> int:
        """Shared ``prepare`` steps running (one per channel and distinct ``prepare``)."""
        return sum(len(lanes) for lanes in self._lanes.values())

    async def publish(self, channels: Iterable[str], event: Event) -> None:
        payload = encode_event(event)
        for channel in channels:
            await self._backend.publish(channel, payload)

    async def publish_many(self, events: Sequence[tuple[Iterable[str], Event]]) -> None:
        messages = [(channel, encode_event(event)) for channels, event in events for channel in channels]
        many = getattr(self._backend, "publish_many", None)
        if many is not None:
            await many(messages)
            return
        for channel, payload in messages:
            await self._backend.publish(channel, payload)

    def subscribe(
        self, channel: str, *, delivery: Delivery = Delivery.LOSSLESS, prepare: Prepare | None = None
    ) -> Subscriber:
        """``async with hub.subscribe(channel) as items: async for item in items`` (``Event`` or ``Gap``).

        With ``prepare``, items are ``await prepare(event)`` instead of events (``Gap`` still passes): computed
        once per event for all subscribers of the channel that pass the same function."""
        return Subscriber(self, channel, delivery, self._maxsize, prepare)

    async def _join(self, subscriber: Subscriber) -> None:
        channel = subscriber.channel
        if subscriber.prepare is None:
            self._channels.setdefault(channel, set()).add(subscriber)
        else:
            lanes = self._lanes.setdefault(channel, {})
            key = (subscriber.prepare, subscriber.delivery)
            lane = lanes.get(key)
            if lane is None:
                lane = lanes[key] = _Lane(channel, subscriber.prepare, subscriber.delivery, self._maxsize)
            lane.members.add(subscriber)
        try:
            await self._sync(channel)
        except BaseException:
            subscriber.close()
            await self._leave(subscriber)
            raise

    async def _leave(self, subscriber: Subscriber) -> None:
        channel = subscriber.channel
        remaining = self._channels.get(channel)
        if subscriber.prepare is None and remaining is not None:
            remaining.discard(subscriber)
            if not remaining:
                del self._channels[channel]
        elif subscriber.prepare is not None:
            lanes = self._lanes.get(channel, {})
            lane = lanes.get((subscriber.prepare, subscriber.delivery))
            if lane is not None and subscriber in lane.members:
                lane.members.discard(subscriber)
                if not lane.members:
                    lane.task.cancel()
                    del lanes[(subscriber.prepare, subscriber.delivery)]
                    if not lanes:
                        del self._lanes[channel]
        # shielded: a cancelled subscriber still releases the backend subscription
        await asyncio.shield(self._sync(channel))

    async def _sync(self, channel: str) -> None:
        """Make the backend's subscription match whether anyone here listens on ``channel``."""
        async with self._sync_lock:
            wanted = channel in self._channels or channel in self._lanes
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
            subscribers = self._channels.get(message.channel, ())
            lanes = self._lanes.get(message.channel)
            if not subscribers and not lanes:
                continue
            item: Event | Gap | None
            item = Gap(message.channel) if message.message == GAP_MESSAGE else decode_event(message.message)
            if item is None:
                continue
            for lane in (lanes or {}).values():
                lane.inbox.offer(item)
            for subscriber in list(subscribers):
                if not subscriber.offer(item):
                    subscribers.discard(subscriber)  # type: ignore[attr-defined]
