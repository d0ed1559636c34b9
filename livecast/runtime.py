"""Process wiring: opens the database and the bus, builds providers, and connects the local ingest to the
domain. Used by the ASGI lifespan (``app.py``) and the CLI; nothing here is done at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from livecast.bus import create_bus
from livecast.domain import db, encoder, lifecycle, reconnect, streams
from livecast.domain.bus import EventBus, Gap
from livecast.domain.client_limits import AddressLimit
from livecast.domain.deps import Deps
from livecast.domain.errors import DomainError, InvalidState, NotFound
from livecast.domain.events import LIVE_CHANNEL, StreamStatusChanged
from livecast.domain.health import HealthSampler
from livecast.domain.models import StreamStatus
from livecast.domain.monitoring import HealthMonitor
from livecast.domain.playback_sessions import SessionSigner
from livecast.domain.ratelimit import RateLimits
from livecast.domain.viewers import BEACON_PATH, Viewers, create_store
from livecast.providers.local.hooks import AdoptedStream, PublishGrant, PublishRefused
from livecast.providers.local.ingest import IngestConfig, RTMPIngest
from livecast.providers.registry import ProviderRegistry
from livecast.settings import ConfigurationError, Settings
from livecast.workers.jobs import Jobs, create_jobs, is_distributed, run_worker

logger = logging.getLogger(__name__)


class DomainIngestHooks:
    """The ingest's questions answered by domain commands (the same ones mutations and webhooks use).

    ``ingest_id`` names this ingest process on the streams it serves (``LIVECAST_INGEST_ID``; see
    :mod:`livecast.domain.reconnect`). Health: each publish gets a :class:`HealthSampler` (windows in seconds);
    its samples go through one :class:`HealthMonitor`, which raises and clears alerts with the hysteresis counts
    stored in the stream's ``stream_health`` row (shared by every process that samples the stream; see
    :mod:`livecast.domain.monitoring`)."""

    def __init__(
        self, deps: Deps, *, ingest_id: str = "ingest", health_window: float = 5.0, drift_window: float = 30.0
    ) -> None:
        self.deps, self.ingest_id = deps, ingest_id
        self.health = HealthMonitor(deps.bus)
        self.health_window, self.drift_window = health_window, drift_window

    async def authorize(self, stream_key: str) -> PublishGrant:
        try:
            target = await encoder.authorize_ingest(stream_key=stream_key)
        except NotFound as e:
            raise PublishRefused("unknown stream key") from e
        except InvalidState as e:
            raise PublishRefused(f"stream is {e.current_status}; create a new stream") from e
        stream_id, lifecycle_too = str(target.stream.id), target.drives_lifecycle
        return PublishGrant(stream_id=stream_id, playback_id=target.playback_id, drives_lifecycle=lifecycle_too)

    async def adopt(self) -> list[AdoptedStream]:
        now = datetime.now(UTC)
        orphans = await reconnect.reconcile_ingest(deps=self.deps, ingest_id=self.ingest_id, now=now)
        return [
            AdoptedStream(
                o.stream_id, o.playback_id, _seconds(o.reconnect_deadline, now) if o.reconnect_deadline else None
            )
            for o in orphans
        ]

    async def connected(self, stream_id: str) -> None:
        try:
            await encoder.encoder_connected(deps=self.deps, stream_id=stream_id, ingest_id=self.ingest_id)
        except DomainError as e:
            raise PublishRefused(e.message) from e

    async def media_ready(self, stream_id: str) -> None:
        try:
            await encoder.media_ready(deps=self.deps, stream_id=stream_id)
        except InvalidState as e:
            logger.info("stream %s: media ready ignored (%s)", stream_id, e.message)

    async def disconnected(self, stream_id: str, *, unpublished: bool = False) -> float | None:
        try:
            stream = await encoder.encoder_disconnected(
                deps=self.deps, stream_id=stream_id, ingest_id=self.ingest_id, unpublished=unpublished
            )
        except encoder.ServedElsewhere as e:
            logger.info("stream %s: disconnect ignored (%s)", stream_id, e.message)
            return None
        except DomainError as e:
            logger.info("stream %s: disconnect ignored (%s)", stream_id, e.message)
            return 0
        if stream.status is not StreamStatus.RECONNECTING or stream.reconnect_deadline is None:
            return 0
        return max(_seconds(stream.reconnect_deadline, datetime.now(UTC)), 0.001)

    async def window_expired(self, stream_id: str) -> bool:
        try:
            await encoder.reconnect_window_expired(deps=self.deps, stream_id=stream_id)
        except NotFound:
            return True
        except InvalidState as e:
            logger.info("stream %s: reconnect window expiry ignored (%s)", stream_id, e.message)
            return e.current_status in {s.value for s in lifecycle.FINISHED}
        return True

    def media_observer(self, stream_id: str) -> HealthSampler:
        return HealthSampler(window_seconds=self.health_window, drift_window_seconds=self.drift_window)

    async def health_due(self, stream_id: str, observer: object) -> None:
        assert isinstance(observer, HealthSampler)
        await self.health.record(stream_id=stream_id, sample=observer.sample())

    async def publish_stopped(self, stream_id: str, *, stream_over: bool) -> None:
        if stream_over:
            await self.health.close_alerts(stream_id=stream_id)
            await reconnect.release_ingest(stream_id=stream_id, ingest_id=self.ingest_id)
        else:
            self.health.forget(stream_id)


def _seconds(deadline: datetime, now: datetime) -> float:
    return (deadline - now).total_seconds()


async def follow_ended_streams(bus: EventBus, ingest: RTMPIngest, ready: asyncio.Event) -> None:
    """Disconnect encoders of streams that ended elsewhere (owner, worker, another process)."""
    async with bus.subscribe(LIVE_CHANNEL) as events:
        ready.set()
        async for event in events:
            if isinstance(event, StreamStatusChanged) and event.status == StreamStatus.ENDED.value:
                await ingest.end_stream(event.stream_id)
            elif isinstance(event, Gap):  # an ENDED may have been missed: ask the database
                for stream_id in list(ingest.sessions):
                    stream = await streams.get_stream(stream_id)
                    if stream is None or stream.status in lifecycle.FINISHED:
                        await ingest.end_stream(stream_id)


@dataclass
class Runtime:
    settings: Settings
    deps: Deps
    ingest: RTMPIngest | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    jobs: Jobs | None = None


def ingest_config(settings: Settings) -> IngestConfig:
    return IngestConfig(
        host=settings.host,
        port=settings.rtmp_port,
        media_dir=settings.hls_dir,
        ffmpeg=settings.ffmpeg_path,
        segment_seconds=settings.hls_segment_seconds,
        list_size=settings.hls_list_size,
        handshake_timeout=settings.ingest_handshake_timeout,
        idle_timeout=settings.ingest_idle_timeout,
        health_seconds=settings.health_sample_seconds,
        max_pending_per_address=settings.ingest_max_pending_per_address,
        max_pending=settings.ingest_max_pending,
    )


def domain_deps(settings: Settings, bus: EventBus) -> Deps:
    """The domain's dependencies for this process, from settings."""
    limits = RateLimits(
        settings.rate_limit_storage, chat=settings.chat_rate_limit, reactions=settings.reaction_rate_limit,
        chat_privileged=settings.chat_rate_limit_privileged, reactions_privileged=settings.reaction_rate_limit_privileged,
        streams=settings.stream_create_rate_limit,
    )  # fmt: skip
    session_ttl = settings.playback_session_ttl_seconds
    viewers = Viewers(
        create_store(
            settings.viewers_storage, max_sessions_per_stream=settings.viewer_sessions_per_stream,
            max_sessions=settings.viewer_sessions_max,
            session_ttl_ms=int((session_ttl + settings.viewer_window_seconds) * 1000),  # past its token's expiry
        ),
        window=settings.viewer_window_seconds,
        beacon_url=f"{settings.http_base_url}{BEACON_PATH}",
        signer=SessionSigner(lambda: settings.signing_key, ttl=session_ttl),
        limit=AddressLimit(settings.rate_limit_storage, limit=settings.beacon_rate_limit, namespace="beacons"),
    )  # fmt: skip
    return Deps(
        bus=bus, providers=ProviderRegistry(settings), limits=limits, reaction_emojis=tuple(settings.reaction_emojis),
        viewers=viewers, playback_token_ttl_seconds=settings.playback_token_ttl_seconds,
        max_open_streams_per_owner=settings.max_open_streams_per_owner,
    )  # fmt: skip


@asynccontextmanager
async def running(settings: Settings, *, ingest: bool, workers: bool) -> AsyncIterator[Runtime]:
    """Open DB and bus; optionally run the RTMP ingest and the embedded workers; close all on exit."""
    await db.open_db(settings.database_url)
    bus = create_bus(settings.bus_url, lossless_queue_size=settings.bus_queue_size)
    await bus.connect()
    runtime = Runtime(settings=settings, deps=domain_deps(settings, bus))
    try:
        if ingest:
            settings.hls_dir.mkdir(parents=True, exist_ok=True)
            hooks = DomainIngestHooks(
                runtime.deps,
                ingest_id=settings.ingest_name,
                health_window=settings.health_window_seconds,
                drift_window=settings.health_drift_window_seconds,
            )
            runtime.ingest = RTMPIngest(ingest_config(settings), hooks)
            await runtime.ingest.start()
            ready = asyncio.Event()
            follower = asyncio.create_task(follow_ended_streams(bus, runtime.ingest, ready))
            runtime.tasks.append(follower)
            waiter = asyncio.create_task(ready.wait())
            await asyncio.wait({follower, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if follower.done():
                follower.result()  # raises why the bus subscription failed
        if workers and not is_distributed(settings.jobs_url):  # embedded: taskiq's in-memory broker, here
            runtime.jobs = create_jobs(settings, runtime.deps)
            await runtime.jobs.start()
        elif workers:
            logger.info("background jobs go to Redis (LIVECAST_JOBS_URL): run `livecast worker` to run them")
        yield runtime
    finally:
        for task in runtime.tasks:
            task.cancel()
        for task in runtime.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if runtime.jobs is not None:
            await runtime.jobs.stop()
        if runtime.ingest is not None:
            await runtime.ingest.stop()
        await bus.disconnect()
        await runtime.deps.viewers.close()
        await runtime.deps.limits.close()
        await db.close_db()


async def serve_ingest(settings: Settings) -> None:
    """Run the RTMP ingest alone (``livecast ingest``) until SIGINT or SIGTERM, then drop publishers cleanly.

    Encoders that were publishing reconnect to another ingest process (or this one after a restart) inside
    their reconnect window; the playlist resumes with ``EXT-X-DISCONTINUITY``.
    """
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running(settings, ingest=True, workers=False):
        logger.info("RTMP ingest ready on %s:%s", settings.host, settings.rtmp_port)
        await stop.wait()
    logger.info("RTMP ingest stopped")


async def serve_worker(settings: Settings) -> None:
    """Run the background jobs alone (``livecast worker``, distributed mode) until SIGINT or SIGTERM.

    Any number of workers may share one Redis (``LIVECAST_JOBS_URL``): each queued job runs on one of them and
    each periodic job once per period. Raises ``ConfigurationError`` when ``jobs_url`` is not ``redis://``.
    """
    import signal

    if not is_distributed(settings.jobs_url):
        raise ConfigurationError("livecast worker needs LIVECAST_JOBS_URL=redis://... (memory:// jobs run in serve)")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running(settings, ingest=False, workers=False) as runtime:
        await run_worker(settings, runtime.deps, stop)
    logger.info("livecast worker stopped")
