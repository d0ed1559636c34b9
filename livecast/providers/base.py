"""The provider port: one typed interface over Mux, LiveKit and the local RTMP → FFmpeg → HLS pipeline.

Shapes are provider-neutral dataclasses; SDK types and SDK exceptions never leave ``livecast.providers``.
Adapters translate failures into the :class:`ProviderError` tree (``raise ProviderRejected(...) from e``).

The operations mirror what all three providers can do: Mux ``LiveStreamsApi`` (create, update, complete,
delete, reset stream key, simulcast targets), LiveKit (room + egress to a paired stream) and the local
pipeline (keys and playback ids minted here, media served from the media directory).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class ProviderError(Exception):
    """Base of every provider failure. ``provider`` names the adapter."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or timed out; retrying later may work."""


class ProviderRejected(ProviderError):
    """The provider refused the request (bad input, quota, unsupported option)."""


class ProviderNotFound(ProviderError):
    """The provider has no such stream (deleted on the provider side?)."""


class ProviderNotSupported(ProviderRejected):
    """This provider has no such feature (e.g. simulcast on the local pipeline)."""


@dataclass(frozen=True)
class StreamSpec:
    """What livecast asks a provider to create or update.

    ``reconnect_window`` and ``max_continuous_duration`` are in seconds; ``latency_mode`` is
    ``STANDARD | REDUCED | LOW`` and ``playback_policy`` ``PUBLIC | SIGNED`` (Mux's terms, upper-cased).
    """

    title: str
    latency_mode: str
    playback_policy: str
    reconnect_window: int
    max_continuous_duration: int
    recording_enabled: bool


@dataclass(frozen=True)
class StreamRef:
    """How livecast refers to an existing provider stream."""

    provider_stream_id: str | None
    stream_key: str
    playback_id: str
    playback_policy: str


@dataclass(frozen=True)
class ProvisionedStream:
    """A stream the provider created: its id, the secret stream key and the public playback id."""

    provider_stream_id: str | None
    stream_key: str
    playback_id: str


@dataclass(frozen=True)
class IngestEndpoints:
    """Where an encoder publishes: OBS "Server" = ``rtmp_url``, "Stream Key" = ``stream_key``."""

    rtmp_url: str
    srt_url: str | None
    stream_key: str


@dataclass(frozen=True)
class PlaybackInfo:
    """Where players read the stream: an HLS (RFC 8216) multivariant or media playlist URL."""

    hls_url: str
    policy: str


@dataclass(frozen=True)
class SimulcastTarget:
    """A restream destination; ``status`` is ``IDLE | STARTING | BROADCASTING | ERRORED`` (Mux's states)."""

    id: str
    url: str
    status: str


@runtime_checkable
class StreamProvider(Protocol):
    """A media provider. Every method raises only :class:`ProviderError` subclasses."""

    name: str

    async def create_stream(self, spec: StreamSpec) -> ProvisionedStream: ...

    async def update_stream(self, ref: StreamRef, spec: StreamSpec) -> None: ...

    async def complete_stream(self, ref: StreamRef) -> None:
        """Tell the provider the broadcast is over (Mux "signal complete"; disconnects the encoder)."""

    async def delete_stream(self, ref: StreamRef) -> None: ...

    async def reset_stream_key(self, ref: StreamRef) -> str:
        """Mint a new stream key, invalidating the old one; returns the new key."""

    def ingest_endpoints(self, ref: StreamRef) -> IngestEndpoints: ...

    def playback(self, ref: StreamRef) -> PlaybackInfo: ...

    async def add_simulcast_target(self, ref: StreamRef, *, url: str, stream_key: str) -> SimulcastTarget: ...

    async def remove_simulcast_target(self, ref: StreamRef, target_id: str) -> None: ...
