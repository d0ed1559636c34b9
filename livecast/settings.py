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

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from livecast.settings_limits import LimitSettings
from livecast.settings_providers import ProviderSettings

SECRET_KEY_FILE = "secret_key"
MIN_SECRET_LENGTH = 32


class Environment(str, Enum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ConfigurationError(RuntimeError):
    """The configuration cannot be used as given (e.g. production without a secret key)."""


class Settings(BaseSettings, LimitSettings, ProviderSettings):
    """All livecast configuration. Field ``x`` is read from ``LIVECAST_X``; the limits and the providers' fields
    are declared in :mod:`livecast.settings_limits` and :mod:`livecast.settings_providers`."""

    model_config = SettingsConfigDict(
        env_prefix="LIVECAST_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )
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
    ingest_idle_timeout: float = Field(5.0, gt=0)
    """Seconds without media (audio or video messages) from a publishing encoder before it is taken for gone: its
    connection is dropped and the stream is ``RECONNECTING`` (a stalled or half-open encoder, e.g. after a network
    blip, does not hold the stream for long; OBS reconnects after 2-10 s)."""
    ingest_id: str | None = Field(None, min_length=1, max_length=128)
    """Name of this ingest process, recorded on the streams it serves (default ``<hostname>:<rtmp_port>``). It must
    stay the same across restarts (a restarted ingest reconciles the streams recorded with its name) and differ
    between ingest processes sharing one database."""
    ingest_max_pending_per_address: int = Field(8, ge=1)
    """RTMP connections one client address (IPv6: one /64) may have open before publishing; more are closed at once.
    Behind a TCP proxy every encoder has the proxy's address: raise it to the encoders that may connect at once."""
    ingest_max_pending: int = Field(256, ge=1)
    """RTMP connections not publishing yet, from all clients together; more are closed at once."""
    lifecycle_check_seconds: float = Field(5.0, gt=0)
    """Seconds between two runs of the jobs that end streams past their max continuous duration and streams whose
    stored reconnect deadline has passed."""

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
    def ingest_name(self) -> str:
        """``ingest_id``, or ``<hostname>:<rtmp_port>``."""
        if self.ingest_id:
            return self.ingest_id
        import socket

        return f"{socket.gethostname()}:{self.rtmp_port}"

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
