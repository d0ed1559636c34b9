"""Viewer counts from a provider's analytics (Mux Data real-time CCV), with livecast's beacons as fallback.

Every ``LIVECAST_MUX_VIEWERS_SECONDS`` (30 s) :func:`refresh_viewers` asks the provider's
:class:`~livecast.providers.base.ViewerSource` for the concurrent viewers of its ``LIVE``/``RECONNECTING``
streams. A stream the provider counted gets ``viewer_count`` (and ``peak_viewer_count``) from it with
``viewer_count_source = MUX_DATA``, and its time series row (``ViewerSample``). A stream the provider could
not count (not configured, unreachable, HTTP error) falls back at once to livecast's own count from playback
beacons (:mod:`livecast.domain.viewers`) with source ``LIVECAST``. The 5 s beacon count
(:mod:`livecast.domain.viewer_counts`) leaves ``MUX_DATA`` streams alone and keeps counting ``LIVECAST`` ones,
so each stream has exactly one writer of its count at a time. A changed count is published as
``ViewerCountUpdated`` like the beacon count's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from livecast.domain import streams
from livecast.domain.deps import Deps
from livecast.domain.events import VIEWERS, ViewerCountUpdated, owner_channel, stream_channel
from livecast.domain.models import Stream
from livecast.domain.provider_monitoring import ViewerCountSource
from livecast.domain.viewer_counts import COUNTED
from livecast.domain.viewer_models import ViewerSample
from livecast.providers.base import ProviderError, ViewerCounts, ViewerSource

logger = logging.getLogger(__name__)

SOURCES: dict[str, ViewerCountSource] = {"mux": ViewerCountSource.MUX_DATA}
"""Provider name → the source its counts are labelled with."""


@dataclass
class ProviderViewerRun:
    """What one run did: the count and its source per stream id, and how many counts changed."""

    counts: dict[str, int] = field(default_factory=dict)
    sources: dict[str, ViewerCountSource] = field(default_factory=dict)
    published: int = 0


async def refresh_viewers(*, deps: Deps, provider: str = "mux", enabled: bool = True) -> ProviderViewerRun:
    """Count the provider's live streams from its analytics, or from beacons where it fails (module docstring).

    ``enabled=False`` (the provider's analytics are not configured) counts every stream from beacons, which
    also hands streams left on ``MUX_DATA`` back to the beacon count. Database errors and ``StoreUnavailable``
    propagate; provider failures never do (they are the fallback)."""
    source = SOURCES.get(provider)
    if source is None:
        raise ValueError(f"provider {provider!r} has no viewer analytics")
    live = await Stream.filter(provider=provider, status__in=COUNTED)
    run = ProviderViewerRun()
    if not live:
        return run
    counted = await _provider_counts(deps, provider, live) if enabled else ViewerCounts()
    at = datetime.fromtimestamp(deps.viewers.clock(), UTC)
    samples: list[ViewerSample] = []
    for stream in live:
        stream_id = str(stream.id)
        count = counted.counts.get(stream.provider_stream_id or "")
        if count is not None:
            origin = source
            samples.append(ViewerSample(stream_id=stream_id, at=at, count=count))
        else:
            origin = ViewerCountSource.LIVECAST
            count = await deps.viewers.concurrent(stream_id)
        run.counts[stream_id], run.sources[stream_id] = count, origin
        if count != stream.viewer_count or origin.value != stream.viewer_count_source:
            run.published += await _store(deps, stream, count, origin, at)
    if samples:
        await ViewerSample.bulk_create(samples)
    return run


async def _provider_counts(deps: Deps, provider: str, live: list[Stream]) -> ViewerCounts:
    try:
        adapter = deps.providers.get(provider)
    except ProviderError as e:
        logger.warning("viewers of %s streams counted from beacons: %s", provider, e)
        return ViewerCounts()
    if not isinstance(adapter, ViewerSource):
        return ViewerCounts()
    counted = await adapter.current_viewers([streams.stream_ref(s) for s in live])
    for provider_stream_id, error in counted.errors.items():
        logger.warning("live stream %s: viewers counted from beacons (%s)", provider_stream_id, error)
    return counted


async def _store(deps: Deps, stream: Stream, count: int, origin: ViewerCountSource, at: datetime) -> int:
    """Write the count and its source; publish when the count changed. Returns 1 if published."""
    peak = max(stream.peak_viewer_count, count)
    changes = {"viewer_count": count, "peak_viewer_count": peak, "viewer_count_source": origin.value}
    await Stream.filter(id=stream.id).update(**changes)
    if count == stream.viewer_count:
        return 0
    stream_id, owner_id = str(stream.id), str(stream.owner_id)
    event = ViewerCountUpdated(stream_id=stream_id, owner_id=owner_id, count=count, peak=peak, at=at.isoformat())
    await deps.bus.publish([stream_channel(stream_id, VIEWERS), owner_channel(owner_id, VIEWERS)], event)
    return 1
