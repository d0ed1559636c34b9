"""Live chat and reaction feeds: stored history replayed, then live events, with no gap and no duplicate.

The subscription to the bus is opened *before* the database is read, so nothing posted in between is missed;
messages are then deduplicated by ``sequence``. A hole in the live sequence (an event lost on the way, a
bus outage, or two processes publishing out of order) is filled from the database, where every message was
stored before it was published. Under load, items are coalesced into batches at most every ``window``
seconds (100 ms by default) so a hot stream costs one websocket frame per batch, not per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import TypeVar

from livecast.domain import chat, streams
from livecast.domain.bus import Gap
from livecast.domain.chat_models import ChatRoom
from livecast.domain.deps import Deps
from livecast.domain.events import CHAT, REACTIONS, ChatMessageDeleted, ChatMessagePinned, ChatMessagePosted, ReactionPosted, stream_channel

T = TypeVar("T")
ChatItem = chat.ChatMessageView | ChatMessageDeleted | ChatMessagePinned
BATCH_WINDOW = 0.1
"""Seconds: the most a batch waits for more items, and only right after another batch went out."""
REPLAY_PAGE = 500


async def _chat_items(deps: Deps, stream_id: str, after_sequence: int | None) -> AsyncIterator[list[ChatItem]]:
    async with deps.bus.subscribe(stream_channel(stream_id, CHAT)) as live:
        if after_sequence is None:  # live only: start after whatever is stored now
            room = await ChatRoom.get_or_none(stream_id=stream_id)
            last = room.last_sequence if room else 0
        else:
            last = max(after_sequence, 0)

        async def stored_after(sequence: int, until: int | None = None) -> AsyncIterator[list[ChatItem]]:
            nonlocal last
            while until is None or last < until:
                page = await chat.messages_after(stream_id, sequence, limit=REPLAY_PAGE)
                page = [m for m in page if until is None or m.sequence <= until]
                if not page:
                    return
                last = sequence = page[-1].sequence
                yield list(page)

        async for page in stored_after(last):
            yield page
        async for item in live:
            if isinstance(item, Gap):  # the bus lost events: the database has every message
                async for page in stored_after(last):
                    yield page
            elif isinstance(item, ChatMessagePosted):
                if item.sequence <= last:
                    continue  # already delivered (replay, or filled from the database)
                if item.sequence > last + 1:
                    async for page in stored_after(last, until=item.sequence - 1):
                        yield page
                last = item.sequence
                yield [chat.ChatMessageView.posted(item)]
            elif isinstance(item, ChatMessageDeleted | ChatMessagePinned):
                yield [item]


async def _reaction_items(deps: Deps, stream_id: str) -> AsyncIterator[list[ReactionPosted]]:
    async with deps.bus.subscribe(stream_channel(stream_id, REACTIONS)) as live:
        async for item in live:
            if isinstance(item, ReactionPosted):
                yield [item]


async def batched(source: AsyncIterator[list[T]], window: float = BATCH_WINDOW, max_items: int = 500) -> AsyncIterator[list[T]]:
    """Coalesce ``source``'s lists: the first item goes out at once; while items keep coming, one batch at
    most every ``window`` seconds (and at most ``max_items`` per batch). Errors of ``source`` propagate."""
    queue: asyncio.Queue[list[T] | BaseException | None] = asyncio.Queue(maxsize=1000)

    async def pump() -> None:
        try:
            async for items in source:
                await queue.put(items)
            await queue.put(None)
        except Exception as e:  # delivered to the consumer, which re-raises it
            await queue.put(e)

    task = asyncio.create_task(pump())
    last_sent = float("-inf")
    try:
        while True:
            item = await queue.get()
            batch: list[T] = []
            end: BaseException | bool = False
            deadline = max(time.monotonic(), last_sent + window)
            while True:
                if item is None or isinstance(item, BaseException):
                    end = True if item is None else item
                    break
                batch.extend(item)
                if len(batch) >= max_items:
                    break
                if not queue.empty():
                    item = queue.get_nowait()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    break
            if batch:
                yield batch
                last_sent = time.monotonic()
            if isinstance(end, BaseException):
                raise end
            if end:
                return
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def chat_feed(*, deps: Deps, stream_id: str, after_sequence: int | None) -> AsyncIterator[list[ChatItem]]:
    """Batches of chat items for one subscriber: stored messages after ``after_sequence`` (none when
    ``None``: live only), then live messages, deletions and pins, in order. ``NotFound`` for a bad stream."""
    stream = await streams.existing_stream(stream_id)
    async for items in batched(_chat_items(deps, str(stream.id), after_sequence)):
        yield items


async def reaction_feed(*, deps: Deps, stream_id: str) -> AsyncIterator[list[ReactionPosted]]:
    """Batches of live reactions of a stream (reactions are not replayed)."""
    stream = await streams.existing_stream(stream_id)
    async for items in batched(_reaction_items(deps, str(stream.id))):
        yield items
