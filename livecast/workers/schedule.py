"""Scheduled-stream jobs: a periodic check that fans out one idempotent job per stream.

``check`` (periodic) asks the domain what is due and kicks ``remind(stream_id, kind)`` and
``cancel_unstarted(stream_id)``; those call :mod:`livecast.domain.schedule`, which sends each reminder once
and cancels once, whichever worker runs them and however often. A job lost with a crashed worker is kicked
again by the next check, since the stream is still due.
"""

from __future__ import annotations

import logging

from taskiq import AsyncBroker, Context, TaskiqDepends

from livecast.domain import schedule
from livecast.domain.deps import Deps
from livecast.domain.models import ReminderKind
from livecast.settings import Settings

logger = logging.getLogger(__name__)

CHECK = "livecast.schedule.check"
REMIND = "livecast.schedule.remind"
CANCEL = "livecast.schedule.cancel_unstarted"


async def check(slot: int, context: Context = TaskiqDepends(), settings: Settings = TaskiqDepends()) -> int:
    """Periodic job: kick a job for every due reminder and every stream past its grace period.

    Returns how many jobs it kicked. Raises if the database or the broker fails (the next period retries)."""
    due = await schedule.due(
        lead_seconds=settings.reminder_lead_seconds, grace_seconds=settings.scheduled_grace_seconds
    )
    broker = context.broker
    for stream_id, kind in due.reminders:
        await _kick(broker, REMIND, f"remind:{stream_id}:{kind.value}", stream_id=stream_id, kind=kind.value)
    for stream_id in due.overdue:
        await _kick(broker, CANCEL, f"cancel:{stream_id}", stream_id=stream_id)
    return len(due.reminders) + len(due.overdue)


async def remind(stream_id: str, kind: str, deps: Deps = TaskiqDepends(), settings: Settings = TaskiqDepends()) -> bool:
    """Send reminder ``kind`` (``STARTS_SOON`` | ``STARTING``) of a stream unless it was sent or is not due.

    Returns whether this run sent it. Raises ``ValueError`` for an unknown kind."""
    event = await schedule.send_reminder(
        deps=deps,
        stream_id=stream_id,
        kind=ReminderKind(kind),
        lead_seconds=settings.reminder_lead_seconds,
        grace_seconds=settings.scheduled_grace_seconds,
    )
    if event is not None:
        logger.info("stream %s: %s reminder sent (scheduled at %s)", stream_id, kind, event.scheduled_at)
    return event is not None


async def cancel_unstarted(stream_id: str, deps: Deps = TaskiqDepends(), settings: Settings = TaskiqDepends()) -> bool:
    """Cancel a stream still ``SCHEDULED`` past ``scheduledAt + LIVECAST_SCHEDULED_GRACE_SECONDS``; returns
    whether this run cancelled it."""
    stream = await schedule.cancel_if_not_started(
        deps=deps, stream_id=stream_id, grace_seconds=settings.scheduled_grace_seconds
    )
    if stream is not None:
        logger.info("stream %s cancelled: %s", stream_id, schedule.NOT_STARTED)
    return stream is not None


async def _kick(broker: AsyncBroker, name: str, task_id: str, **kwargs: str) -> None:
    task = broker.find_task(name)
    if task is None:
        raise LookupError(f"job {name} is not registered on this broker")
    await task.kicker().with_task_id(task_id).kiq(**kwargs)
