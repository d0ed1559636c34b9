"""The Mux adapter: live streams on Mux Video through mux-python (``LiveStreamsApi``).

mux-python is synchronous, so every call runs in a worker thread through
:func:`livecast.providers.resilience.in_thread`: ``provider_timeout_seconds`` per attempt (also the socket
timeout of the SDK's HTTP client), up to ``provider_retry_attempts`` attempts for transient failures (429,
5xx, connection errors, timeouts). Failures come out as ``ProviderError`` (see :mod:`.errors`). A create that
timed out after Mux received it may be retried and leave an idle orphan stream on Mux (Mux has no idempotency key).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

import mux_python

from livecast.providers.base import (
    IngestEndpoints,
    IngestHealth,
    PlaybackInfo,
    PlaybackToken,
    ProviderEvent,
    ProviderNotFound,
    ProviderRejected,
    ProviderStreamState,
    ProvisionedStream,
    SimulcastTarget,
    StreamRef,
    StreamSpec,
    ViewerCounts,
    WebhookRejected,
)
from livecast.providers.mux.errors import PROVIDER, translate
from livecast.providers.mux.monitoring import MuxMonitoring
from livecast.providers.mux.signing import PlaybackSigner
from livecast.providers.resilience import in_thread
from livecast.settings import Settings

T = TypeVar("T")


class MuxProvider:
    """``StreamProvider`` (and ``WebhookSource``) on Mux Video. Needs ``mux_token_id`` + ``mux_token_secret``."""

    name = PROVIDER

    def __init__(self, settings: Settings) -> None:
        if not settings.mux_token_id or settings.mux_token_secret is None:
            raise ProviderRejected(PROVIDER, "not configured: set LIVECAST_MUX_TOKEN_ID and LIVECAST_MUX_TOKEN_SECRET")
        self._settings = settings
        config = mux_python.Configuration()
        config.host = settings.mux_api_url.rstrip("/")
        config.username = settings.mux_token_id
        config.password = settings.mux_token_secret.get_secret_value()
        config.retries = False  # retries are ours (tenacity), not urllib3's
        self._api = mux_python.LiveStreamsApi(mux_python.ApiClient(config))
        self._timeout = settings.provider_timeout_seconds
        key = settings.mux_signing_private_key
        self._signer = PlaybackSigner(settings.mux_signing_key_id, key.get_secret_value() if key else None)
        self._srt_passphrases: dict[str, str] = {}
        self._monitoring = MuxMonitoring(settings)
        """Live stream id → SRT passphrase, as seen in Mux's answers (process memory only)."""

    async def _run(self, call: Callable[[], T]) -> T:
        """``call()`` (SDK request models are built inside it too) in a worker thread, with retries."""
        return await in_thread(
            PROVIDER, call, translate=translate, attempts=self._settings.provider_retry_attempts, timeout=self._timeout
        )

    async def _call(self, method: Callable[..., T], *args: Any) -> T:
        """``method(*args)`` of the SDK, with the socket timeout set to the per-attempt timeout."""
        return await self._run(lambda: method(*args, _request_timeout=self._timeout))

    def _remember(self, stream: Any) -> None:
        if stream.id and stream.srt_passphrase:
            self._srt_passphrases[stream.id] = stream.srt_passphrase

    # -- lifecycle ---------------------------------------------------------------------------------------
    async def create_stream(self, spec: StreamSpec) -> ProvisionedStream:
        """``POST /video/v1/live-streams`` with one playback id of ``spec.playback_policy``; recorded as an asset
        of the same policy when ``recording_enabled``; a test stream when ``mux_test_mode``."""
        policy = spec.playback_policy.lower()

        def call() -> Any:
            request = mux_python.CreateLiveStreamRequest(
                playback_policy=[policy],
                new_asset_settings=mux_python.CreateAssetRequest(playback_policy=[policy])
                if spec.recording_enabled
                else None,
                latency_mode=spec.latency_mode.lower(),
                reconnect_window=spec.reconnect_window,
                max_continuous_duration=spec.max_continuous_duration,
                test=self._settings.mux_test_mode,
                meta=mux_python.LiveStreamMetadata(title=spec.title[:512]),
            )
            return self._api.create_live_stream(request, _request_timeout=self._timeout)

        stream = (await self._run(call)).data
        self._remember(stream)
        playback = next((p for p in stream.playback_ids or [] if p.policy == policy), None)
        if playback is None:
            raise ProviderRejected(PROVIDER, f"Mux created live stream {stream.id} without a {policy} playback id")
        return ProvisionedStream(provider_stream_id=stream.id, stream_key=stream.stream_key, playback_id=playback.id)

    async def update_stream(self, ref: StreamRef, spec: StreamSpec) -> None:
        """``PATCH`` latency mode, reconnect window and max duration. A playback id's policy cannot change on
        Mux, so a new ``playback_policy`` is refused (``ProviderRejected``): create a new stream for that."""
        stream = await self._get(ref)
        current = next((p for p in stream.playback_ids or [] if p.id == ref.playback_id), None)
        if current is not None and current.policy != spec.playback_policy.lower():
            raise ProviderRejected(
                PROVIDER, f"the playback policy of a Mux stream cannot change ({current.policy.upper()} here)"
            )

        def call() -> Any:
            request = mux_python.UpdateLiveStreamRequest(
                latency_mode=spec.latency_mode.lower(),
                reconnect_window=spec.reconnect_window,
                max_continuous_duration=spec.max_continuous_duration,
                meta=mux_python.LiveStreamMetadata(title=spec.title[:512]),
            )
            return self._api.update_live_stream(stream.id, request, _request_timeout=self._timeout)

        await self._run(call)

    async def complete_stream(self, ref: StreamRef) -> None:
        """``PUT .../complete``: Mux disconnects the encoder and finishes the recorded asset."""
        await self._call(self._api.signal_live_stream_complete, _id(ref))

    async def delete_stream(self, ref: StreamRef) -> None:
        """``DELETE``; a stream Mux no longer has counts as deleted."""
        if ref.provider_stream_id is None:
            return
        try:
            await self._call(self._api.delete_live_stream, ref.provider_stream_id)
        except ProviderNotFound:
            pass
        self._srt_passphrases.pop(ref.provider_stream_id, None)

    async def reset_stream_key(self, ref: StreamRef) -> str:
        """``POST .../reset-stream-key``: the old key stops working at once; returns the new one."""
        stream = (await self._call(self._api.reset_stream_key, _id(ref))).data
        self._remember(stream)
        return str(stream.stream_key)

    async def _get(self, ref: StreamRef) -> Any:
        stream = (await self._call(self._api.get_live_stream, _id(ref))).data
        self._remember(stream)
        return stream

    async def get_stream(self, ref: StreamRef) -> ProviderStreamState:
        """``GET``: status (``IDLE | ACTIVE | DISABLED``), key, playback id, simulcast targets, recorded assets."""
        stream = await self._get(ref)
        ids = [p.id for p in stream.playback_ids or []]
        return ProviderStreamState(
            provider_stream_id=stream.id,
            status=str(stream.status or "idle").upper(),
            stream_key=stream.stream_key,
            playback_id=ref.playback_id if ref.playback_id in ids else (ids[0] if ids else ""),
            simulcast_targets=tuple(_target(t) for t in stream.simulcast_targets or []),
            recent_asset_ids=tuple(stream.recent_asset_ids or ()),
        )

    async def set_enabled(self, ref: StreamRef, enabled: bool) -> None:
        """``PUT .../enable`` or ``.../disable`` (a disabled stream refuses encoders)."""
        method = self._api.enable_live_stream if enabled else self._api.disable_live_stream
        await self._call(method, _id(ref))

    # -- simulcast ---------------------------------------------------------------------------------------
    async def add_simulcast_target(self, ref: StreamRef, *, url: str, stream_key: str) -> SimulcastTarget:
        """``POST .../simulcast-targets`` (Mux accepts them only while the stream is idle)."""

        def call() -> Any:
            request = mux_python.CreateSimulcastTargetRequest(url=url, stream_key=stream_key)
            return self._api.create_live_stream_simulcast_target(_id(ref), request, _request_timeout=self._timeout)

        target = (await self._run(call)).data
        return _target(target)

    async def remove_simulcast_target(self, ref: StreamRef, target_id: str) -> None:
        """``DELETE .../simulcast-targets/{id}``; a target Mux no longer has counts as removed."""
        try:
            await self._call(self._api.delete_live_stream_simulcast_target, _id(ref), target_id)
        except ProviderNotFound:
            pass

    # -- endpoints and playback --------------------------------------------------------------------------
    def ingest_endpoints(self, ref: StreamRef) -> IngestEndpoints:
        """RTMPS ``mux_rtmp_url`` + key; SRT ``<mux_srt_url>?streamid=<key>&passphrase=<srt_passphrase>`` (the
        passphrase when this process has seen it in a Mux answer)."""
        query = {"streamid": ref.stream_key}
        passphrase = self._srt_passphrases.get(ref.provider_stream_id or "")
        if passphrase:
            query["passphrase"] = passphrase
        srt = f"{self._settings.mux_srt_url}?{urlencode(query)}"
        return IngestEndpoints(rtmp_url=self._settings.mux_rtmp_url, srt_url=srt, stream_key=ref.stream_key)

    def playback(self, ref: StreamRef, token: str | None = None) -> PlaybackInfo:
        """``<mux_stream_url>/<playback id>.m3u8``, with ``?token=`` for a signed stream's token."""
        url = f"{self._settings.mux_stream_url.rstrip('/')}/{ref.playback_id}.m3u8"
        if token:
            url += "?" + urlencode({"token": token})
        return PlaybackInfo(hls_url=url, policy=ref.playback_policy)

    def sign_playback(self, ref: StreamRef, *, ttl_seconds: int) -> PlaybackToken:
        """RS256 JWT (``kid``, ``sub`` = playback id, ``aud`` = ``v``, ``exp``); ``ProviderRejected`` unconfigured."""
        return self._signer.sign(ref.playback_id, ttl_seconds=ttl_seconds)

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """Verify a Mux webhook delivery (``mux-signature``); ``WebhookRejected`` if it does not verify."""
        from livecast.providers.mux.webhook import verify_mux_webhook

        secret = self._settings.mux_webhook_secret
        if secret is None:
            raise WebhookRejected("Mux webhooks are not configured: set LIVECAST_MUX_WEBHOOK_SECRET")
        return verify_mux_webhook(
            body,
            headers,
            secret=secret.get_secret_value(),
            tolerance_seconds=self._settings.webhook_tolerance_seconds,
        )

    # -- monitoring (livecast.providers.mux.monitoring) ------------------------------------------------------
    async def live_health(self, ref: StreamRef) -> IngestHealth:
        """``HealthSource``: the live stream's ingest health (stats.mux.com; needs the URL signing key)."""
        return await self._monitoring.live_health(ref)

    async def current_viewers(self, refs: Sequence[StreamRef]) -> ViewerCounts:
        """``ViewerSource``: concurrent viewers per live stream id (Mux Data real-time; failures in ``errors``)."""
        return await self._monitoring.current_viewers(refs)


def _id(ref: StreamRef) -> str:
    if not ref.provider_stream_id:
        raise ProviderNotFound(PROVIDER, "the stream has no Mux live stream id")
    return ref.provider_stream_id


def _target(target: Any) -> SimulcastTarget:
    return SimulcastTarget(id=target.id, url=target.url, status=str(target.status or "idle").upper())
