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
    ProviderError,
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
        self._monitoring = MuxMonitoring(settings)

    async def _run(self, call: Callable[[], T]) -> T:
        """``call()`` (SDK request models are built inside it too) in a worker thread, with retries."""
        return await in_thread(
            PROVIDER, call, translate=translate, attempts=self._settings.provider_retry_attempts, timeout=self._timeout
        )

    async def _call(self, method: Callable[..., T], *args: Any) -> T:
        """``method(*args)`` of the SDK, with the socket timeout set to the per-attempt timeout."""
        return await self._run(lambda: method(*args, _request_timeout=self._timeout))

    # -- lifecycle ---------------------------------------------------------------------------------------
    async def create_stream(self, spec: StreamSpec) -> ProvisionedStream:
        """``POST /video/v1/live-streams`` with one playback id of ``spec.playback_policy``; recorded as an asset
        of the same policy when ``recording_enabled``; a test stream when ``mux_test_mode``."""
        policy = spec.playback_policy.lower()

        def call() -> Any:
            request = mux_python.CreateLiveStreamRequest(
                playback_policies=[policy],  # ``playback_policy`` is deprecated (same type)
                new_asset_settings=mux_python.CreateAssetRequest(playback_policies=[policy])
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
        playback = next((p for p in stream.playback_ids or [] if p.policy == policy), None)
        if playback is None:
            raise ProviderRejected(PROVIDER, f"Mux created live stream {stream.id} without a {policy} playback id")
        return ProvisionedStream(
            provider_stream_id=stream.id,
            stream_key=stream.stream_key,
            playback_id=playback.id,
            srt_passphrase=stream.srt_passphrase or None,
        )

    async def update_stream(self, ref: StreamRef, spec: StreamSpec) -> str | None:
        """``PATCH`` latency mode, reconnect window and max duration; returns the new playback id when the
        policy changed, else ``None``.

        A Mux playback id's policy cannot change, so a new ``playback_policy`` gets a new playback id
        (``POST .../playback-ids``) and the old one is deleted (``DELETE .../playback-ids/{id}``): players of
        the old id stop working, which is the point of going ``PUBLIC`` → ``SIGNED``. If the old id cannot be
        deleted the new one is deleted again and the ``ProviderError`` propagates (the old id stays valid).
        """
        policy = spec.playback_policy.lower()
        stream = await self._get(ref)
        current = next((p for p in stream.playback_ids or [] if p.id == ref.playback_id), None)

        def call() -> Any:
            request = mux_python.UpdateLiveStreamRequest(
                latency_mode=spec.latency_mode.lower(),
                reconnect_window=spec.reconnect_window,
                max_continuous_duration=spec.max_continuous_duration,
                meta=mux_python.LiveStreamMetadata(title=spec.title[:512]),
            )
            return self._api.update_live_stream(stream.id, request, _request_timeout=self._timeout)

        await self._run(call)
        if current is not None and current.policy == policy:
            return None
        return await self._replace_playback_id(stream.id, old=current.id if current else None, policy=policy)

    async def _replace_playback_id(self, stream_id: str, *, old: str | None, policy: str) -> str:
        """A new playback id of ``policy`` on the live stream, then ``old`` deleted; returns the new id."""

        def create() -> Any:
            request = mux_python.CreatePlaybackIDRequest(policy=policy)
            return self._api.create_live_stream_playback_id(stream_id, request, _request_timeout=self._timeout)

        new_id = str((await self._run(create)).data.id)
        if old is None:
            return new_id
        try:
            await self._call(self._api.delete_live_stream_playback_id, stream_id, old)
        except ProviderNotFound:
            pass  # already gone
        except ProviderError:
            try:  # keep one playback id: the stored (old) one
                await self._call(self._api.delete_live_stream_playback_id, stream_id, new_id)
            except ProviderError:
                pass  # an unused id is left on Mux; the original failure is what the caller must see
            raise
        return new_id

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

    async def reset_stream_key(self, ref: StreamRef) -> str:
        """``POST .../reset-stream-key``: the old key stops working at once; returns the new one. Mux's reference
        speaks of the stream key only (``srt_passphrase`` is a separate field), so the stored passphrase stays."""
        stream = (await self._call(self._api.reset_stream_key, _id(ref))).data
        return str(stream.stream_key)

    async def _get(self, ref: StreamRef) -> Any:
        return (await self._call(self._api.get_live_stream, _id(ref))).data

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
        """RTMPS ``mux_rtmp_url`` + key; SRT ``<mux_srt_url>?streamid=<key>&passphrase=<srt_passphrase>`` (Mux
        docs "Use SRT to live stream"; the passphrase stored with the stream, left out when there is none).
        Both carry secrets: for the stream's owner only."""
        query = {"streamid": ref.stream_key}
        if ref.srt_passphrase:
            query["passphrase"] = ref.srt_passphrase
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
