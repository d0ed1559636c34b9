"""Lifecycle jobs: end streams past their max continuous duration or past their stored reconnect deadline, even
when the ingest process that served them died or restarted."""

from __future__ import annotations

import logging

from taskiq import TaskiqDepends

from livecast.domain import encoder, reconnect
from livecast.domain.deps import Deps

logger = logging.getLogger(__name__)

MAX_DURATION = "livecast.lifecycle.max_duration"
RECONNECT_DEADLINE = "livecast.lifecycle.reconnect_deadline"


async def end_over_max_duration(slot: int, deps: Deps = TaskiqDepends()) -> list[str]:
    """Periodic job (``slot`` numbers the period): end every stream live for longer than its
    ``max_continuous_duration`` (seconds). Idempotent; returns the ids it ended. Database errors propagate
    (the run is journaled as failed; the next period tries again)."""
    ended = await encoder.end_streams_over_max_duration(deps=deps)
    for stream_id in ended:
        logger.info("stream %s ended: max continuous duration reached (slot %d)", stream_id, slot)
    return ended


async def end_past_reconnect_deadline(slot: int, deps: Deps = TaskiqDepends()) -> list[str]:
    """Periodic job (``slot`` numbers the period): end every ``RECONNECTING`` stream whose stored
    ``reconnect_deadline`` has passed (:mod:`livecast.domain.reconnect`). Idempotent; returns the ids it ended.
    Database errors propagate (the run is journaled as failed; the next period tries again)."""
    ended = await reconnect.end_streams_past_reconnect_deadline(deps=deps)
    for stream_id in ended:
        logger.info("stream %s ended: reconnect window passed (slot %d)", stream_id, slot)
    return ended
