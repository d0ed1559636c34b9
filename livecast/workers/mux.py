"""Mux jobs: poll the health of live Mux streams, and read their concurrent viewers from Mux Data.

* :func:`poll_health` every ``LIVECAST_MUX_HEALTH_SECONDS`` (10 s): Mux's live stream health stats →
  health samples and alerts, as for local streams (:mod:`livecast.domain.provider_monitoring`). Needs the URL
  signing key (``LIVECAST_MUX_SIGNING_KEY_ID`` / ``LIVECAST_MUX_SIGNING_PRIVATE_KEY``); without it, no-op.
* :func:`count_viewers` every ``LIVECAST_MUX_VIEWERS_SECONDS`` (30 s): Mux Data's real-time CCV →
  ``Stream.viewerCount`` with source ``MUX_DATA``, beacons (``LIVECAST``) where Mux cannot answer or is not
  configured (:mod:`livecast.domain.provider_viewers`).
"""

from __future__ import annotations

import logging

from taskiq import TaskiqDepends

from livecast.domain import provider_viewers
from livecast.domain.deps import Deps
from livecast.domain.provider_monitoring import ProviderHealthPoller, ViewerCountSource
from livecast.settings import Settings

logger = logging.getLogger(__name__)

HEALTH = "livecast.mux.health"
VIEWERS = "livecast.mux.viewers"


def health_configured(settings: Settings) -> bool:
    """Whether Mux's health stats can be read: an access token and a URL signing key are set."""
    return bool(settings.mux_token_id and settings.mux_signing_key_id and settings.mux_signing_private_key)


def viewers_configured(settings: Settings) -> bool:
    """Whether Mux Data can be asked: an access token is set (it needs the "Mux Data" read permission)."""
    return bool(settings.mux_token_id and settings.mux_token_secret)


async def poll_health(
    slot: int,
    deps: Deps = TaskiqDepends(),
    settings: Settings = TaskiqDepends(),
    poller: ProviderHealthPoller = TaskiqDepends(),
) -> dict[str, str]:
    """Periodic job (``slot`` numbers the period): one health sample per ``LIVE`` Mux stream. Returns the
    recorded status by stream id (empty when Mux health is not configured). Mux failures skip the stream
    (logged); database errors propagate (the run is journaled as failed; the next period tries again)."""
    if not health_configured(settings):
        return {}
    recorded = await poller.poll(deps=deps)
    if recorded:
        logger.debug("slot %d: health of %d Mux stream(s) recorded", slot, len(recorded))
    return {stream_id: status.value for stream_id, status in recorded.items()}


async def count_viewers(
    slot: int, deps: Deps = TaskiqDepends(), settings: Settings = TaskiqDepends()
) -> dict[str, int]:
    """Periodic job (``slot`` numbers the period): concurrent viewers of every live Mux stream from Mux Data,
    from beacons where Mux cannot answer. Returns the counts by stream id. Database and viewer store errors
    propagate (the next period tries again)."""
    run = await provider_viewers.refresh_viewers(deps=deps, provider="mux", enabled=viewers_configured(settings))
    fallback = sum(1 for source in run.sources.values() if source is ViewerCountSource.LIVECAST)
    if fallback:
        logger.info("slot %d: %d Mux stream(s) counted from beacons (Mux Data unavailable)", slot, fallback)
    return run.counts
