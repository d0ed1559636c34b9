"""Health jobs: purge health samples older than the retention (``LIVECAST_HEALTH_RETENTION_DAYS``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from taskiq import TaskiqDepends

from livecast.domain import monitoring
from livecast.settings import Settings

logger = logging.getLogger(__name__)

PURGE = "livecast.health.purge"


async def purge_samples(slot: int, settings: Settings = TaskiqDepends()) -> int:
    """Periodic job (``slot`` numbers the period): delete health samples older than
    ``settings.health_retention_days`` days. Idempotent; returns how many were deleted. Database errors
    propagate (the run is journaled as failed; the next period tries again)."""
    cutoff = datetime.now(UTC) - timedelta(days=settings.health_retention_days)
    deleted = await monitoring.purge_quality_metrics(older_than=cutoff)
    if deleted:
        logger.info("purged %d health samples older than %s (slot %d)", deleted, cutoff.isoformat(), slot)
    return deleted
