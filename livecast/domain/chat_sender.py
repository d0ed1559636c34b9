"""What ``send_message`` must know before storing a message, read in ONE query.

The stream (status, chat enabled, owner), whether the sender moderates it, the sender's ban, the chat room's
settings and the sender's name are five rows of five tables. Read one by one they were five database round
trips per message, and with SQLite (one connection, one query at a time for the whole process) those round
trips, not the CPU, capped a busy stream's messages per second. Values are converted by the models' own
fields, so they are what the ORM would return. Other SQL dialects, and malformed ids, take the ORM path
(:func:`livecast.domain.chat.writable_stream`), which raises the same errors.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import connections

from livecast.domain.chat_models import ChatBan, ChatRoom
from livecast.domain.ids import is_uuid
from livecast.domain.models import Stream, StreamStatus

_SQL = """SELECT u.id AS user_key, s.status AS status, s.chat_enabled AS chat_enabled, s.owner_id AS owner_id,
  EXISTS (SELECT 1 FROM stream_moderators m WHERE m.stream_id = s.id AND m.user_id = u.id) AS moderates,
  b.id AS ban_id, b.until AS ban_until,
  r.stream_id AS room, r.slow_mode_seconds AS slow_mode_seconds, r.mode AS mode, r.emote_only AS emote_only,
  r.blocked_words AS blocked_words, u.id AS author_id, u.name AS author_name
FROM streams s
{users}
LEFT JOIN chat_bans b ON b.stream_id = s.id AND b.user_id = u.id
LEFT JOIN chat_rooms r ON r.stream_id = s.id
WHERE s.id = {s}"""
"""``{users}`` joins the sender (one row even if the user is gone) or several senders (a row per existing one)."""
_QUERIES = {
    "sqlite": (_SQL.format(users="LEFT JOIN users u ON u.id = ?", s="?"), lambda stream, user: [user, stream]),
    "postgres": (_SQL.format(users="LEFT JOIN users u ON u.id = $1", s="$2"), lambda stream, user: [user, stream]),
}
_MANY = {
    "sqlite": (
        lambda n: _SQL.format(users=f"JOIN users u ON u.id IN ({', '.join('?' * n)})", s="?"),
        lambda stream, users: [*users, stream],
    ),
    "postgres": (
        lambda n: _SQL.format(users="JOIN users u ON u.id = ANY($1::uuid[])", s="$2"),
        lambda stream, users: [users, stream],
    ),
}


@dataclass(frozen=True)
class SenderState:
    """The row read for a sender; ids as stored (canonical UUID text)."""

    stream_id: str
    user_id: str
    status: StreamStatus
    chat_enabled: bool
    owner_id: str
    moderates: bool
    ban_until: datetime | None
    banned: bool
    """A ban row exists (it may have expired: compare ``ban_until`` with now)."""
    room: ChatRoom | None
    """The room's settings (not a saved row: read-only), ``None`` if the stream has no room yet."""
    author_name: str | None
    """``None`` if the sender's user no longer exists."""

    def ban_active(self, now: datetime | None = None) -> bool:
        return self.banned and (self.ban_until is None or self.ban_until > (now or datetime.now(UTC)))


def _value(model: Any, field: str, raw: Any) -> Any:
    return model._meta.fields_map[field].to_python_value(raw)


def answers(stream_id: str, user_id: str) -> bool:
    """Whether :func:`read` can answer (SQLite or PostgreSQL, well-formed ids); otherwise use the ORM."""
    return connections.get("default").capabilities.dialect in _QUERIES and is_uuid(stream_id) and is_uuid(user_id)


def _state(row: dict[str, Any], stream_id: str, user_id: str) -> SenderState:
    room = None
    if row["room"] is not None:
        room = ChatRoom(
            stream_id=stream_id,
            slow_mode_seconds=int(row["slow_mode_seconds"]),
            mode=_value(ChatRoom, "mode", row["mode"]),
            emote_only=bool(_value(ChatRoom, "emote_only", row["emote_only"])),
            blocked_words=_value(ChatRoom, "blocked_words", row["blocked_words"]),
        )
    return SenderState(
        stream_id=stream_id,
        user_id=user_id,
        status=_value(Stream, "status", row["status"]),
        chat_enabled=bool(_value(Stream, "chat_enabled", row["chat_enabled"])),
        owner_id=str(row["owner_id"]),
        moderates=bool(row["moderates"]),
        ban_until=_value(ChatBan, "until", row["ban_until"]) if row["ban_id"] is not None else None,
        banned=row["ban_id"] is not None,
        room=room,
        author_name=None if row["author_id"] is None else row["author_name"],
    )


async def _read_one(stream_id: str, user_id: str) -> SenderState | None:
    conn = connections.get("default")
    sql, params = _QUERIES[conn.capabilities.dialect]
    rows = await conn.execute_query_dict(sql, params(stream_id, user_id))
    return _state(rows[0], stream_id, user_id) if rows else None


async def _read_many(stream_id: str, user_ids: list[str]) -> dict[str, SenderState]:
    """The states of existing users (a user without a row is missing from the result)."""
    conn = connections.get("default")
    sql, params = _MANY[conn.capabilities.dialect]
    rows = await conn.execute_query_dict(sql(len(user_ids)), params(stream_id, user_ids))
    states = {}
    for row in rows:
        user_id = str(uuid.UUID(str(row["user_key"])))
        states[user_id] = _state(row, stream_id, user_id)
    return states


async def read(stream_id: str, user_id: str) -> SenderState | None:
    """The state, or ``None`` if the stream does not exist. Only where :func:`answers`.

    Senders of one stream asking in the same event-loop turn share one query (under load, dozens of posts
    arrive together: one round trip instead of one each, which on SQLite's single connection is what limits
    a busy chat). Every caller still gets the database's state as of its own request."""
    stream_id, user_id = str(uuid.UUID(stream_id)), str(uuid.UUID(user_id))
    loop = asyncio.get_running_loop()
    by_stream = _waiting.setdefault(loop, {})
    batch = by_stream.get(stream_id)
    if batch is None:
        batch = by_stream[stream_id] = {}
        loop.call_soon(_start, loop, stream_id)
    answer: asyncio.Future[SenderState | None] = loop.create_future()
    batch.setdefault(user_id, []).append(answer)
    return await answer


_waiting: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, dict[str, list[asyncio.Future[SenderState | None]]]]
] = weakref.WeakKeyDictionary()
"""Per event loop and stream: the senders waiting for the next query, by user."""
_running: set[asyncio.Task[None]] = set()


def _start(loop: asyncio.AbstractEventLoop, stream_id: str) -> None:
    batch = _waiting[loop].pop(stream_id)
    task = loop.create_task(_answer(stream_id, batch))
    _running.add(task)
    task.add_done_callback(_running.discard)


async def _answer(stream_id: str, batch: dict[str, list[asyncio.Future[SenderState | None]]]) -> None:
    try:
        states: dict[str, SenderState | None] = dict(await _read_many(stream_id, list(batch))) if len(batch) > 1 else {}
        for user_id in batch.keys() - states.keys():  # one sender, or a user (or the stream) gone: the plain query
            states[user_id] = await _read_one(stream_id, user_id)
    except Exception as e:
        for answers in batch.values():
            for answer in answers:
                if not answer.done():
                    answer.set_exception(e)
        return
    for user_id, answers in batch.items():
        for answer in answers:
            if not answer.done():
                answer.set_result(states[user_id])
