"""One stream's media session in the ingest: survives encoder reconnects inside the reconnect window.

It owns the ffmpeg pipeline, feeds it FLV built from RTMP audio/video/metadata messages, restarts ffmpeg if it
dies while the encoder is still sending (replaying the cached codec configuration and waiting for the next
keyframe), and notices when the first segment of a publish is listed in the playlist.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from livecast.providers.local.pipeline import (
    TAG_AUDIO,
    TAG_SCRIPT,
    TAG_VIDEO,
    FLV_HEADER,
    HlsPipeline,
    PipelineBroken,
    finalize_playlist,
    flv_tag,
    segment_uris,
)

logger = logging.getLogger(__name__)

VIDEO_KEYFRAME = 1
AVC_SEQUENCE_HEADER = 0
AAC = 10
AAC_SEQUENCE_HEADER = 0
READY_POLL_SECONDS = 0.2
MAX_RESTARTS_PER_PUBLISH = 5


class StreamSession:
    """Media state of one stream in this ingest process (keyed by stream id)."""

    def __init__(
        self, *, stream_id: str, out_dir: Path, make_pipeline: Callable[[Path], HlsPipeline]
    ) -> None:
        self.stream_id = stream_id
        self.out_dir = out_dir
        self._make_pipeline = make_pipeline
        self.pipeline: HlsPipeline | None = None
        self.publisher: asyncio.StreamWriter | None = None
        self.window_task: asyncio.Task[None] | None = None
        self.ending = False
        self.restarts = 0
        self._config: dict[int, bytes] = {}  # tag type -> sequence header payload (AVC / AAC)
        self._metadata: bytes | None = None
        self._await_keyframe = False
        self._ready_task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()

    @property
    def playlist(self) -> Path:
        return self.out_dir / "index.m3u8"

    async def begin_publish(self, on_ready: Callable[[], Awaitable[None]]) -> None:
        """Start ffmpeg for a new publish and watch for its first listed segment (then call ``on_ready``)."""
        self._config.clear()
        self._metadata = None
        self.restarts = 0
        baseline = segment_uris(self.playlist)
        await self._start_pipeline()
        self._ready_task = asyncio.create_task(self._watch_ready(baseline, on_ready))

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
        if tag_type == TAG_VIDEO and len(payload) > 1 and payload[1] == AVC_SEQUENCE_HEADER and payload[0] & 0x0F == 7:
            self._config[TAG_VIDEO] = payload
        elif tag_type == TAG_AUDIO and len(payload) > 1 and payload[0] >> 4 == AAC and payload[1] == AAC_SEQUENCE_HEADER:
            self._config[TAG_AUDIO] = payload
        elif tag_type == TAG_SCRIPT:
            self._metadata = payload
        if self._await_keyframe:
            if tag_type == TAG_VIDEO and payload and payload[0] >> 4 == VIDEO_KEYFRAME:
                self._await_keyframe = False
            elif tag_type != TAG_SCRIPT:
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
        if self._ready_task is not None:
            self._ready_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ready_task
            self._ready_task = None
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
