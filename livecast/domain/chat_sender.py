"""What ``send_message`` must know before storing a message, read in ONE query.

The stream (status, chat enabled, owner), whether the sender moderates it, the sender's ban, the chat room's
settings and the sender's name are five rows of five tables. Read one by one they were five database round
trips per message, and with SQLite (one connection, one query at a time for the whole process) those round
trips, not the CPU, capped a busy stream's messages per second. Values are converted by the models' own
fields, so they are what the ORM would return. Other SQL dialects, and malformed ids, take the ORM path
(:func:`livecast.domain.chat.writable_stream`), which raises the same errors.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import connections

from livecast.domain.chat_models import ChatBan, ChatRoom
from livecast.domain.models import Stream, StreamStatus

_SQL = """SELECT s.status AS status, s.chat_enabled AS chat_enabled, s.owner_id AS owner_id,
  EXISTS (SELECT 1 FROM stream_moderators m WHERE m.stream_id = s.id AND m.user_id = {u}) AS moderates,
  b.id AS ban_id, b.until AS ban_until,
  r.stream_id AS room, r.slow_mode_seconds AS slow_mode_seconds, r.mode AS mode, r.emote_only AS emote_only,
  r.blocked_words AS blocked_words, u.id AS author_id, u.name AS author_name
FROM streams s
LEFT JOIN chat_bans b ON b.stream_id = s.id AND b.user_id = {u}
LEFT JOIN chat_rooms r ON r.stream_id = s.id
LEFT JOIN users u ON u.id = {u}
WHERE s.id = {s}"""
_QUERIES = {
    "sqlite": (_SQL.format(u="?", s="?"), lambda stream, user: [user, user, user, stream]),
    "postgres": (_SQL.format(u="$1", s="$2"), lambda stream, user: [user, stream]),
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


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def answers(stream_id: str, user_id: str) -> bool:
    """Whether :func:`read` can answer (SQLite or PostgreSQL, well-formed ids); otherwise use the ORM."""
    return connections.get("default").capabilities.dialect in _QUERIES and _is_uuid(stream_id) and _is_uuid(user_id)


async def read(stream_id: str, user_id: str) -> SenderState | None:
    """The state, or ``None`` if the stream does not exist. Only where :func:`answers`."""
    conn = connections.get("default")
    query = _QUERIES[conn.capabilities.dialect]
    sql, params = query
    stream_id, user_id = str(uuid.UUID(stream_id)), str(uuid.UUID(user_id))
    rows = await conn.execute_query_dict(sql, params(stream_id, user_id))
    if not rows:
        return None
    row = rows[0]
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
