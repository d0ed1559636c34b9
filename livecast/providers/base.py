"""The provider port: one typed interface over Mux, LiveKit and the local RTMP → FFmpeg → HLS pipeline.

Shapes are provider-neutral dataclasses; SDK types and SDK exceptions never leave ``livecast.providers``.
Adapters translate failures into the :class:`ProviderError` tree (``raise ProviderRejected(...) from e``).

The operations mirror what all three providers can do: Mux ``LiveStreamsApi`` (create, update, complete,
delete, reset stream key, simulcast targets), LiveKit (room + egress to a paired stream) and the local
pipeline (keys and playback ids minted here, media served from the media directory).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


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
    """How livecast refers to an existing provider stream. ``srt_passphrase`` is the secret the provider gave
    at creation (Mux ``srt_passphrase``), ``None`` for providers without SRT passphrases."""

    provider_stream_id: str | None
    stream_key: str
    playback_id: str
    playback_policy: str
    srt_passphrase: str | None = field(default=None, repr=False)  # a secret: never in logs


@dataclass(frozen=True)
class ProvisionedStream:
    """A stream the provider created: its id, the secret stream key, the public playback id and, when the
    provider has one (Mux), the secret SRT passphrase that goes with the key."""

    provider_stream_id: str | None
    stream_key: str
    playback_id: str
    srt_passphrase: str | None = field(default=None, repr=False)  # a secret: never in logs


@dataclass(frozen=True)
class IngestEndpoints:
    """Where an encoder publishes: OBS "Server" = ``rtmp_url``, "Stream Key" = ``stream_key``."""

    rtmp_url: str
    srt_url: str | None
    stream_key: str


@dataclass(frozen=True)
class PlaybackInfo:
    """Where players read the stream: an HLS (RFC 8216) multivariant or media playlist URL.

    For a ``SIGNED`` stream ``hls_url`` carries the token passed to :meth:`StreamProvider.playback` (without
    one it is the bare URL, which the CDN / ``/hls/`` route refuses with 403). ``fallback`` is a second way to
    watch when the primary one is unavailable (LiveKit: direct WebRTC viewing when egress failed).
    """

    hls_url: str
    policy: str
    fallback: str | None = None


@dataclass(frozen=True)
class PlaybackToken:
    """A short-lived playback token (Mux: RS256 JWT, ``aud`` = ``v``; local: HS256 JWT checked by ``/hls/``)."""

    token: str
    expires_at: datetime


@dataclass(frozen=True)
class SimulcastTarget:
    """A restream destination; ``status`` is ``IDLE | STARTING | BROADCASTING | ERRORED`` (Mux's states)."""

    id: str
    url: str
    status: str


@dataclass(frozen=True)
class ProviderStreamState:
    """What the provider says about a stream right now (Mux ``GET /video/v1/live-streams/{id}``).

    ``status`` is ``IDLE | ACTIVE | DISABLED`` (Mux's live stream statuses, upper-cased).
    """

    provider_stream_id: str | None
    status: str
    stream_key: str
    playback_id: str
    simulcast_targets: tuple[SimulcastTarget, ...] = ()
    recent_asset_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderEvent:
    """A verified provider webhook event, provider-neutral enough for the domain to store and apply.

    ``event_id`` is the provider's id (deduplication key); ``type`` the provider's event type as sent
    (``video.live_stream.active``, ``participant_joined``); ``object_id`` what the event is about (a Mux live
    stream id, a LiveKit room name); ``occurred_at`` the provider's timestamp (UTC); ``data`` the JSON body.
    """

    provider: str
    event_id: str
    type: str
    object_id: str | None
    occurred_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


class WebhookRejected(Exception):
    """A webhook delivery failed verification (missing header, bad signature, stale timestamp, altered body)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@runtime_checkable
class StreamProvider(Protocol):
    """A media provider. Every method raises only :class:`ProviderError` subclasses."""

    name: str

    async def create_stream(self, spec: StreamSpec) -> ProvisionedStream: ...

    async def update_stream(self, ref: StreamRef, spec: StreamSpec) -> str | None:
        """Apply ``spec``'s ingest settings; returns the new playback id when the provider had to replace it
        (Mux: a playback id's policy cannot change, so a new ``playback_policy`` gets a new id), else ``None``."""

    async def complete_stream(self, ref: StreamRef) -> None:
        """Tell the provider the broadcast is over (Mux "signal complete"; disconnects the encoder)."""

    async def delete_stream(self, ref: StreamRef) -> None: ...

    async def reset_stream_key(self, ref: StreamRef) -> str:
        """Mint a new stream key, invalidating the old one; returns the new key."""

    async def get_stream(self, ref: StreamRef) -> ProviderStreamState:
        """The provider's view of the stream (status, simulcast targets); ``ProviderNotFound`` if it is gone."""

    async def set_enabled(self, ref: StreamRef, enabled: bool) -> None:
        """Enable or disable ingest (Mux enable/disable: a disabled stream refuses encoders)."""

    def ingest_endpoints(self, ref: StreamRef) -> IngestEndpoints: ...

    def playback(self, ref: StreamRef, token: str | None = None) -> PlaybackInfo:
        """Playback URLs; for a ``SIGNED`` stream pass a token from :meth:`sign_playback`."""

    def sign_playback(self, ref: StreamRef, *, ttl_seconds: int) -> PlaybackToken:
        """A playback token valid ``ttl_seconds``; ``ProviderRejected`` when signing is not configured."""

    async def add_simulcast_target(self, ref: StreamRef, *, url: str, stream_key: str) -> SimulcastTarget: ...

    async def remove_simulcast_target(self, ref: StreamRef, target_id: str) -> None: ...


@runtime_checkable
class WebhookSource(Protocol):
    """A provider that sends webhooks: verifies a delivery and returns its event.

    Raises :class:`WebhookRejected` for any delivery that does not verify (nothing is stored then).
    """

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent: ...


@dataclass(frozen=True)
class IngestHealth:
    """Ingest health as a provider measures it (Mux "live stream health stats", updated every ~5 s).

    ``status`` is ``EXCELLENT | GOOD | POOR | UNKNOWN`` (the provider's verdict, upper-cased; ``UNKNOWN``: no
    recent data, e.g. the encoder is not connected). ``drift_avg_ms`` is the session average of the stream
    drift (wall time minus media time since the encoder connected) and ``drift_deviation_ms`` the current drift
    minus its ~30 s rolling average, both milliseconds, ``None`` when not reported. ``measured_at`` is the
    provider's timestamp (UTC) or ``None``.
    """

    status: str
    drift_avg_ms: float | None = None
    drift_deviation_ms: float | None = None
    measured_at: datetime | None = None


@dataclass(frozen=True)
class ViewerCounts:
    """Concurrent viewers per provider stream id, from the provider's analytics (Mux Data real-time).

    ``counts`` holds the streams whose count is known; ``errors`` why the others are not (a stream is in one
    of the two). Counts are distinct viewers playing now (the provider's definition of CCV).
    """

    counts: Mapping[str, int] = field(default_factory=dict)
    errors: Mapping[str, ProviderError] = field(default_factory=dict)


@runtime_checkable
class HealthSource(Protocol):
    """A provider that measures the ingest health of its streams itself (Mux)."""

    async def live_health(self, ref: StreamRef) -> IngestHealth:
        """The stream's ingest health now. Raises ``ProviderRejected`` when health access is not configured,
        ``ProviderNotFound``, or ``ProviderUnavailable``."""


@runtime_checkable
class ViewerSource(Protocol):
    """A provider that counts the concurrent viewers of its streams (Mux Data)."""

    async def current_viewers(self, refs: Sequence[StreamRef]) -> ViewerCounts:
        """Concurrent viewers of ``refs`` (keyed by ``provider_stream_id``); failures per stream are in
        ``ViewerCounts.errors``, never raised."""
