"""The streams of one ingest process: each stream's session, its publisher, its reconnect timer and its end.

Everything that changes who publishes a stream runs under the stream's lock (``StreamSession.lock``): a publish
starting (:meth:`IngestStreams.start`, which may take over from a stalled publisher), a publish ending
(:meth:`IngestStreams.finish`), and the stream ending (:meth:`IngestStreams.end_stream`). So there is never more
than one ffmpeg per stream, and every ffmpeg started is stopped when its publisher goes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livecast.providers.local.hooks import AdoptedStream, IngestHooks, PublishGrant
from livecast.providers.local.pipeline import HlsPipeline
from livecast.providers.local.publishers import Publisher, claim, release
from livecast.providers.local.session import StreamSession

logger = logging.getLogger(__name__)

EXPIRY_MARGIN = 0.1
"""Seconds the reconnect timer waits past the stored deadline (the domain ends a stream only once it passed)."""
DISCONNECT_ATTEMPTS = 3
"""Tries of the disconnect hook, a second apart (the database may be away for a moment)."""


@dataclass(frozen=True)
class IngestConfig:
    host: str
    port: int
    media_dir: Path
    ffmpeg: str
    segment_seconds: float = 2.0
    list_size: int = 6
    handshake_timeout: float = 10.0
    idle_timeout: float = 5.0
    """Seconds without an audio or video message after which a publisher is taken for gone."""
    health_seconds: float = 5.0
    """Seconds between two health samples of a publishing stream."""
    max_pending_per_address: int = 8
    max_pending: int = 256
    """Connections not publishing yet, per client address (IPv6: per /64) and in total; more are closed at once."""
    takeover_silence: float = 1.0
    """Seconds without media after which a publisher is replaced by a new publish with its stream's key."""
    takeover_patience: float = 2.0
    """Seconds a new publish waits for the current publisher to fall silent before it is refused."""


class IngestStreams:
    """The sessions of the streams this ingest serves (by stream id), and the hooks that tell the domain."""

    def __init__(self, config: IngestConfig, hooks: IngestHooks) -> None:
        self.config, self.hooks = config, hooks
        self.sessions: dict[str, StreamSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def session(self, grant: PublishGrant) -> StreamSession:
        """The stream's session, created on its first publish (or adoption); kept until the stream ends."""
        session = self.sessions.get(grant.stream_id)
        if session is None:
            session = self.sessions[grant.stream_id] = StreamSession(
                stream_id=grant.stream_id,
                out_dir=self.config.media_dir / grant.playback_id,
                make_pipeline=self._make_pipeline,
                drives_lifecycle=grant.drives_lifecycle,
            )
        return session

    def forget_if_idle(self, session: StreamSession) -> None:
        """After a refused publish: forget a stream's session that holds nothing (no publisher, ffmpeg or reconnect
        timer), e.g. one created for a stream that had just ended. An egress session stays (see ``PublishGrant``)."""
        idle = session.publisher is None and session.pipeline is None and session.window_task is None
        if idle and session.drives_lifecycle and not session.lock.locked():
            if self.sessions.get(session.stream_id) is session:
                del self.sessions[session.stream_id]

    def _make_pipeline(self, out_dir: Path) -> HlsPipeline:
        c = self.config
        return HlsPipeline(ffmpeg=c.ffmpeg, out_dir=out_dir, segment_seconds=c.segment_seconds, list_size=c.list_size)

    async def adopt(self, stream: AdoptedStream) -> None:
        """A stream this ingest served before it (re)started: wait for its encoder, or close its playlist."""
        session = self.session(PublishGrant(stream_id=stream.stream_id, playback_id=stream.playback_id))
        if stream.seconds_left is None:  # over while this ingest was away
            await self.end_stream(stream.stream_id)
            return
        logger.info("stream %s: waiting %.0f s for its encoder to come back", stream.stream_id, stream.seconds_left)
        session.window_task = asyncio.create_task(self._expire(session, stream.seconds_left))

    async def start(self, session: StreamSession, publisher: Publisher) -> None:
        """Make ``publisher`` the stream's publisher (taking over from a stalled one) and start its ffmpeg, all
        under the stream's lock. Raises ``PublishRefused``."""
        stream_id, c = session.stream_id, self.config
        async with session.lock:
            victim = await claim(session, publisher, silence=c.takeover_silence, patience=c.takeover_patience)
            try:
                if session.drives_lifecycle:
                    await self.hooks.connected(stream_id)
            except BaseException:  # refused (or the database failed): the stream keeps what it had
                if victim is not None:
                    victim.superseded, session.publisher = False, victim
                    if victim.gone:  # its connection ended meanwhile and left the stream to us: handle that now
                        self._background(self.finish(session, victim))
                else:
                    release(session, publisher)
                raise
            publisher.began = True  # from here on, its end is the stream's publisher going away (finish)
            if victim is not None:
                await self._take_over(session, victim)
            if session.window_task is not None:
                session.window_task.cancel()
                session.window_task = None
            await session.begin_publish(
                (lambda: self.hooks.media_ready(stream_id)) if session.drives_lifecycle else _media_only,
                observer=self.hooks.media_observer(stream_id),
                on_health=lambda observer: self.hooks.health_due(stream_id, observer),
                health_seconds=c.health_seconds,
            )
            publisher.started = True
            publisher.last_media = asyncio.get_running_loop().time()
            session.released.notify_all()  # publishes waiting for the stream measure its silence from now

    async def _take_over(self, session: StreamSession, victim: Publisher) -> None:
        """Drop the stalled ``victim`` (its task ends without touching the stream) and end its ffmpeg, which
        writes its last segment; the next ffmpeg continues the playlist after a discontinuity."""
        silent = victim.silent_for(asyncio.get_running_loop().time())
        logger.info("stream %s: a new publish replaces one silent for %.1f s", session.stream_id, silent)
        victim.close()
        if victim.task is not None and victim.task is not asyncio.current_task():
            victim.task.cancel()
            await asyncio.wait({victim.task})
        if victim.began:
            await session.end_publish()
            await self._stopped(session.stream_id, stream_over=False)

    async def finish(self, session: StreamSession, publisher: Publisher) -> None:
        """``publisher`` is gone (dropped, idle, stopped cleanly or refused): stop its ffmpeg and tell the domain;
        arm the reconnect timer, or end the stream."""
        publisher.gone = True
        if publisher.superseded or session.publisher is not publisher:
            return  # refused, or taken over: the new publisher owns the stream
        stream_id = session.stream_id
        async with session.lock:
            if not release(session, publisher) or not publisher.began or session.ending:
                return
            seconds: float | None = 0
            if session.drives_lifecycle:  # egress: the room's participants decide what the stream does
                seconds = await self._disconnected(stream_id, unpublished=publisher.unpublished)
            await session.end_publish()
            logger.info("stream %s: encoder %s", stream_id, "stopped" if publisher.unpublished else "disconnected")
            await self._stopped(stream_id, stream_over=False)
            if not session.drives_lifecycle:
                return
            if seconds is None:  # another ingest process serves the stream now: its playlist is not ours
                if self.sessions.get(stream_id) is session:
                    del self.sessions[stream_id]
                return
            if seconds > 0:
                session.window_task = asyncio.create_task(self._expire(session, seconds))
                return
        await self.end_stream(stream_id)  # outside the lock: end_stream takes it

    async def _disconnected(self, stream_id: str, *, unpublished: bool) -> float | None:
        """``hooks.disconnected``, tried :data:`DISCONNECT_ATTEMPTS` times; then 0 (the stream is closed here)."""
        for attempt in range(1, DISCONNECT_ATTEMPTS + 1):
            try:
                return await self.hooks.disconnected(stream_id, unpublished=unpublished)
            except Exception:
                logger.exception("disconnect hook failed for stream %s (attempt %d)", stream_id, attempt)
                if attempt < DISCONNECT_ATTEMPTS:
                    await asyncio.sleep(1)
        return 0

    async def _expire(self, session: StreamSession, seconds: float) -> None:
        await asyncio.sleep(seconds + EXPIRY_MARGIN)
        if session.publisher is not None:  # the encoder came back just in time
            return
        try:
            over = await self.hooks.window_expired(session.stream_id)
        except Exception:  # the deadline job ends it (livecast.domain.reconnect); its ENDED event ends it here
            logger.exception("reconnect window expiry failed for stream %s", session.stream_id)
            return
        if over:
            await self.end_stream(session.stream_id)

    async def end_stream(self, stream_id: str) -> None:
        """The stream ended (owner, timer, worker): disconnect its encoder and write ``EXT-X-ENDLIST``."""
        session = self.sessions.pop(stream_id, None)
        if session is not None:
            async with session.lock:
                await session.finalize()
                session.released.notify_all()
            await self._stopped(stream_id, stream_over=True)

    async def _stopped(self, stream_id: str, *, stream_over: bool) -> None:
        try:
            await self.hooks.publish_stopped(stream_id, stream_over=stream_over)
        except Exception:
            logger.exception("publish-stopped hook failed for stream %s", stream_id)

    def drop_all(self) -> list[str]:
        """Shutting down: every session ends here (no ``EXT-X-ENDLIST``); returns the streams that had a
        publisher (their ffmpeg is stopped by :meth:`close_all`, after the connections are gone)."""
        publishing = [s.stream_id for s in self.sessions.values() if s.publisher is not None and s.drives_lifecycle]
        for task in self._tasks:
            task.cancel()
        for session in self.sessions.values():
            session.ending = True
            if session.window_task is not None:
                session.window_task.cancel()
            if session.publisher is not None:
                session.publisher.close()
        return publishing

    async def close_all(self, publishing: list[str]) -> None:
        """Stop every ffmpeg; the streams that were publishing go ``RECONNECTING`` (a restarted ingest, or the
        deadline job, takes it from there)."""
        for session in list(self.sessions.values()):
            await session.end_publish()
        self.sessions.clear()
        for stream_id in publishing:
            try:
                await self.hooks.disconnected(stream_id)
            except Exception:
                logger.exception("stream %s: disconnect at shutdown not recorded", stream_id)


async def _media_only() -> None:
    """A media-only publish's first segment: nothing to tell the domain."""
