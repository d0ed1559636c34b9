"""Chat activity time series for analytics: messages posted and reactions sent per time bucket.

Counted in the database (``GROUP BY`` the bucket), not by reading every row: a busy stream has hundreds of
thousands of reactions. Messages count as posted when they were (deleted ones included), like
``chat_messages_per_minute``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise import connections

BUCKET_SQL = {
    "sqlite": "SELECT CAST(strftime('%s', created_at) AS INTEGER) / {n} AS bucket, COUNT(*) AS n "
    "FROM {table} WHERE stream_id = ? GROUP BY bucket",
    "postgres": "SELECT FLOOR(EXTRACT(EPOCH FROM created_at) / {n})::bigint AS bucket, COUNT(*) AS n "
    "FROM {table} WHERE stream_id = $1 GROUP BY bucket",
}
"""Rows per ``n``-second bucket (aligned on the Unix epoch) of one stream, per SQL dialect."""
TABLES = {"messages": "chat_messages", "reactions": "reactions"}


@dataclass(frozen=True)
class ChatPoint:
    """Chat messages posted and reactions sent in the bucket ``[at, at + interval)``."""

    at: datetime
    messages: int
    reactions: int


async def _buckets(table: str, stream_id: str, interval: int) -> dict[int, int]:
    conn = connections.get("default")
    sql = BUCKET_SQL.get(conn.capabilities.dialect)
    if sql is None:
        raise NotImplementedError(f"chat series on {conn.capabilities.dialect}")
    rows = await conn.execute_query_dict(sql.format(n=int(interval), table=table), [str(uuid.UUID(stream_id))])
    return {int(row["bucket"]): int(row["n"]) for row in rows}


async def series(*, stream_id: str, interval: int) -> list[ChatPoint]:
    """Messages and reactions per ``interval`` seconds (an integer the caller checked), oldest first; buckets
    with neither are left out. ``stream_id`` is a stream the caller may see."""
    messages = await _buckets(TABLES["messages"], stream_id, interval)
    reactions = await _buckets(TABLES["reactions"], stream_id, interval)
    return [
        ChatPoint(
            at=datetime.fromtimestamp(n * interval, UTC), messages=messages.get(n, 0), reactions=reactions.get(n, 0)
        )
        for n in sorted(messages.keys() | reactions.keys())
    ]
