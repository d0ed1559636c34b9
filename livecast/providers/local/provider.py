"""The local provider: stream keys and playback ids minted here, RTMP ingest and HLS served by livecast.

The media side lives in :mod:`livecast.providers.local.ingest` (RTMP server) and
:mod:`livecast.providers.local.pipeline` (ffmpeg → HLS). Ending a local stream needs no call here: the ingest
watches ``StreamStatusChanged`` on the event bus (in any process) and disconnects the encoder.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil

from livecast.providers.base import (
    IngestEndpoints,
    PlaybackInfo,
    ProviderNotSupported,
    ProvisionedStream,
    SimulcastTarget,
    StreamRef,
    StreamSpec,
)
from livecast.settings import Settings

STREAM_KEY_BYTES = 24
"""192 bits of entropy per stream key (``secrets.token_urlsafe``)."""


def new_stream_key() -> str:
    return "lk_" + secrets.token_urlsafe(STREAM_KEY_BYTES)


def new_playback_id() -> str:
    return secrets.token_urlsafe(16).replace("-", "a").replace("_", "b")


class LocalProvider:
    name = "local"

    def __init__(self, settings: Settings) -> None:
        self._http_base = settings.http_base_url
        self._rtmp_base = settings.rtmp_base_url
        self._media_dir = settings.hls_dir

    async def create_stream(self, spec: StreamSpec) -> ProvisionedStream:
        return ProvisionedStream(provider_stream_id=None, stream_key=new_stream_key(), playback_id=new_playback_id())

    async def update_stream(self, ref: StreamRef, spec: StreamSpec) -> None:
        """Nothing to tell: the ingest reads the stream's settings from the database at each publish."""

    async def complete_stream(self, ref: StreamRef) -> None:
        """Nothing to call: the ingest reacts to the ``ENDED`` status event and disconnects the encoder."""

    async def delete_stream(self, ref: StreamRef) -> None:
        """Remove the stream's HLS directory (``<media_dir>/<playbackId>/``) if there is one."""
        await asyncio.to_thread(shutil.rmtree, self._media_dir / ref.playback_id, True)

    async def reset_stream_key(self, ref: StreamRef) -> str:
        return new_stream_key()

    def ingest_endpoints(self, ref: StreamRef) -> IngestEndpoints:
        return IngestEndpoints(rtmp_url=self._rtmp_base, srt_url=None, stream_key=ref.stream_key)

    def playback(self, ref: StreamRef) -> PlaybackInfo:
        return PlaybackInfo(hls_url=f"{self._http_base}/hls/{ref.playback_id}/index.m3u8", policy=ref.playback_policy)

    async def add_simulcast_target(self, ref: StreamRef, *, url: str, stream_key: str) -> SimulcastTarget:
        raise ProviderNotSupported(self.name, "simulcast targets are not available on the local pipeline yet")

    async def remove_simulcast_target(self, ref: StreamRef, target_id: str) -> None:
        raise ProviderNotSupported(self.name, "simulcast targets are not available on the local pipeline yet")
