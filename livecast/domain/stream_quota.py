"""Per-owner limits on creating streams, so that one account cannot fill the database.

- **Open streams**: an owner may have at most ``Deps.max_open_streams_per_owner`` streams that are not over
  (:data:`OPEN`: ``SCHEDULED``, ``PREPARING``, ``LIVE``, ``RECONNECTING``; setting
  ``LIVECAST_MAX_OPEN_STREAMS_PER_OWNER``, 20). One more is refused with ``ValidationFailed`` (code
  ``VALIDATION``, no ``field``): end, cancel or delete one first. Admins are exempt (operators set up events
  for others).
- **Creation rate**: ``LIVECAST_STREAM_CREATE_RATE_LIMIT`` (``50/day``) per user, admins included, so that
  ``ENDED`` and ``CANCELLED`` streams cannot pile up without bound either: ``RateLimited`` (code
  ``RATE_LIMITED``, ``retry_after`` in seconds). An attempt counts once it passed input validation and the
  open-stream check, provider failures included.

The count is race-safe: the stream is inserted in a transaction that first locks the owner's ``users`` row
(PostgreSQL ``SELECT ... FOR NO KEY UPDATE``, which leaves rows that merely reference the user, such as chat
messages, unblocked; SQLite runs a process's transactions one at a time on its one connection) and counts
again under that lock. Concurrent creates of one owner, on any number of API processes, cannot exceed it.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from livecast.domain import lifecycle
from livecast.domain.auth import Principal
from livecast.domain.deps import Deps
from livecast.domain.errors import NotFound, ValidationFailed
from livecast.domain.models import Stream, StreamStatus, User
from livecast.domain.ratelimit import STREAMS

OPEN = frozenset(StreamStatus) - lifecycle.FINISHED
"""Statuses of a stream that is not over: it counts against its owner's open-stream limit."""


async def open_streams(owner_id: str) -> int:
    """How many streams of ``owner_id`` are :data:`OPEN` (one ``COUNT`` on the status index)."""
    return await Stream.filter(owner_id=owner_id, status__in=list(OPEN)).count()


def _too_many(limit: int) -> ValidationFailed:
    return ValidationFailed(
        f"you have {limit} streams that are not over (SCHEDULED, PREPARING, LIVE or RECONNECTING), the most one "
        "owner may have: end, cancel or delete one first"
    )


async def admit(*, deps: Deps, actor: Principal) -> None:
    """Before a stream is provisioned: ``ValidationFailed`` if ``actor`` already has the most open streams
    (admins exempt), then one attempt counted against the creation rate (``RateLimited`` past it)."""
    limit = deps.max_open_streams_per_owner
    if not actor.is_admin and await open_streams(actor.user_id) >= limit:
        raise _too_many(limit)
    await deps.limits.check(STREAMS, actor.user_id)


async def insert(*, deps: Deps, actor: Principal, stream: Stream) -> None:
    """Save the new ``stream`` of ``actor`` unless its open streams reached the limit meanwhile
    (``ValidationFailed``; nothing saved). ``NotFound`` if the owner's user row no longer exists."""
    limit = deps.max_open_streams_per_owner
    async with in_transaction() as conn:
        owner = await User.filter(id=actor.user_id).select_for_update(no_key=True).using_db(conn).first()
        if owner is None:
            raise NotFound("your user no longer exists")
        if not actor.is_admin:
            count = await Stream.filter(owner_id=actor.user_id, status__in=list(OPEN)).using_db(conn).count()
            if count >= limit:
                raise _too_many(limit)
        await stream.save(using_db=conn)
