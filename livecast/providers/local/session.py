"""One stream's media session in the ingest: survives encoder reconnects inside the reconnect window.

It owns the ffmpeg pipeline, feeds it FLV built from RTMP audio/video/metadata messages, restarts ffmpeg if it
dies while the encoder is still sending (replaying the cached codec configuration and waiting for the next
keyframe), and notices when the first segment of a publish is listed in the playlist. While publishing it also
feeds a :class:`MediaObserver` (health sampling) with every audio/video message and, every health period,
hands it to the ingest's health hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from livecast.providers.local.avc import avc_config, metadata_info
from livecast.providers.local.pipeline import (
    FLV_HEADER,
    TAG_AUDIO,
    TAG_SCRIPT,
    TAG_VIDEO,
    HlsPipeline,
    PipelineBroken,
    finalize_playlist,
    flv_tag,
    segment_uris,
)
from livecast.providers.local.publishers import Publisher

logger = logging.getLogger(__name__)

VIDEO_KEYFRAME = 1
AVC_SEQUENCE_HEADER = 0
AAC = 10
AAC_SEQUENCE_HEADER = 0
READY_POLL_SECONDS = 0.2
MAX_RESTARTS_PER_PUBLISH = 5
VIDEO_INFO_FRAME = 5
EX_HEADER = 0x80
EX_CODED_FRAMES = frozenset({1, 3})
"""Enhanced RTMP video packet types that carry frames (CodedFrames, CodedFramesX)."""


class MediaObserver(Protocol):
    """Watches one publish's media for health (``livecast.domain.health.HealthSampler`` is one).

    ``observe`` runs for every audio/video message, so implementations must be cheap."""

    def observe(self, kind: str, timestamp_ms: int, size: int, keyframe: bool = False) -> None:
        """``kind`` is ``"video"`` or ``"audio"``; ``timestamp_ms`` media time; ``size`` payload bytes."""

    def describe(self, **info: Any) -> None:
        """``width``, ``height`` (pixels), ``codec``, ``encoder`` as learned from the media."""

    def packager(self, *, speed: float | None = None, dropped_frames: int | None = None) -> None:
        """ffmpeg's speed (x real time) and the publish's cumulative dropped video frames."""


HealthHook = Callable[[MediaObserver], Awaitable[None]]


class StreamSession:
    """Media state of one stream in this ingest process (keyed by stream id).

    ``drives_lifecycle=False``: the publish only carries media (a LiveKit broadcast's egress); the ingest
    then tells the domain nothing about connects, first segments and disconnects (health samples still go)."""

    def __init__(
        self,
        *,
        stream_id: str,
        out_dir: Path,
        make_pipeline: Callable[[Path], HlsPipeline],
        drives_lifecycle: bool = True,
    ) -> None:
        self.stream_id = stream_id
        self.drives_lifecycle = drives_lifecycle
        self.out_dir = out_dir
        self._make_pipeline = make_pipeline
        self.pipeline: HlsPipeline | None = None
        self.publisher: Publisher | None = None
        self.window_task: asyncio.Task[None] | None = None
        self.ending = False
        self.restarts = 0
        self._config: dict[int, bytes] = {}  # tag type -> sequence header payload (AVC / AAC)
        self._metadata: bytes | None = None
        self._await_keyframe = False
        self._ready_task: asyncio.Task[None] | None = None
        self.observer: MediaObserver | None = None
        self.skipped_frames = 0
        self._video_config_seen = False
        self._health_task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()
        """Held while the publisher changes (a publish starts, ends or is taken over) and while the stream ends."""
        self.released = asyncio.Condition(self.lock)
        """Notified (under ``lock``) when the publisher goes or starts (``livecast.providers.local.publishers``)."""

    @property
    def playlist(self) -> Path:
        return self.out_dir / "index.m3u8"

    async def begin_publish(
        self,
        on_ready: Callable[[], Awaitable[None]],
        *,
        observer: MediaObserver | None = None,
        on_health: HealthHook | None = None,
        health_seconds: float = 5.0,
    ) -> None:
        """Start ffmpeg for a new publish and watch for its first listed segment (then call ``on_ready``).

        With an ``observer``, every media message is observed and ``on_health(observer)`` is called every
        ``health_seconds`` seconds until the publish ends."""
        self._config.clear()
        self._metadata = None
        self.restarts = 0
        self.skipped_frames = 0
        self._video_config_seen = False
        self.observer = observer
        if self.pipeline is not None:  # never two ffmpeg processes for one stream
            await self.pipeline.close()
        baseline = segment_uris(self.playlist)
        await self._start_pipeline()
        self._ready_task = asyncio.create_task(self._watch_ready(baseline, on_ready))
        if observer is not None and on_health is not None:
            self._health_task = asyncio.create_task(self._report_health(observer, on_health, health_seconds))

    async def _report_health(self, observer: MediaObserver, on_health: HealthHook, period: float) -> None:
        while True:
            await asyncio.sleep(period)
            pipeline = self.pipeline
            dropped = self.skipped_frames + (pipeline.dropped_frames if pipeline is not None else 0)
            observer.packager(speed=pipeline.speed if pipeline is not None else None, dropped_frames=dropped)
            try:
                await on_health(observer)
            except Exception:  # the hook's failure (database down) must not stop the media
                logger.exception("health hook failed for stream %s", self.stream_id)

    def describe(self, metadata: Any) -> None:
        """The encoder's ``onMetaData`` (a dict): size, codec and encoder name for the observer."""
        if self.observer is None:
            return
        info = metadata_info(metadata)
        if self._video_config_seen:  # the sequence header is exact; metadata is what the encoder claims
            for key in ("width", "height", "codec"):
                info.pop(key, None)
        self.observer.describe(**info)

    def _observe(self, observer: MediaObserver, tag_type: int, timestamp: int, payload: bytes) -> None:
        first = payload[0]
        if tag_type == TAG_VIDEO:
            if first & EX_HEADER:
                if first & 0x0F not in EX_CODED_FRAMES:
                    return
            elif first & 0x0F in (7, 12) and (len(payload) < 2 or payload[1] != 1):  # AVC/HEVC config or end
                if first & 0x0F == 7 and len(payload) > 5 and payload[1] == AVC_SEQUENCE_HEADER:
                    self._video_config(observer, payload[5:])
                return
            frame_type = (first >> 4) & 0x07
            if frame_type != VIDEO_INFO_FRAME:
                observer.observe("video", timestamp, len(payload), frame_type == VIDEO_KEYFRAME)
        elif not (first >> 4 == AAC and len(payload) > 1 and payload[1] == AAC_SEQUENCE_HEADER):
            observer.observe("audio", timestamp, len(payload))

    def _video_config(self, observer: MediaObserver, record: bytes) -> None:
        config = avc_config(record)
        if config is not None:
            self._video_config_seen = True
            observer.describe(codec=config.codec, width=config.width, height=config.height)

    async def _start_pipeline(self) -> None:
        self.pipeline = self._make_pipeline(self.out_dir)
        await self.pipeline.start()

    async def _watch_ready(self, baseline: list[str], on_ready: Callable[[], Awaitable[None]]) -> None:
        last = baseline[-1] if baseline else None
        while True:
            await asyncio.sleep(READY_POLL_SECONDS)
            uris = segment_uris(self.playlist)
            if uris and uris[-1] != last:
                try:
                    await on_ready()
                except Exception:  # the hook logs; the media keeps flowing either way
                    logger.exception("media-ready hook failed for stream %s", self.stream_id)
                return

    async def feed(self, tag_type: int, timestamp: int, payload: bytes) -> None:
        """Pass one audio, video or script (metadata) payload to ffmpeg; restarts ffmpeg if it died."""
        if self.ending:
            return
        observer = self.observer
        if observer is not None and tag_type != TAG_SCRIPT and payload:
            self._observe(observer, tag_type, timestamp, payload)
        if tag_type == TAG_VIDEO and len(payload) > 1 and payload[1] == AVC_SEQUENCE_HEADER and payload[0] & 0x0F == 7:
            self._config[TAG_VIDEO] = payload
        elif (
            tag_type == TAG_AUDIO and len(payload) > 1 and payload[0] >> 4 == AAC and payload[1] == AAC_SEQUENCE_HEADER
        ):
            self._config[TAG_AUDIO] = payload
        elif tag_type == TAG_SCRIPT:
            self._metadata = payload
        if self._await_keyframe:
            if tag_type == TAG_VIDEO and payload and payload[0] >> 4 == VIDEO_KEYFRAME:
                self._await_keyframe = False
            elif tag_type != TAG_SCRIPT:
                if tag_type == TAG_VIDEO:
                    self.skipped_frames += 1
                return
        if tag_type == TAG_SCRIPT:
            timestamp = 0  # ffmpeg's FLV demuxer reads onMetaData only at dts 0 (else: a subtitle stream)
        try:
            await self._write(flv_tag(tag_type, timestamp, payload))
        except PipelineBroken as e:
            await self._restart(timestamp, e)

    async def _write(self, data: bytes) -> None:
        if self.pipeline is None:
            raise PipelineBroken("no pipeline")
        await self.pipeline.write(data)

    async def _restart(self, timestamp: int, cause: Exception) -> None:
        if self.ending:
            return
        self.restarts += 1
        if self.restarts > MAX_RESTARTS_PER_PUBLISH:
            raise PipelineBroken(f"ffmpeg failed {self.restarts} times; giving up") from cause
        logger.warning("ffmpeg for stream %s died (%s); restarting", self.stream_id, cause)
        if self.pipeline is not None:
            await self.pipeline.close(timeout=2)
        await self._start_pipeline()
        if self._metadata is not None:
            await self._write(flv_tag(TAG_SCRIPT, 0, self._metadata))
        for tag_type, payload in self._config.items():
            await self._write(flv_tag(tag_type, timestamp, payload))
        self._await_keyframe = TAG_VIDEO in self._config

    async def end_publish(self) -> None:
        """The encoder is gone: let ffmpeg write its last segment and exit."""
        for task in (self._ready_task, self._health_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._ready_task = self._health_task = None
        self.observer = None
        if self.pipeline is not None:
            await self.pipeline.close()
            self.pipeline = None

    async def finalize(self) -> None:
        """The stream is over: stop media, mark the playlist with ``EXT-X-ENDLIST``."""
        self.ending = True
        if self.window_task is not None and self.window_task is not asyncio.current_task():
            self.window_task.cancel()
        if self.publisher is not None:
            self.publisher.close()
        await self.end_publish()
        await asyncio.to_thread(finalize_playlist, self.playlist)


__all__ = ["FLV_HEADER", "StreamSession"]
