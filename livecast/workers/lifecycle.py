"""Periodic lifecycle jobs run by the embedded worker (inside ``livecast serve``)."""

from __future__ import annotations

import asyncio
import logging

from livecast.domain import encoder
from livecast.domain.deps import Deps

logger = logging.getLogger(__name__)


async def enforce_max_duration(*, deps: Deps, interval: float) -> None:
    """Every ``interval`` seconds, end streams past their max continuous duration (runs until cancelled)."""
    while True:
        try:
            ended = await encoder.end_streams_over_max_duration(deps=deps)
            for stream_id in ended:
                logger.info("stream %s ended: max continuous duration reached", stream_id)
        except Exception:
            logger.exception("max-duration check failed; retrying in %ss", interval)
        await asyncio.sleep(interval)
