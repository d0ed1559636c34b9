"""Viewer jobs: the periodic viewer count (CCV events, ``Stream.viewerCount``, time series, session rows)."""

from __future__ import annotations

import logging

from taskiq import TaskiqDepends

from livecast.domain import viewer_counts
from livecast.domain.deps import Deps
from livecast.settings import Settings

logger = logging.getLogger(__name__)

COUNT = "livecast.viewers.count"


async def count_viewers(
    slot: int, deps: Deps = TaskiqDepends(), settings: Settings = TaskiqDepends()
) -> dict[str, int]:
    """Periodic job (``slot`` numbers the period): count the concurrent viewers of every live stream and
    publish the changes; every ``LIVECAST_VIEWER_FLUSH_SECONDS`` (in whole periods) also write the changed
    sessions and let the viewer store forget streams that are no longer live. Returns the counts by stream id.
    Store and database errors propagate (the run is journaled as failed; unwritten sessions are written by the
    next flush)."""
    run = await viewer_counts.refresh(deps=deps, flush=flush_due(slot, settings))
    if run.published or run.streams_evicted:
        logger.debug(
            "slot %d: %d viewer count(s) changed, %d session(s) written, %d stream(s) forgotten",
            slot, run.published, run.sessions_written, run.streams_evicted,
        )  # fmt: skip
    return run.counts


def flush_due(slot: int, settings: Settings) -> bool:
    """Whether period ``slot`` writes sessions: one period in ``round(flush seconds / count seconds)``."""
    every = max(1, round(settings.viewer_flush_seconds / settings.viewer_count_seconds))
    return slot % every == 0
