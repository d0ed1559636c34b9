"""Webhook inbox jobs: apply a stream's stored provider events in order, sweep what is left, reconcile LiveKit.

* ``apply_stream(stream_id)``: kicked by the webhook route right after it stored a new event (embedded mode; in
  distributed mode the API process has no broker and the sweep picks the event up within a period).
* ``sweep`` (periodic, ``LIVECAST_LIFECYCLE_CHECK_SECONDS``): kicks ``apply_stream`` for every stream with
  ``PENDING`` events or ``FAILED`` ones with attempts left (lost kicks, crashed workers, transient errors).
* ``reconcile_livekit`` (periodic, :data:`RECONCILE_SECONDS`): re-reads every active LiveKit broadcast from the
  LiveKit API, since LiveKit drops webhooks when its queue overflows.

Per-stream order holds with any number of workers: see :class:`livecast.domain.webhooks.StreamLocks`.
"""

from __future__ import annotations

import logging

from taskiq import AsyncBroker, Context, TaskiqDepends

from livecast.domain import webhooks
from livecast.domain.deps import Deps
from livecast.domain.webhooks import StreamLocks

logger = logging.getLogger(__name__)

APPLY = "livecast.webhooks.apply_stream"
SWEEP = "livecast.webhooks.sweep"
RECONCILE = "livecast.webhooks.reconcile_livekit"
RECONCILE_SECONDS = 60.0
"""Period of the LiveKit reconciliation (seconds)."""


async def apply_stream(stream_id: str, deps: Deps = TaskiqDepends(), locks: StreamLocks = TaskiqDepends()) -> int:
    """Apply the stream's due webhook events in order; returns how many were handled. Idempotent."""
    handled = await webhooks.apply_stream(deps=deps, stream_id=stream_id, locks=locks)
    if handled:
        logger.debug("stream %s: %d webhook event(s) handled", stream_id, handled)
    return handled


async def sweep(slot: int, context: Context = TaskiqDepends()) -> int:
    """Periodic job: kick ``apply_stream`` for every stream with due events (pending, or failed to retry)."""
    due = await webhooks.due_streams()
    for stream_id in due:
        await kick_apply(context.broker, stream_id, task_id=f"webhooks:sweep:{slot}:{stream_id}")
    return len(due)


async def reconcile_livekit(slot: int, deps: Deps = TaskiqDepends()) -> int:
    """Periodic job: reconcile every active LiveKit broadcast with the LiveKit API; returns how many."""
    stream_ids = await webhooks.active_livekit_streams()
    if not stream_ids:
        return 0
    from livecast.domain import broadcast  # the LiveKit orchestration, imported once there is a broadcast

    for stream_id in stream_ids:
        try:
            outcome = await broadcast.reconcile(deps, stream_id)
        except Exception:  # one stream's failure must not stop the others
            logger.exception("stream %s: LiveKit reconciliation failed", stream_id)
            continue
        logger.debug("stream %s reconciled with LiveKit: %s", stream_id, outcome)
    return len(stream_ids)


async def kick_apply(broker: AsyncBroker, stream_id: str, *, task_id: str | None = None) -> None:
    """Queue ``apply_stream(stream_id)`` on ``broker``. Raises ``LookupError`` if the job is not registered."""
    task = broker.find_task(APPLY)
    if task is None:
        raise LookupError(f"job {APPLY} is not registered on this broker")
    kicker = task.kicker()
    if task_id is not None:
        kicker = kicker.with_task_id(task_id)
    await kicker.kiq(stream_id=stream_id)
