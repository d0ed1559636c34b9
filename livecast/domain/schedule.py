"""Scheduled streams: start-time reminders, and the auto-cancel of streams nobody started.

A periodic worker job asks :func:`due` what there is to do, then runs :func:`send_reminder` and
:func:`cancel_if_not_started` per stream. Both are idempotent, so a job may run twice, late, or on several
workers at once:

* a reminder is claimed with a conditional UPDATE (``... WHERE <kind>_reminded_at IS NULL AND <still due>``)
  before it is published, so it is sent at most once per stream and ``scheduledAt`` (a reschedule resets it);
* the cancel goes through :func:`livecast.domain.lifecycle.transition`, which applies once.

Windows (``lead`` and ``grace`` in seconds; only ``SCHEDULED`` streams)::

    STARTS_SOON   scheduledAt - lead <= now < scheduledAt
    STARTING      scheduledAt <= now < scheduledAt + grace
    CANCELLED     scheduledAt + grace <= now

A stream first seen inside the ``STARTING`` window (created late, or no worker ran meanwhile) gets only
``STARTING``: "starts soon" after the start would be wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from livecast.domain import lifecycle
from livecast.domain.deps import Deps
from livecast.domain.errors import InvalidState
from livecast.domain.events import SCHEDULE, StreamReminder, owner_channel, stream_channel
from livecast.domain.ids import is_uuid
from livecast.domain.models import ReminderKind, Stream, StreamStatus

NOT_STARTED = "not started within the grace period"
"""The ``reason`` of the ``StreamStatusChanged`` event of an auto-cancel."""
BATCH = 500
"""Streams of each kind returned by one :func:`due`; the rest wait for the next check."""

REMINDED_AT = {ReminderKind.STARTS_SOON: "starts_soon_reminded_at", ReminderKind.STARTING: "starting_reminded_at"}
"""The ``Stream`` field that records when each reminder was sent."""
UNSENT: dict[str, Any] = dict.fromkeys(REMINDED_AT.values())
"""Field values marking both reminders as not sent (applied when ``scheduled_at`` changes)."""


@dataclass(frozen=True)
class Due:
    """What a check found: reminders to send (stream id, kind) and streams to cancel (ids)."""

    reminders: list[tuple[str, ReminderKind]]
    overdue: list[str]


def _window(kind: ReminderKind, now: datetime, lead_seconds: int, grace_seconds: int) -> dict[str, Any]:
    """Filter of the streams for which reminder ``kind`` is due at ``now``."""
    if kind is ReminderKind.STARTS_SOON:
        return {"scheduled_at__gt": now, "scheduled_at__lte": now + timedelta(seconds=lead_seconds)}
    return {"scheduled_at__lte": now, "scheduled_at__gt": now - timedelta(seconds=grace_seconds)}


def _pending(kind: ReminderKind, now: datetime, lead_seconds: int, grace_seconds: int) -> dict[str, Any]:
    return {
        "status": StreamStatus.SCHEDULED,
        f"{REMINDED_AT[kind]}__isnull": True,
        **_window(kind, now, lead_seconds, grace_seconds),
    }


async def due(*, lead_seconds: int, grace_seconds: int, now: datetime | None = None, limit: int = BATCH) -> Due:
    """Reminders due at ``now`` and not sent yet, and ``SCHEDULED`` streams past ``scheduledAt + grace``.

    ``lead_seconds`` and ``grace_seconds`` are the windows above; at most ``limit`` of each kind, earliest first.
    """
    now = now or datetime.now(UTC)
    reminders: list[tuple[str, ReminderKind]] = []
    for kind in REMINDED_AT:
        ids = await (
            Stream.filter(**_pending(kind, now, lead_seconds, grace_seconds))
            .order_by("scheduled_at")
            .limit(limit)
            .values_list("id", flat=True)
        )
        reminders += [(str(stream_id), kind) for stream_id in ids]
    overdue = await (
        Stream.filter(status=StreamStatus.SCHEDULED, scheduled_at__lte=now - timedelta(seconds=grace_seconds))
        .order_by("scheduled_at")
        .limit(limit)
        .values_list("id", flat=True)
    )
    return Due(reminders=reminders, overdue=[str(stream_id) for stream_id in overdue])


async def send_reminder(
    *,
    deps: Deps,
    stream_id: str,
    kind: ReminderKind,
    lead_seconds: int,
    grace_seconds: int,
    now: datetime | None = None,
) -> StreamReminder | None:
    """Publish reminder ``kind`` on the stream's and the owner's ``schedule`` channels, once.

    Returns the event, or ``None`` when there is nothing to send: already sent (by this or another worker),
    not due (yet or any more), not ``SCHEDULED``, or no such stream. Never raises for those.
    """
    if not is_uuid(stream_id):
        return None
    now = now or datetime.now(UTC)
    marker = REMINDED_AT[kind]
    claimed = await Stream.filter(id=stream_id, **_pending(kind, now, lead_seconds, grace_seconds)).update(
        **{marker: now}
    )
    if not claimed:
        return None
    stream = await Stream.get_or_none(id=stream_id)
    if stream is None or stream.scheduled_at is None:  # deleted or unscheduled in between
        return None
    event = StreamReminder(
        stream_id=str(stream.id),
        owner_id=str(stream.owner_id),
        kind=kind.value,
        scheduled_at=stream.scheduled_at.isoformat(),
        at=now.isoformat(),
    )
    await deps.bus.publish([stream_channel(event.stream_id, SCHEDULE), owner_channel(event.owner_id, SCHEDULE)], event)
    return event


async def cancel_if_not_started(
    *, deps: Deps, stream_id: str, grace_seconds: int, now: datetime | None = None
) -> Stream | None:
    """``SCHEDULED`` → ``CANCELLED`` (reason :data:`NOT_STARTED`) once ``scheduledAt + grace_seconds`` has passed.

    Returns the cancelled stream, or ``None`` when there is nothing to do: no such stream, not ``SCHEDULED``
    (started, or cancelled by someone else first), not scheduled, or still inside the grace period.
    """
    if not is_uuid(stream_id):
        return None
    now = now or datetime.now(UTC)
    stream = await Stream.get_or_none(id=stream_id)
    if stream is None or stream.status is not StreamStatus.SCHEDULED or stream.scheduled_at is None:
        return None
    if stream.scheduled_at + timedelta(seconds=grace_seconds) > now:
        return None
    try:
        return await lifecycle.transition(
            bus=deps.bus,
            stream_id=stream_id,
            to=StreamStatus.CANCELLED,
            reason=NOT_STARTED,
            only_from=frozenset({StreamStatus.SCHEDULED}),
        )
    except InvalidState:  # an encoder connected, or the owner cancelled, in between
        return None
