"""One live chat feed per stream per process, shared by every subscriber of that stream in the process.

With 1,000 subscribers of a busy stream, per-subscriber work is what limits throughput. So the bus is
subscribed once per stream (not once per subscriber), the sequence is checked and holes are filled from the
database once, and messages are coalesced into batches once: every member receives the *same*
:class:`Batch` object, on which the layers above memoise what they derive from it alone (its GraphQL result
and JSON text per selection, see ``livecast.schema.execution``).

Batching adapts to the fan-out: a batch goes out at most every ``window`` seconds, and not before the
members have finished with the previous one (they have asked for the next batch), waiting at most
``HOLD_MAX`` seconds for a slow one; then it rests ``FANOUT_REST`` times as long as that fan-out took. So
when fanning one batch out to every websocket takes longer than the window, the next batch simply holds more
messages (fewer frames per subscriber per second), instead of each member falling further behind, and the
fan-out leaves the process time for everything else (the posts that feed it).

Each member keeps the batches it has not read yet (up to ``MEMBER_MAX_ITEMS`` items; beyond that it is
ended with ``SubscriberTooSlow``, like a lossless bus subscriber). Members start from the feed's position
when they join; :func:`livecast.domain.chat_feed.chat_feed` replays the database and removes duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from livecast.domain import chat
from livecast.domain.bus import EventBus, Gap, SubscriberTooSlow
from livecast.domain.chat_models import ChatRoom
from livecast.domain.events import CHAT, ChatMessageDeleted, ChatMessagePinned, ChatMessagePosted, stream_channel

ChatItem = chat.ChatMessageView | ChatMessageDeleted | ChatMessagePinned
WINDOW = 0.1
"""Seconds: the most a batch waits for more items, and only right after another batch went out."""
HOLD_MAX = 1.0
"""Seconds: the most the next batch waits for members still busy with the previous one."""
MAX_ITEMS = 500
"""Items per batch at most."""
WAKE_CHUNK = 50
"""Members woken per event-loop turn: each sends its frame in its turn, so waking 1,000 at once would
hold every other request (a ``sendChatMessage`` waiting for its database reply) for the whole fan-out."""
MEMBER_MAX_ITEMS = 10_000
"""Unread items a member may hold: one that holds this many when another batch comes is ended as too slow."""
FILL_PAGE = 500
FANOUT_REST = 1.0
"""After a fan-out that took ``d`` seconds (first member offered to last member done), the next batch waits
until ``FANOUT_REST * d`` seconds have passed since (if longer than ``WINDOW``): fan-out then takes at most
about half of the process's time under overload. Seconds of latency added: at most ``REST_MAX``."""
REST_MAX = 0.5
"""Seconds: the longest rest after a fan-out (one slow client must not space everyone's batches out)."""


class Batch(list):  # type: ignore[type-arg]
    """Chat items delivered together, in order. The same object reaches every member of a feed, so ``memo``
    holds what is derived from the batch alone, computed by the first member that needs it."""

    __slots__ = ("first_sequence", "last_sequence", "memo")

    def __init__(self, items: list[ChatItem]) -> None:
        super().__init__(items)
        self.memo: dict[Any, Any] = {}
        sequences = [item.sequence for item in items if isinstance(item, chat.ChatMessageView)]
        self.first_sequence: int | None = sequences[0] if sequences else None
        """Of its first message (``None``: only deletions and pins); its messages' sequences are consecutive."""
        self.last_sequence: int | None = sequences[-1] if sequences else None


class Member:
    """One subscriber's place in a feed: ``await member.next()`` for the next batch (``StopAsyncIteration``
    when the feed ends; its error, e.g. ``SubscriberTooSlow``, if it failed)."""

    __slots__ = ("_counted", "_error", "_feed", "_items", "_owes", "_pending", "_waiter", "closed", "live")

    def __init__(self, feed: StreamFeed) -> None:
        self._feed = feed
        self._pending: deque[Batch] = deque()
        self._items = 0
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._owes = False  # has unread batches, or is still busy with the last one it read
        self._counted = False  # the feed's latest batch waits for this member
        self.closed = False
        self.live = False
        """Set by the reader once it has replayed what it missed: from then on the feed waits for it, and
        :func:`follower_count` counts it."""

    def _offer(self, batch: Batch) -> None:
        if self.closed:
            return
        if self._items >= MEMBER_MAX_ITEMS:
            self.close(SubscriberTooSlow(f"{self._items} chat items behind"))
            return
        self._pending.append(batch)
        self._items += len(batch)
        # The next batch waits for members that were idle when this one went out; one still busy with an
        # earlier batch (a slow client) does not hold the others back, it catches up with the batches it holds.
        self._counted = not self._owes and self.live
        self._owes = True
        if self._counted:
            self._feed._owing += 1
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _settle(self) -> None:
        self._owes = False
        if self._counted:
            self._counted = False
            self._feed._settled_one()

    def close(self, error: BaseException | None = None) -> None:
        if self.closed:
            return
        self.closed, self._error = True, error
        self._pending.clear()
        self._settle()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self) -> Batch:
        """The next batch, after the previous one was handled (that is what the feed waits for)."""
        while not self._pending:
            self._settle()
            if self.closed:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        batch = self._pending.popleft()
        self._items -= len(batch)
        return batch


class StreamFeed:
    """The live chat of one stream in this process: one bus subscription, one batcher, many members."""

    def __init__(self, bus: EventBus, stream_id: str, registry: dict[str, StreamFeed]) -> None:
        self.stream_id = stream_id
        self.members: set[Member] = set()
        self.last = 0
        """Highest sequence handed to the members (every sequence up to it was, in order)."""
        self._bus = bus
        self._registry = registry
        self._incoming: list[ChatItem] = []
        self._arrived = asyncio.Event()
        self._owing = 0
        self._settled = asyncio.Event()
        self._settled_at = 0.0
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(self._run(), name=f"livecast-chat-feed:{stream_id}")

    def join(self) -> Member:
        member = Member(self)
        self.members.add(member)
        return member

    def leave(self, member: Member) -> None:
        member.close()
        self.members.discard(member)
        if not self.members and self._registry.get(self.stream_id) is self:
            del self._registry[self.stream_id]
            self.task.cancel()

    def _settled_one(self) -> None:
        self._owing -= 1
        if self._owing <= 0:
            self._owing = 0
            self._settled_at = time.monotonic()
            self._settled.set()

    async def _run(self) -> None:
        error: BaseException | None = None
        try:
            async with self._bus.subscribe(stream_channel(self.stream_id, CHAT)) as live:
                room = await ChatRoom.get_or_none(stream_id=self.stream_id)
                self.last = room.last_sequence if room else 0
                self.ready.set_result(None)
                distributor = asyncio.create_task(self._distribute())
                try:
                    async for item in live:
                        await self._receive(item)
                        if distributor.done():
                            distributor.result()  # re-raises what ended it
                finally:
                    distributor.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await distributor
        except asyncio.CancelledError:
            raise
        except Exception as e:
            error = e
        finally:
            if not self.ready.done():  # the joiners re-raise the error (none: the bus closed; they end)
                if error is None:
                    self.ready.set_result(None)
                else:
                    self.ready.set_exception(error)
                    self.ready.exception()
            if self._registry.get(self.stream_id) is self:
                del self._registry[self.stream_id]
            for member in list(self.members):
                member.close(error)

    async def _receive(self, item: object) -> None:
        if isinstance(item, Gap):  # the bus lost events: the database has every message
            await self._fill(until=None)
        elif isinstance(item, ChatMessagePosted):
            if item.sequence <= self.last:
                return  # already handed out (filled from the database)
            if item.sequence > self.last + 1:
                await self._fill(until=item.sequence - 1)
            self.last = item.sequence
            self._add([chat.ChatMessageView.posted(item)])
        elif isinstance(item, ChatMessageDeleted | ChatMessagePinned):
            self._add([item])

    async def _fill(self, until: int | None) -> None:
        while until is None or self.last < until:
            page = await chat.messages_after(self.stream_id, self.last, limit=FILL_PAGE)
            page = [m for m in page if until is None or m.sequence <= until]
            if not page:
                return
            self.last = page[-1].sequence
            self._add(page)

    def _add(self, items: list[ChatItem]) -> None:
        self._incoming.extend(items)
        self._arrived.set()

    async def _distribute(self) -> None:
        last_sent = -WINDOW
        self._settled_at = last_sent
        while True:
            await self._arrived.wait()
            if self._owing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._settled.wait(), HOLD_MAX)
            now = time.monotonic()
            # How long the last fan-out took; not measured when a slow member made us wait HOLD_MAX already.
            busy = 0.0 if self._owing or self._settled_at < last_sent else self._settled_at - last_sent
            delay = max(last_sent + WINDOW, self._settled_at + min(FANOUT_REST * busy, REST_MAX)) - now
            if delay > 0:
                await asyncio.sleep(delay)
            batch = Batch(self._incoming[:MAX_ITEMS])
            del self._incoming[:MAX_ITEMS]
            if not self._incoming:
                self._arrived.clear()
            self._settled.clear()
            self._owing = 0
            last_sent = time.monotonic()
            members = list(self.members)
            for start in range(0, len(members), WAKE_CHUNK):
                if start:  # let the members woken so far send, and other requests (posts) move on
                    await asyncio.sleep(0)
                for member in members[start : start + WAKE_CHUNK]:
                    member._offer(batch)
            if self._owing == 0:  # (members of the first chunks may have settled before the last was offered)
                self._settled_at = time.monotonic()
                self._settled.set()
            else:
                self._settled.clear()


_feeds: weakref.WeakKeyDictionary[EventBus, dict[str, StreamFeed]] = weakref.WeakKeyDictionary()
"""Per bus (one per running app), the feeds of the streams someone follows in this process."""


@contextlib.asynccontextmanager
async def follow(bus: EventBus, stream_id: str) -> AsyncIterator[Member]:
    """Join the stream's feed (started on first use, stopped with its last member). Once this returns, every
    message published from then on reaches the member; raises what the feed's start failed with."""
    registry = _feeds.setdefault(bus, {})
    feed = registry.get(stream_id)
    if feed is None:
        feed = registry[stream_id] = StreamFeed(bus, stream_id, registry)
    member = feed.join()
    try:
        await asyncio.shield(feed.ready)
        yield member
    finally:
        feed.leave(member)


def follower_count(bus: EventBus, stream_id: str) -> int:
    """Subscribers of the stream's chat in this process that are live (have their starting point)."""
    feed = _feeds.get(bus, {}).get(stream_id)
    return sum(1 for m in feed.members if m.live) if feed else 0
