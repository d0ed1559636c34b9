"""Health of streams whose provider measures it itself (Mux), through the same path as local streams.

The local ingest computes :class:`~livecast.domain.health.HealthSample` objects from the media it relays; a
Mux stream's media never reaches livecast, so :class:`ProviderHealthPoller` asks the provider (its
:class:`~livecast.providers.base.HealthSource`, Mux's live stream health stats) every
``LIVECAST_MUX_HEALTH_SECONDS`` for each ``LIVE`` stream, turns the answer into a ``HealthSample``
(:func:`health_sample`) and records it with a :class:`~livecast.domain.monitoring.HealthMonitor`: stored,
published, and checked against the stream's alert thresholds with the same hysteresis (e.g. a drift deviation
over 1 s is ``POOR`` and raises ``STREAM_DRIFT``). Mux reports drift only, so the other measurements stay
unknown (``None``) and raise no alert.

Also here: :class:`ViewerCountSource`, where ``Stream.viewer_count`` came from (see
:mod:`livecast.domain.provider_viewers`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from enum import Enum

from livecast.domain import streams
from livecast.domain.bus import EventBus
from livecast.domain.deps import Deps
from livecast.domain.errors import NotFound
from livecast.domain.health import HealthSample, drift_status
from livecast.domain.health_models import StreamAlert
from livecast.domain.lifecycle import FINISHED
from livecast.domain.models import HealthStatus, Stream, StreamStatus
from livecast.domain.monitoring import HealthMonitor
from livecast.providers.base import HealthSource, IngestHealth, ProviderError

logger = logging.getLogger(__name__)

CONCURRENCY = 8
"""Provider health requests in flight at once per poll."""


class ViewerCountSource(str, Enum):
    """Where ``Stream.viewer_count`` comes from: Mux Data's real-time API, or livecast's playback beacons."""

    MUX_DATA = "MUX_DATA"
    LIVECAST = "LIVECAST"


def health_sample(health: IngestHealth, *, at: datetime) -> HealthSample:
    """A ``HealthSample`` from a provider's ingest health, taken at ``at``.

    The status comes from the drift deviation by :func:`~livecast.domain.health.drift_status` (Mux documents
    the same thresholds); a provider status ``UNKNOWN`` (no recent data) gives ``UNKNOWN`` whatever the numbers.
    ``drift_ms`` is the provider's session average of the drift.
    """
    deviation = None if health.status == HealthStatus.UNKNOWN.value else health.drift_deviation_ms
    return HealthSample(
        status=drift_status(deviation),
        sampled_at=at,
        drift_ms=health.drift_avg_ms,
        drift_deviation_ms=deviation,
    )


class ProviderHealthPoller:
    """Polls one provider's ``LIVE`` streams for health and records the samples through a
    :class:`HealthMonitor`, whose alert hysteresis counts are durable (``stream_health.hysteresis``, under a row
    lock), so whichever worker process runs the periodic job continues the same counts.

    One poller per worker process (the periodic job gets it by dependency injection). A stream that stops
    being ``LIVE`` is forgotten (its counts restart at its next sample when it is live again); active alerts of
    a stream that has finished are cleared.
    """

    def __init__(self, bus: EventBus, *, provider: str = "mux") -> None:
        self.provider = provider
        self.monitor = HealthMonitor(bus)
        self._watched: set[str] = set()

    async def poll(self, *, deps: Deps, now: datetime | None = None) -> dict[str, HealthStatus]:
        """Sample every ``LIVE`` stream of the provider once; returns the recorded status by stream id.

        A stream whose health could not be read (``ProviderError``: not configured, unreachable, unknown to
        the provider) is skipped with a warning and keeps its previous health. Database errors propagate.
        """
        at = now or datetime.now(UTC)
        live = await Stream.filter(provider=self.provider, status=StreamStatus.LIVE)
        recorded: dict[str, HealthStatus] = {}
        source = self._source(deps) if live else None
        results = await _read_all(source, live) if source is not None else []
        for stream, result in zip(live, results, strict=False):
            stream_id = str(stream.id)
            if isinstance(result, ProviderError):
                logger.warning("stream %s: no health from %s (%s)", stream_id, self.provider, result)
                continue
            sample = health_sample(result, at=at)
            try:
                await self.monitor.record(stream_id=stream_id, sample=sample)
            except NotFound:  # deleted meanwhile
                continue
            recorded[stream_id] = sample.status
        polled = {str(s.id) for s in live}
        for stream_id in self._watched - polled:
            self.monitor.forget(stream_id)
        self._watched = polled
        await self._close_finished()
        return recorded

    def _source(self, deps: Deps) -> HealthSource | None:
        try:
            adapter = deps.providers.get(self.provider)
        except ProviderError as e:
            logger.warning("no health for %s streams: %s", self.provider, e)
            return None
        return adapter if isinstance(adapter, HealthSource) else None

    async def _close_finished(self) -> None:
        finished = await StreamAlert.filter(
            cleared_at__isnull=True, stream__provider=self.provider, stream__status__in=list(FINISHED)
        ).values_list("stream_id", flat=True)
        for stream_id in {str(i) for i in finished}:
            await self.monitor.close_alerts(stream_id=stream_id)


async def _read_all(source: HealthSource, live: list[Stream]) -> list[IngestHealth | ProviderError]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(stream: Stream) -> IngestHealth | ProviderError:
        async with gate:
            try:
                return await source.live_health(streams.stream_ref(stream))
            except ProviderError as e:
                return e

    return list(await asyncio.gather(*(one(s) for s in live)))
