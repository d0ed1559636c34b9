"""The stream lifecycle: the one module that owns status transitions and their side effects.

Every trigger (a GraphQL mutation, the local ingest, a provider webhook, a worker) moves a stream through
:func:`transition`, so the rules and the events are the same whoever asks::

    SCHEDULED ─► PREPARING ─► LIVE ◄─► RECONNECTING ─► ENDED ─► ARCHIVED
        │            └──────────┴───────────┴───────────►┘
        └─► CANCELLED                (SCHEDULED ─► LIVE when a provider reports "active" directly)

An illegal move raises :class:`~livecast.domain.errors.InvalidState` and changes nothing. The new status is
persisted with a conditional update (``WHERE status = <expected>``), so two concurrent triggers cannot both
apply, and only then is ``StreamStatusChanged`` published.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from livecast.domain.bus import EventBus
from livecast.domain.errors import InvalidState, NotFound
from livecast.domain.events import LIVE_CHANNEL, StreamStatusChanged, owner_channel, stream_channel
from livecast.domain.models import Stream, StreamStatus

S = StreamStatus

ALLOWED: dict[StreamStatus, frozenset[StreamStatus]] = {
    S.SCHEDULED: frozenset({S.PREPARING, S.LIVE, S.CANCELLED}),
    S.PREPARING: frozenset({S.LIVE, S.RECONNECTING, S.ENDED}),
    S.LIVE: frozenset({S.RECONNECTING, S.ENDED}),
    S.RECONNECTING: frozenset({S.LIVE, S.ENDED}),
    S.ENDED: frozenset({S.ARCHIVED}),
    S.ARCHIVED: frozenset(),
    S.CANCELLED: frozenset(),
}

ACTIVE = frozenset({S.PREPARING, S.LIVE, S.RECONNECTING})
"""Statuses in which an encoder session exists (or may come back)."""
FINISHED = frozenset({S.ENDED, S.ARCHIVED, S.CANCELLED})


def can_move(current: StreamStatus, to: StreamStatus) -> bool:
    return to in ALLOWED[current]


async def transition(
    *,
    bus: EventBus,
    stream_id: str,
    to: StreamStatus,
    reason: str,
    only_from: frozenset[StreamStatus] | None = None,
    when: Mapping[str, object] | None = None,
    also: Mapping[str, object] | None = None,
) -> Stream:
    """Move a stream to ``to`` and publish ``StreamStatusChanged`` on its stream, owner and live channels.

    ``only_from`` narrows the allowed sources further (e.g. the reconnect timer only ends a stream that is
    still ``RECONNECTING``). ``when`` adds conditions (Tortoise filters, e.g. ``reconnect_deadline__lte``) to the
    conditional update, so they are checked atomically with the status; ``also`` sets more columns in the same
    update. Leaving ``RECONNECTING`` clears ``reconnect_deadline``. Raises ``NotFound`` or ``InvalidState``
    (also when a ``when`` condition does not hold); returns the updated stream.
    """
    stream = await Stream.get_or_none(id=stream_id)
    if stream is None:
        raise NotFound(f"stream {stream_id} does not exist")
    current = stream.status
    if not can_move(current, to) or (only_from is not None and current not in only_from):
        raise InvalidState(f"stream is {current.value}; it cannot move to {to.value}", current_status=current.value)
    now = datetime.now(UTC)
    changes: dict[str, object] = {"status": to, "status_changed_at": now, "updated_at": now}
    if to is S.LIVE and stream.started_at is None:
        changes["started_at"] = now
    if to in (S.ENDED, S.CANCELLED) and stream.ended_at is None:
        changes["ended_at"] = now
    if to is not S.RECONNECTING and stream.reconnect_deadline is not None:
        changes["reconnect_deadline"] = None
    changes.update(also or {})
    updated = await Stream.filter(id=stream_id, status=current, **(when or {})).update(**changes)
    if not updated:  # somebody else moved it first (or a condition no longer holds): report what it is now
        fresh = await Stream.get(id=stream_id)
        raise InvalidState(
            f"stream is {fresh.status.value} and cannot move to {to.value} now (changed concurrently)",
            current_status=fresh.status.value,
        )
    for name, value in changes.items():
        setattr(stream, name, value)
    event = StreamStatusChanged(
        stream_id=str(stream.id),
        owner_id=str(stream.owner_id),
        status=to.value,
        previous=current.value,
        reason=reason,
        at=now.isoformat(),
    )
    channels = [stream_channel(event.stream_id), owner_channel(event.owner_id)]
    if to is S.LIVE or (to is S.ENDED and current in ACTIVE):
        channels.append(LIVE_CHANNEL)
    await bus.publish(channels, event)
    return stream
