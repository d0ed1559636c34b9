"""LiveKit broadcast job: the periodic check of egress (first viewer / idle), reconnect windows and rooms."""

from __future__ import annotations

import logging

from taskiq import TaskiqDepends

from livecast.domain import broadcast_jobs
from livecast.domain.deps import Deps

logger = logging.getLogger(__name__)

CHECK = "livecast.livekit.check"


async def check_broadcasts(slot: int, deps: Deps = TaskiqDepends()) -> list[str]:
    """Periodic job (``slot`` numbers the period; every ``LIVECAST_LIFECYCLE_CHECK_SECONDS``): start egress for
    streams with HLS viewers, stop it after the idle period, end streams past their reconnect window, delete
    rooms due. Idempotent; returns what it did. Database errors propagate (the next period tries again)."""
    outcomes = await broadcast_jobs.check(deps=deps)
    for outcome in outcomes:
        logger.info("livekit (slot %d): %s", slot, outcome)
    return outcomes
