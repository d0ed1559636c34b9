"""livecast settings: the only module that reads the environment.

Every setting is read from a ``LIVECAST_``-prefixed environment variable or from a ``.env`` file in the
working directory (pydantic-settings). Values are passed explicitly from here to the code that needs them;
nothing else calls ``os.environ``.
"""

from __future__ import annotations

import secrets
from enum import Enum
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_KEY_FILE = "secret_key"
MIN_SECRET_LENGTH = 32


class Environment(str, Enum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ConfigurationError(RuntimeError):
    """The configuration cannot be used as given (e.g. production without a secret key)."""


class Settings(BaseSettings):
    """All livecast configuration. Field ``x`` is read from ``LIVECAST_X``."""

    model_config = SettingsConfigDict(env_prefix="LIVECAST_", env_file=".env", extra="ignore", hide_input_in_errors=True)
    """Errors name the setting, never its value: values may be secrets (keys, passwords in URLs)."""

    env: Environment = Environment.DEVELOPMENT
    log_level: str = "INFO"

    database_url: str = "sqlite://./livecast.db"
    """Tortoise DB URL: ``sqlite://path`` (embedded default) or ``postgres://user:pass@host:5432/db``."""
    bus_url: str = "memory://"
    """Event bus: ``memory://`` (single process) or ``redis://host:6379/0`` (several processes)."""

    host: str = "127.0.0.1"
    """Address the HTTP server and the RTMP ingest listen on; ``0.0.0.0`` to accept other machines."""
    http_port: int = Field(8000, ge=0, le=65535)
    rtmp_port: int = Field(1935, ge=0, le=65535)
    public_url: str | None = None
    """Base URL clients use for HTTP (GraphQL, HLS); default ``http://<host>:<http_port>``."""
    rtmp_public_url: str | None = None
    """Base RTMP URL encoders are told (OBS "Server"); default ``rtmp://<host>:<rtmp_port>/live``."""

    data_dir: Path = Path(".livecast")
    """Directory for local state (the generated development secret key)."""
    media_dir: Path | None = None
    """Where the local pipeline writes HLS (``<media_dir>/<playbackId>/``); default ``<data_dir>/media``."""
    ffmpeg: str | None = None
    """Path to the ffmpeg binary; default: the static build shipped by imageio-ffmpeg."""

    secret_key: SecretStr | None = None
    """HS256 key for access tokens. Generated once into ``<data_dir>/secret_key`` in development."""
    token_ttl_seconds: int = Field(24 * 3600, gt=0)
    """Lifetime of an access token from ``livecast token create``, seconds (default 24 h; ``--ttl`` overrides it)."""
    auth_cache_seconds: float = Field(5.0, ge=0, le=60)
    """Seconds a process reuses what it read of a token's user (existence, roles, ``token_version``) before
    reading the ``users`` row again: a role removed, a user deleted or ``livecast token revoke`` takes effect
    within this long on every API process (each has its own cache). 0 reads the row for every request."""

    embedded_ingest: bool = True
    """Run the RTMP ingest inside ``livecast serve`` (embedded mode)."""
    hls_segment_seconds: float = Field(2.0, gt=0, le=30)
    """Target HLS segment duration in seconds (RFC 8216 EXT-X-TARGETDURATION rounds it up)."""
    hls_list_size: int = Field(6, ge=3, le=100)
    """Segments kept in the rolling live playlist."""
    ingest_handshake_timeout: float = Field(10.0, gt=0)
    """Seconds an RTMP client has to complete the handshake and publish before it is dropped."""
    ingest_idle_timeout: float = Field(15.0, gt=0)
    """Seconds without any bytes from a publishing encoder before the connection is dropped."""
    ingest_max_pending_per_address: int = Field(8, ge=1)
    """RTMP connections one client address (IPv6: one /64) may have open before publishing; more are closed at once.
    Behind a TCP proxy every encoder has the proxy's address: raise it to the encoders that may connect at once."""
    ingest_max_pending: int = Field(256, ge=1)
    """RTMP connections not publishing yet, from all clients together; more are closed at once."""
    lifecycle_check_seconds: float = Field(5.0, gt=0)
    """Seconds between two runs of the job that ends streams past their max continuous duration."""

    health_sample_seconds: float = Field(5.0, gt=0, le=300)
    """Seconds between two health samples of a publishing local stream (stored, published, checked for alerts)."""
    health_window_seconds: float = Field(5.0, gt=0, le=300)
    """Rolling window (seconds) over which bitrates and frame rate are measured."""
    health_drift_window_seconds: float = Field(30.0, gt=0, le=3600)
    """Rolling window (seconds) of the drift average that the drift deviation (and the health status) is from."""
    health_retention_days: float = Field(7.0, gt=0)
    """Days health samples (``stream_quality_metrics``) are kept; older ones are purged by a periodic job."""
    health_purge_seconds: float = Field(3600.0, gt=0)
    """Seconds between two runs of the health sample purge job."""

    jobs_url: str = "memory://"
    """Background jobs (taskiq): ``memory://`` runs them inside ``livecast serve`` (embedded); ``redis://host:6379/0``
    queues them in Redis for ``livecast worker`` processes (distributed; ``serve`` then runs none)."""
    jobs_prefix: str = Field("livecast", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    """Prefix of the Redis keys of the job queue, the per-period claims and the job run journal."""
    worker_concurrency: int = Field(10, ge=1)
    """Jobs one ``livecast worker`` process runs at the same time."""
    schedule_check_seconds: float = Field(5.0, gt=0)
    """Seconds between two checks of scheduled streams (start-time reminders, auto-cancel)."""
    reminder_lead_seconds: int = Field(600, ge=0)
    """Seconds before ``scheduledAt`` at which the ``STARTS_SOON`` reminder is sent (``STARTING`` is sent at it)."""
    scheduled_grace_seconds: int = Field(3600, gt=0)
    """Seconds after ``scheduledAt`` a stream nobody started stays ``SCHEDULED``; then it is ``CANCELLED``."""

    cors_origins: list[str] = ["*"]
    """Origins allowed to call /graphql from a browser (HTTP CORS and websocket Origin check). Tokens travel
    in headers or ``connection_init``, never cookies, so ``*`` exposes no ambient credentials."""

    bus_queue_size: int = Field(1000, ge=10)
    """Events a lossless subscriber may fall behind before it is ended (SLOW_CONSUMER)."""

    rate_limit_url: str | None = None
    """Where per-user rate limits are counted: ``memory://`` (one process) or ``redis://...``. Default: the
    bus's Redis when ``LIVECAST_BUS_URL`` is ``redis://`` (so every API process shares the count), else memory."""
    chat_rate_limit: str = "20/30 seconds"
    """Chat messages one user may send per window (``limits`` notation: ``N/<period>``, a moving window)."""
    reaction_rate_limit: str = "30/10 seconds"
    """Reactions one user may send per window."""
    chat_rate_limit_privileged: str = "100/30 seconds"
    """Chat messages per window for a stream's owner, its moderators and admins (counted apart from their
    ``chat_rate_limit`` as viewers elsewhere); nobody is exempt."""
    reaction_rate_limit_privileged: str = "60/10 seconds"
    """Reactions per window for a stream's owner, its moderators and admins."""
    stream_create_rate_limit: str = "50/day"
    """Streams one user may create per window, admins included (so that ENDED streams cannot pile up without
    bound either); refused with ``RATE_LIMITED`` and ``retryAfter`` (seconds)."""
    max_open_streams_per_owner: int = Field(20, ge=1)
    """Streams one owner may have that are not over (SCHEDULED, PREPARING, LIVE, RECONNECTING); one more is
    refused with ``VALIDATION``. Admins are exempt from this count (not from ``stream_create_rate_limit``)."""
    reaction_emojis: list[str] = ["👍", "❤️", "😂", "🔥", "🎉", "👏", "😮", "😢"]
    """The emoji viewers may react with (a skin-toned or ZWJ emoji counts as one), as a JSON list."""

    viewers_url: str | None = None
    """Where playback beacons are kept for counting viewers: ``memory://`` (one process) or ``redis://...``.
    Default: the bus's Redis when ``LIVECAST_BUS_URL`` is ``redis://`` (every API process and worker sees every
    beacon), else memory."""
    viewer_count_seconds: float = Field(5.0, gt=0)
    """Seconds between two viewer counts (CCV events, ``Stream.viewerCount``, viewer time series)."""
    viewer_flush_seconds: float = Field(30.0, gt=0)
    """Seconds between two writes of the viewer sessions that beacons changed (analytics lag this much at most;
    rounded to whole counts). One upsert per 2,000 sessions, never one write per beacon."""
    viewer_window_seconds: float = Field(15.0, gt=0, le=300)
    """Seconds a ``playing`` (or short ``buffering``) beacon keeps its viewer counted; players beacon every ~5 s."""
    playback_session_ttl_seconds: int = Field(600, ge=60, le=86_400)
    """Seconds a playback session token (``Stream.playback.session``) is valid. An accepted beacon whose token is
    past half of it gets a fresh token for the same session in its reply; a session silent this long is over."""
    beacon_rate_limit: str = "600/minute"
    """Beacon requests one client address may send per window (``limits`` notation; IPv6 per /64). A player
    beacons every ~5 s (12/minute): the default lets ~50 players share one address (NAT)."""
    viewer_sessions_per_stream: int = Field(50_000, ge=1)
    """Playback sessions one stream may hold in the viewer store; past it new sessions get HTTP 503."""
    viewer_sessions_max: int = Field(200_000, ge=1)
    """Playback sessions the in-memory viewer store (``memory://``) may hold for all streams (HTTP 503 past it)."""

    ws_init_timeout_seconds: float = Field(10.0, gt=0, le=60)
    """Seconds a websocket client has to send ``connection_init`` before it is closed (code 4408)."""
    ws_max_subscriptions: int = Field(50, ge=1, le=1000)
    """Operations one websocket connection may run at once; more get the error "Subscription limit reached"."""
    ws_per_message_deflate: bool = False
    """Offer websocket compression (permessage-deflate). Off by default: it costs ~45-50 KB of server memory per
    connection (benchmarks/fanout.py) while livecast's events are small JSON."""
    gc_threshold0: int = Field(50_000, ge=700)
    """Python's generation-0 GC threshold in ``livecast serve``. With thousands of websocket subscribers the
    default (700) runs full collections of millions of objects that stall delivery for seconds."""
    ws_keepalive_seconds: float = Field(15.0, gt=0)
    """Seconds between server pings on idle websockets (keeps proxies and load balancers from closing them)."""

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

    graphql_max_tokens: int = Field(5000, ge=100)
    """Lexical tokens one GraphQL document may have (the parser stops there; ``QUERY_TOO_COMPLEX``)."""
    graphql_max_aliases: int = Field(100, ge=0)
    """Aliased fields one document may write (``QUERY_TOO_COMPLEX``)."""
    graphql_max_depth: int = Field(12, ge=2)
    """Nested selection sets an operation may have, fragments expanded (``QUERY_TOO_COMPLEX``)."""
    graphql_max_cost: int = Field(10_000, ge=10)
    """Fields an operation may resolve, estimated before it runs: each field 1, a list's selection times its
    ``first`` (or ``LIVECAST_GRAPHQL_LIST_SIZE``) (``QUERY_TOO_COMPLEX``; see livecast/schema/limits.py)."""
    graphql_list_size: int = Field(10, ge=1)
    """Items assumed for a list field without ``first`` when estimating cost."""
    graphql_validation_seconds: float = Field(1.0, gt=0, le=30)
    """Seconds the spec's validation of one document may take before it is refused (``QUERY_TOO_COMPLEX``)."""
    graphql_cache_chars: int = Field(128 * 1024, ge=0)
    """Characters of query text whose parsed documents and validation verdicts are cached, in all."""
    graphql_max_body_bytes: int = Field(1024 * 1024, ge=1024)
    """Largest ``/graphql`` request body (bytes); larger gets HTTP 413 (``PAYLOAD_TOO_LARGE``)."""
    graphql_introspection: bool | None = None
    """``__schema``/``__type`` queries allowed. Default: on, off when ``LIVECAST_ENV=production``."""
    graphql_suggestions: bool | None = None
    """"Did you mean ...?" hints (schema names) in errors. Default: on, off when ``LIVECAST_ENV=production``."""
    graphiql: bool | None = None
    """Serve GraphiQL at ``GET /graphql`` in a browser. Default: on, off when ``LIVECAST_ENV=production``."""

    http_header_timeout_seconds: float = Field(10.0, gt=0, le=300)
    """Seconds a client has to send a request's headers (from connecting, or from its first byte on a kept-alive
    connection); then the connection is closed (slow-loris)."""
    http_body_timeout_seconds: float = Field(30.0, gt=0, le=3600)
    """Seconds a client has to send a request body once its headers are in."""
    http_max_header_bytes: int = Field(64 * 1024, ge=4096)
    """Largest request line + headers (bytes); larger gets HTTP 431 and the connection is closed."""
    http_max_connections: int = Field(20_000, ge=10)
    """Open HTTP and websocket connections (and running requests) before new requests get HTTP 503."""
    forwarded_allow_ips: str = ""
    """Comma-separated proxy addresses (or ``*``) whose ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are trusted
    for the client address (per-address limits, logs). Empty: trust no one (livecast faces clients directly)."""
    ws_max_message_bytes: int = Field(256 * 1024, ge=4096)
    """Largest websocket message a client may send (bytes); larger closes the connection (code 1009)."""

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

    @field_validator(
        "chat_rate_limit", "reaction_rate_limit", "chat_rate_limit_privileged", "reaction_rate_limit_privileged",
        "stream_create_rate_limit",
    )  # fmt: skip
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError as e:
            raise ValueError('a rate limit reads "N/<period>", e.g. "20/30 seconds" or "50/day"') from e
        return value

    @model_validator(mode="after")
    def _production_needs_secret(self) -> Settings:
        if self.env is Environment.PRODUCTION and self.secret_key is None:
            raise ConfigurationError("LIVECAST_SECRET_KEY must be set when LIVECAST_ENV=production")
        if self.secret_key is not None and len(self.secret_key.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"LIVECAST_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters (HS256 wants >= 256 bits)"
            )
        return self

    @property
    def production(self) -> bool:
        return self.env is Environment.PRODUCTION

    def development_default(self, value: bool | None) -> bool:
        """An on/off setting left unset: on in development, off in production."""
        return (not self.production) if value is None else value

    @property
    def rate_limit_storage(self) -> str:
        if self.rate_limit_url:
            return self.rate_limit_url
        return self.bus_url if self.bus_url.startswith(("redis://", "rediss://")) else "memory://"

    @property
    def viewers_storage(self) -> str:
        if self.viewers_url:
            return self.viewers_url
        return self.bus_url if self.bus_url.startswith(("redis://", "rediss://")) else "memory://"

    @property
    def http_base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{_client_host(self.host)}:{self.http_port}"

    @property
    def rtmp_base_url(self) -> str:
        if self.rtmp_public_url:
            return self.rtmp_public_url.rstrip("/")
        return f"rtmp://{_client_host(self.host)}:{self.rtmp_port}/live"

    @property
    def hls_dir(self) -> Path:
        return self.media_dir if self.media_dir is not None else self.data_dir / "media"

    @cached_property
    def ffmpeg_path(self) -> str:
        if self.ffmpeg:
            return self.ffmpeg
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()

    @cached_property
    def signing_key(self) -> str:
        """The token signing key: ``LIVECAST_SECRET_KEY``, else (development) the key kept in the data dir.

        Raises ``ConfigurationError`` in production without a key (also checked at load time).
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.env is Environment.PRODUCTION:
            raise ConfigurationError("LIVECAST_SECRET_KEY must be set when LIVECAST_ENV=production")
        path = self.data_dir / SECRET_KEY_FILE
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            try:
                with open(path, "x", encoding="ascii") as f:  # "x": never overwrite a concurrent writer's key
                    f.write(secrets.token_urlsafe(48))
                path.chmod(0o600)
            except FileExistsError:
                pass
        return path.read_text(encoding="ascii").strip()


def _client_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and ``.env``; keyword overrides win (used by the CLI and tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
