"""Settings of the media providers (Mux, LiveKit) and provider calls: a part of :class:`livecast.settings.Settings`
(read from the environment there, as ``LIVECAST_<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator


class ProviderSettings(BaseModel):
    """Mux, LiveKit, provider retries, playback tokens and webhook replay protection."""

    mux_token_id: str | None = None
    """Mux access token id (Settings → Access Tokens, "Mux Video" read + write). Mux is available when set."""
    mux_token_secret: SecretStr | None = None
    mux_webhook_secret: SecretStr | None = None
    """Signing secret of the Mux webhook endpoint (``mux-signature`` HMAC-SHA256); webhooks are refused without it."""
    mux_signing_key_id: str | None = None
    """Mux URL signing key id (the JWT ``kid``) for ``SIGNED`` playback."""
    mux_signing_private_key: SecretStr | None = None
    """The signing key's RSA private key as Mux returns it: base64 of the PEM (a raw PEM is accepted too)."""
    mux_api_url: str = "https://api.mux.com"
    """Mux API base URL (tests point it at the local emulator)."""
    mux_rtmp_url: str = "rtmps://global-live.mux.com:443/app"
    """Ingest URL encoders are told for Mux streams (RTMPS; ``rtmp://global-live.mux.com:5222/app`` works too)."""
    mux_srt_url: str = "srt://global-live.mux.com:6001"
    mux_stream_url: str = "https://stream.mux.com"
    """Base of Mux HLS playback URLs: ``<mux_stream_url>/<playback id>.m3u8``."""
    mux_stats_url: str = "https://stats.mux.com"
    """Base of Mux's real-time stats endpoints (live stream health, viewer counts; signed-JWT access)."""
    mux_test_mode: bool = False
    """Create Mux live streams in test mode (free, watermarked, 5 minutes max, deleted after 24 h)."""
    mux_health_seconds: float = Field(10.0, ge=5, le=10)
    """Seconds between two health polls of each live Mux stream: 5-10 (Mux updates health every 5 s)."""
    mux_viewers_seconds: float = Field(30.0, ge=1)
    """Seconds between two reads of Mux Data's real-time current viewers."""

    livekit_url: str | None = None
    """LiveKit server URL (``wss://<project>.livekit.cloud`` or ``http://host:7880``). LiveKit is available when set."""
    livekit_api_key: str | None = None
    livekit_api_secret: SecretStr | None = None
    """API secret: signs access tokens and verifies LiveKit webhooks (JWT with the body's sha256)."""
    livekit_viewer_provider: str = "local"
    """Provider of the paired stream that LiveKit's RTMP egress publishes to for HLS viewers: ``mux`` or ``local``."""
    livekit_egress_start: str = Field("FIRST_VIEWER", pattern="^(FIRST_VIEWER|GO_LIVE)$")
    """When RTMP egress starts: when the first HLS viewer arrives (``FIRST_VIEWER``) or at go-live (``GO_LIVE``)."""
    livekit_egress_idle_seconds: float = Field(60.0, ge=0)
    """Seconds HLS viewers must stay at zero before the egress is stopped."""
    livekit_room_delete_seconds: float = Field(30.0, ge=0)
    """Seconds after a LiveKit stream ends before its room is deleted."""
    livekit_egress_layout: str = Field("speaker", pattern="^(speaker|grid|single-speaker)(-light|-dark)?$")
    """Room-composite layout of LiveKit's default template: ``speaker``, ``grid`` or ``single-speaker``, dark
    background (``-dark``, the default) or white (``-light``), e.g. ``grid-light``."""
    livekit_egress_extra_urls: list[SecretStr] = Field(default_factory=list)
    """More RTMP(S) outputs of every egress besides the paired stream's ingest, for redundancy (a JSON list, e.g.
    a standby origin or a recorder); ``{stream_key}`` becomes the paired stream's key and ``{room}`` the room
    name. LiveKit keeps pushing to the other outputs when one fails. Secret: the URLs may carry keys."""
    livekit_egress_width: int = Field(1280, ge=16, le=3840)
    livekit_egress_height: int = Field(720, ge=16, le=2160)
    livekit_egress_video_bitrate: int = Field(3_000_000, ge=100_000)
    """Egress video bitrate in bits per second."""
    livekit_egress_audio_bitrate: int = Field(128_000, ge=16_000)
    """Egress audio bitrate in bits per second."""
    livekit_egress_codec: str = Field("H264_MAIN", pattern="^(H264_BASELINE|H264_MAIN|H264_HIGH)$")
    livekit_token_ttl_seconds: int = Field(6 * 3600, gt=0)

    provider_timeout_seconds: float = Field(10.0, gt=0)
    """Seconds one provider API call may take before it counts as failed (then retried)."""
    provider_retry_attempts: int = Field(4, ge=1, le=10)
    """Attempts per provider call for transient failures (exponential backoff with jitter in between)."""
    playback_token_ttl_seconds: int = Field(3600, ge=30, le=7 * 24 * 3600)
    """Lifetime of a ``SIGNED`` stream's playback token (``createPlaybackToken``)."""
    webhook_tolerance_seconds: int = Field(300, ge=1)
    """Maximum age of a webhook's signed timestamp (Mux ``t=``; replay protection)."""

    @field_validator("livekit_egress_extra_urls")
    @classmethod
    def _egress_urls(cls, urls: list[SecretStr]) -> list[SecretStr]:
        for url in urls:
            try:
                filled = url.get_secret_value().format(stream_key="k", room="r")
            except (KeyError, IndexError, ValueError) as e:
                raise ValueError("an egress URL may only use the placeholders {stream_key} and {room}") from e
            if not filled.startswith(("rtmp://", "rtmps://")):
                raise ValueError("an egress URL must be rtmp:// or rtmps://")
        return urls
