"""The chat group commit on SQLite in one trip to the database thread.

Tortoise's SQLite client runs every statement in aiosqlite's worker thread and wakes the event loop for each
result. A group commit through the ORM is four such trips (``BEGIN``, the sequence ``UPDATE``, the
``INSERT``, ``COMMIT``), and with 1,000 websocket subscribers of a busy stream the event loop is slow to come
back to each one: a group took ~27 ms, one after the other, and that, not the disk (a commit here costs
~0.2 ms), capped a stream near 500 messages/s. Here the whole transaction is one function run in that
thread, under the client's own lock, so it is ordered with every other query exactly as the ORM's
transaction would be. It uses two private attributes of aiosqlite's connection (``_execute``, ``_conn``);
:func:`available` is false without ``_execute``, and the caller keeps to the ORM (tests check it is used).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import aiosqlite
from tortoise import connections

from livecast.domain.chat_models import ChatMessage

ADVANCE = (
    "UPDATE chat_rooms SET last_sequence = last_sequence + ?, message_count = message_count + ? "
    "WHERE stream_id = ? RETURNING last_sequence"
)
"""Reserve ``n`` sequences (SQLite; also :data:`livecast.domain.chat_commit.ADVANCE`'s)."""
COLUMNS = ("id", "stream_id", "sequence", "author_id", "content", "created_at")
INSERT = f"INSERT INTO chat_messages ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
SEQUENCE = COLUMNS.index("sequence")


_USABLE = hasattr(aiosqlite.Connection, "_execute")


def available() -> bool:
    """Whether the default connection is SQLite and this aiosqlite still runs a function in its thread."""
    return _USABLE and connections.get("default").capabilities.dialect == "sqlite"


def _commit(db: sqlite3.Connection, stream_id: str, rows: list[list[Any]]) -> int:
    """In the database thread: reserve the sequences, insert the rows, commit; the new ``last_sequence``."""
    db.execute("BEGIN")
    try:
        found = db.execute(ADVANCE, (len(rows), len(rows), stream_id)).fetchone()
        if found is None:
            raise LookupError(f"stream {stream_id} has no chat room")
        last = int(found[0])
        for i, row in enumerate(rows):
            row[SEQUENCE] = last - len(rows) + 1 + i
        db.executemany(INSERT, rows)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return last


async def store(stream_id: str, messages: list[ChatMessage]) -> None:
    """Store ``messages`` (unsaved, without sequences) in one transaction and set their sequences."""
    fields = ChatMessage._meta.fields_map
    rows = [[fields[c].to_db_value(getattr(m, c), m) for c in COLUMNS] for m in messages]
    async with connections.get("default").acquire_connection() as conn:  # the client's lock: ordered with the ORM
        last = await conn._execute(lambda: _commit(conn._conn, stream_id, rows))
    for i, message in enumerate(messages):
        message.sequence = last - len(messages) + 1 + i
