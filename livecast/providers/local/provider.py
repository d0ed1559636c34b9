"""The local provider: stream keys and playback ids minted here, RTMP ingest and HLS served by livecast.

The media side lives in :mod:`livecast.providers.local.ingest` (RTMP server) and
:mod:`livecast.providers.local.pipeline` (ffmpeg → HLS). Ending a local stream needs no call here: the ingest
watches ``StreamStatusChanged`` on the event bus (in any process) and disconnects the encoder.

The local provider keeps no registry of its own: the database is it (the ingest authorizes a publish by
looking the key up there). So it cannot tell a deleted stream from an idle one (``get_stream`` never raises
``ProviderNotFound``), and it has no enabled/disabled switch (``set_enabled`` raises ``ProviderNotSupported``:
end or cancel the stream, or reset its key, to refuse an encoder). Simulcast is not available either.
``SIGNED`` playback uses HS256 tokens (:mod:`livecast.providers.local.tokens`) checked by ``/hls/``.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import time

from livecast.providers.base import (
    IngestEndpoints,
    PlaybackInfo,
    PlaybackToken,
    ProviderNotSupported,
    ProviderRejected,
    ProviderStreamState,
    ProvisionedStream,
    SimulcastTarget,
    StreamRef,
    StreamSpec,
)
from livecast.providers.local import tokens
from livecast.providers.local.pipeline import PLAYLIST
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
        self._settings = settings
        self._fresh_seconds = max(3 * settings.hls_segment_seconds, 6.0)

    async def create_stream(self, spec: StreamSpec) -> ProvisionedStream:
        return ProvisionedStream(provider_stream_id=None, stream_key=new_stream_key(), playback_id=new_playback_id())

    async def update_stream(self, ref: StreamRef, spec: StreamSpec) -> str | None:
        """Nothing to tell: the ingest reads the stream's settings from the database at each publish (the
        ``/hls/`` route enforces the policy, so the playback id stays: ``None``)."""
        return None

    async def complete_stream(self, ref: StreamRef) -> None:
        """Nothing to call: the ingest reacts to the ``ENDED`` status event and disconnects the encoder."""

    async def delete_stream(self, ref: StreamRef) -> None:
        """Remove the stream's HLS directory (``<media_dir>/<playbackId>/``) if there is one."""
        await asyncio.to_thread(shutil.rmtree, self._media_dir / ref.playback_id, True)

    async def reset_stream_key(self, ref: StreamRef) -> str:
        return new_stream_key()

    async def get_stream(self, ref: StreamRef) -> ProviderStreamState:
        """``ACTIVE`` while the pipeline is writing the stream's playlist (modified within the last three
        segment durations, at least 6 s), else ``IDLE``. Keys and ids come from ``ref`` (no registry here)."""
        status = "ACTIVE" if await asyncio.to_thread(self._playlist_fresh, ref.playback_id) else "IDLE"
        return ProviderStreamState(
            provider_stream_id=ref.provider_stream_id, status=status,
            stream_key=ref.stream_key, playback_id=ref.playback_id,
        )  # fmt: skip

    async def set_enabled(self, ref: StreamRef, enabled: bool) -> None:
        """Not supported (``ProviderNotSupported``): local ingest is refused by ending or cancelling the stream
        in livecast, or by resetting its key."""
        raise ProviderNotSupported(
            self.name, "the local pipeline has no enable/disable switch; end the stream or reset its key instead"
        )

    def ingest_endpoints(self, ref: StreamRef) -> IngestEndpoints:
        return IngestEndpoints(rtmp_url=self._rtmp_base, srt_url=None, stream_key=ref.stream_key)

    def playback(self, ref: StreamRef, token: str | None = None) -> PlaybackInfo:
        """``<public url>/hls/<playbackId>/index.m3u8``, with ``?token=<JWT>`` for a ``SIGNED`` stream given one."""
        url = f"{self._http_base}/hls/{ref.playback_id}/index.m3u8"
        if token and ref.playback_policy == "SIGNED":
            url += f"?token={token}"
        return PlaybackInfo(hls_url=url, policy=ref.playback_policy)

    def sign_playback(self, ref: StreamRef, *, ttl_seconds: int) -> PlaybackToken:
        """An HS256 JWT (``sub`` playback id, ``aud`` ``livecast-hls``) valid ``ttl_seconds``, keyed by the
        secret key; ``ProviderRejected`` for a non-positive ttl."""
        if ttl_seconds <= 0:
            raise ProviderRejected(self.name, "ttl_seconds must be positive")
        return tokens.sign(key=self._settings.signing_key, playback_id=ref.playback_id, ttl_seconds=ttl_seconds)

    async def add_simulcast_target(self, ref: StreamRef, *, url: str, stream_key: str) -> SimulcastTarget:
        raise ProviderNotSupported(self.name, "simulcast targets are not available on the local pipeline yet")

    async def remove_simulcast_target(self, ref: StreamRef, target_id: str) -> None:
        raise ProviderNotSupported(self.name, "simulcast targets are not available on the local pipeline yet")

    def _playlist_fresh(self, playback_id: str) -> bool:
        try:
            modified = (self._media_dir / playback_id / PLAYLIST).stat().st_mtime
        except OSError:
            return False
        return time.time() - modified <= self._fresh_seconds
