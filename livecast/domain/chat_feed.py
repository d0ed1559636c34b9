"""Live chat and reaction feeds: stored history replayed, then live events, with no gap and no duplicate.

A chat subscriber joins its stream's shared live feed (:mod:`livecast.domain.chat_fanout`: one bus
subscription and one batcher per stream per process) *before* the database is read, so nothing posted in
between is missed; messages are then deduplicated by ``sequence``. A hole in the live sequence (an event lost
on the way, a bus outage, or two processes publishing out of order) is filled from the database, where every
message was stored before it was published. Under load, items are coalesced into batches at most every
``window`` seconds (100 ms by default; longer while the previous batch is still being sent, plus a rest as
long as that took, see ``chat_fanout.FANOUT_REST``) so a hot stream costs one websocket frame per batch, not
per message. Reactions use :func:`batched` per subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import TypeVar

from livecast.domain import chat, chat_catchup, chat_fanout, streams
from livecast.domain.chat_models import ChatRoom
from livecast.domain.deps import Deps
from livecast.domain.events import REACTIONS, ReactionPosted, stream_channel

T = TypeVar("T")
ChatItem = chat_fanout.ChatItem | chat_catchup.PinState
BATCH_WINDOW = chat_fanout.WINDOW
"""Seconds: the most a batch waits for more items, and only right after another batch went out."""
REPLAY_PAGE = 500


async def _reaction_items(deps: Deps, stream_id: str) -> AsyncIterator[list[ReactionPosted]]:
    async with deps.bus.subscribe(stream_channel(stream_id, REACTIONS)) as live:
        async for item in live:
            if isinstance(item, ReactionPosted):
                yield [item]


async def batched(
    source: AsyncIterator[list[T]], window: float = BATCH_WINDOW, max_items: int = 500
) -> AsyncIterator[list[T]]:
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
    ``None``: live only), then live messages, deletions and pins, in order. ``NotFound`` for a bad stream.

    A resumed subscriber (``after_sequence`` given) is first told of deletions it missed among the messages
    it has, and after the replay of the pin's state (:class:`~livecast.domain.chat_catchup.PinState`) if the pin
    changed meanwhile (:func:`livecast.domain.chat_catchup.missed_changes`; from 0: the pinned message, if any).

    Live batches come from the stream's shared feed (:mod:`livecast.domain.chat_fanout`); a batch this
    subscriber takes whole is yielded as is (the shared :class:`~livecast.domain.chat_fanout.Batch`)."""
    stream = await streams.existing_stream(stream_id)
    sid = str(stream.id)
    async with chat_fanout.follow(deps.bus, sid) as member:  # joined before the database is read
        if after_sequence is None:  # live only: start after whatever is stored now
            room = await ChatRoom.get_or_none(stream_id=sid)
            last = room.last_sequence if room else 0
            deleted, pin = [], None
        else:
            last = max(after_sequence, 0)
            deleted, pin = await chat_catchup.missed_changes(sid, last)  # about messages it has: told first
            if deleted:
                yield list(deleted)
        while True:  # stored messages first
            page = await chat.messages_after(sid, last, limit=REPLAY_PAGE)
            if not page:
                break
            last = page[-1].sequence
            yield page
        if pin is not None:  # after the replay, which may hold the pinned message
            yield [pin]
        member.live = True
        while True:
            try:
                batch = await member.next()
            except StopAsyncIteration:
                return
            first = getattr(batch, "first_sequence", None)
            if first is None or first == last + 1:  # the usual case: continues exactly where this reader is
                last = batch.last_sequence or last
                yield batch
                continue
            own: list[ChatItem] = []
            for item in batch:
                if isinstance(item, chat.ChatMessageView):
                    if item.sequence <= last:
                        continue  # already delivered (replayed from the database)
                    while item.sequence > last + 1:  # joined between a message's commit and its publication
                        page = await chat.messages_after(sid, last, limit=min(REPLAY_PAGE, item.sequence - 1 - last))
                        if not page:
                            break
                        own.extend(page)
                        last = page[-1].sequence
                    last = item.sequence
                own.append(item)
            if len(own) == len(batch) and all(a is b for a, b in zip(own, batch, strict=True)):
                yield batch
            elif own:
                yield own


async def reaction_feed(*, deps: Deps, stream_id: str) -> AsyncIterator[list[ReactionPosted]]:
    """Batches of live reactions of a stream (reactions are not replayed)."""
    stream = await streams.existing_stream(stream_id)
    async for items in batched(_reaction_items(deps, str(stream.id))):
        yield items
