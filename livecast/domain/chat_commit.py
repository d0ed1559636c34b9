"""Group commit of chat messages: the messages sent to one stream while its previous commit was running are
stored together, in one transaction, then published in sequence order, then acknowledged.

Why: a commit waits for the disk (``fsync``, a few milliseconds), and the room row stays locked until it is
done, so one message per transaction caps a stream at a few hundred messages per second however many cores
there are. A group takes one lock, one ``UPDATE ... RETURNING`` for its sequences and one commit.

What does not change: a message is acknowledged (and published) only after the transaction that stores it
has committed; sequences are gap-free and ordered across processes (the ``UPDATE`` on the room row holds
its lock until the commit, and a rolled-back group rolls its sequences back). If a group fails, its messages
are retried one by one, so only the one that cannot be stored fails. Nothing waits to form a group: a
message sent to an idle stream is committed at once.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from livecast.domain import chat_commit_sqlite
from livecast.domain.bus import EventBus
from livecast.domain.chat_models import ChatMessage, ChatRoom
from livecast.domain.events import CHAT, ChatMessagePosted, stream_channel

logger = logging.getLogger(__name__)

MAX_GROUP = 200
"""Messages per transaction at most."""
ADVANCE = {
    "sqlite": chat_commit_sqlite.ADVANCE,
    "postgres": "UPDATE chat_rooms SET last_sequence = last_sequence + $1, message_count = message_count + $2 "
    "WHERE stream_id = $3 RETURNING last_sequence",
}
"""Reserve ``n`` sequences in one round trip (the row stays locked until the commit), per SQL dialect."""


@dataclass(eq=False)
class _Pending:
    author_id: str
    author_name: str
    content: str
    bus: EventBus
    done: asyncio.Future[ChatMessage] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


async def _advance(conn: BaseDBAsyncClient, stream_id: str, n: int) -> int:
    """The room's ``last_sequence`` after adding ``n`` (``LookupError`` if the stream has no room)."""
    sql = ADVANCE.get(conn.capabilities.dialect)
    if sql is not None:
        rows = await conn.execute_query_dict(sql, [n, n, stream_id])
        if not rows:
            raise LookupError(f"stream {stream_id} has no chat room")
        return int(rows[0]["last_sequence"])
    query = ChatRoom.filter(stream_id=stream_id).using_db(conn)
    await query.update(last_sequence=F("last_sequence") + n, message_count=F("message_count") + n)
    return (await ChatRoom.filter(stream_id=stream_id).using_db(conn).only("last_sequence").get()).last_sequence


async def _store(stream_id: str, group: list[_Pending]) -> list[ChatMessage]:
    now = datetime.now(UTC)
    if chat_commit_sqlite.available():  # one trip to SQLite's thread instead of four
        rows = [
            ChatMessage(stream_id=stream_id, author_id=p.author_id, content=p.content, created_at=now) for p in group
        ]
        await chat_commit_sqlite.store(stream_id, rows)
        return rows
    async with in_transaction() as conn:
        last = await _advance(conn, stream_id, len(group))
        rows = [
            ChatMessage(stream_id=stream_id, sequence=last - len(group) + 1 + i, author_id=p.author_id, content=p.content, created_at=now)
            for i, p in enumerate(group)
        ]  # fmt: skip
        await ChatMessage.bulk_create(rows, using_db=conn)
    return rows


class _Committer:
    """Commits one stream's queued messages, a group at a time, while there are any (then ends)."""

    def __init__(self, stream_id: str, registry: dict[str, _Committer]) -> None:
        self.stream_id = stream_id
        self.queue: list[_Pending] = []
        self._registry = registry
        self.task = asyncio.create_task(self._run(), name=f"livecast-chat-commit:{stream_id}")

    async def _run(self) -> None:
        group: list[_Pending] = []
        try:
            while self.queue:
                group, self.queue = self.queue[:MAX_GROUP], self.queue[MAX_GROUP:]
                try:
                    stored = await _store(self.stream_id, group)
                except Exception as e:
                    if len(group) == 1:
                        _fail(group[0], e)
                        continue
                    logger.warning("storing %d chat messages together failed (%r); one by one", len(group), e)
                    for pending in group:
                        try:
                            await self._deliver([pending], await _store(self.stream_id, [pending]))
                        except Exception as e1:
                            _fail(pending, e1)
                    continue
                await self._deliver(group, stored)
        except asyncio.CancelledError:  # shutdown: whoever still waits is cancelled too
            for pending in [*group, *self.queue]:
                pending.done.cancel()
            raise
        finally:
            if self._registry.get(self.stream_id) is self:
                del self._registry[self.stream_id]

    @staticmethod
    async def _deliver(group: list[_Pending], stored: list[ChatMessage]) -> None:
        """Publish the group's events in sequence order (one broker round trip per bus), then acknowledge."""
        by_bus: dict[int, tuple[EventBus, list[tuple[list[str], ChatMessagePosted]]]] = {}
        for pending, message in zip(group, stored, strict=True):
            event = ChatMessagePosted(
                stream_id=str(message.stream_id), message_id=str(message.id), sequence=message.sequence,
                author_id=pending.author_id, content=message.content, at=message.created_at.isoformat(),
                author_name=pending.author_name,
            )  # fmt: skip
            by_bus.setdefault(id(pending.bus), (pending.bus, []))[1].append(
                ([stream_channel(event.stream_id, CHAT)], event)
            )
        for bus, events in by_bus.values():
            await bus.publish_many(events)
        for pending, message in zip(group, stored, strict=True):
            if not pending.done.done():
                pending.done.set_result(message)


def _fail(pending: _Pending, error: BaseException) -> None:
    if not pending.done.done():
        pending.done.set_exception(error)


_committers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Committer]] = weakref.WeakKeyDictionary()


async def store_and_publish(
    *, bus: EventBus, stream_id: str, author_id: str, author_name: str, content: str
) -> ChatMessage:
    """Store a message with the stream's next sequence (grouped with concurrent ones), publish its
    ``ChatMessagePosted``, and return it. Raises what storing it raised (e.g. the database is down)."""
    registry = _committers.setdefault(asyncio.get_running_loop(), {})
    pending = _Pending(author_id=author_id, author_name=author_name, content=content, bus=bus)
    committer = registry.get(stream_id)
    if committer is None:
        committer = registry[stream_id] = _Committer(stream_id, registry)
    committer.queue.append(pending)
    pending.done.add_done_callback(_retrieved)
    return await asyncio.shield(pending.done)  # a caller that goes away does not undo a commit


def _retrieved(done: asyncio.Future[ChatMessage]) -> None:
    if not done.cancelled():
        done.exception()  # the caller may be gone: no "exception was never retrieved" in the log
