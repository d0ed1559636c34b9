"""The LiveKit adapter (livekit-api, async Twirp client): a livecast stream is a LiveKit room.

Stream port mapping: ``create_stream`` creates a room named ``livecast-<hex>`` (``provider_stream_id`` and
``playback_id`` = the room name; ``stream_key`` = a random room-scoped secret: publishers join over WebRTC
with a publish token, not with the key); ``get_stream`` lists the room (``ACTIVE`` while someone publishes);
``complete_stream`` removes the participants; ``delete_stream`` deletes the room. LiveKit has no stream keys
to reset, no simulcast targets, no ingest switch and no signed HLS: those raise ``ProviderNotSupported``.
HLS viewers are served by the paired provider through RTMP egress (``livecast.domain.broadcast``).

Every API call goes through :func:`~livecast.providers.resilience.resilient` (per-attempt timeout
``provider_timeout_seconds``, ``provider_retry_attempts`` attempts); errors are translated by
:func:`~livecast.providers.livekit.errors.translate`. Calls use a fresh HTTP session each (calls are rare:
room and egress control), so the adapter is not tied to one event loop.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import aiohttp
from livekit import api

from livecast.providers.base import (
    IngestEndpoints,
    PlaybackInfo,
    PlaybackToken,
    ProviderEvent,
    ProviderNotFound,
    ProviderNotSupported,
    ProviderRejected,
    ProviderStreamState,
    ProvisionedStream,
    SimulcastTarget,
    StreamRef,
    StreamSpec,
    WebhookRejected,
)
from livecast.providers.livekit.errors import NAME, translate
from livecast.providers.livekit.ports import BroadcastPolicy, EgressState, RoomParticipant, RoomToken
from livecast.providers.resilience import resilient
from livecast.settings import Settings

T = TypeVar("T")


class LiveKitProvider:
    """``StreamProvider`` + ``RoomProvider`` + ``WebhookSource`` over a LiveKit server (Cloud or self-hosted)."""

    name = NAME

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.policy = BroadcastPolicy(
            viewer_provider=settings.livekit_viewer_provider,
            egress_start=settings.livekit_egress_start,
            egress_idle_seconds=settings.livekit_egress_idle_seconds,
            room_delete_seconds=settings.livekit_room_delete_seconds,
            egress_extra_urls=tuple(url.get_secret_value() for url in settings.livekit_egress_extra_urls),
        )

    # --- configuration ------------------------------------------------------------------------------
    def _credentials(self) -> tuple[str, str, str]:
        s = self._settings
        missing = [
            n for n, v in (("LIVECAST_LIVEKIT_URL", s.livekit_url), ("LIVECAST_LIVEKIT_API_KEY", s.livekit_api_key),
                           ("LIVECAST_LIVEKIT_API_SECRET", s.livekit_api_secret)) if not v
        ]  # fmt: skip
        if missing:
            raise ProviderRejected(NAME, f"not configured: set {', '.join(missing)}")
        assert s.livekit_url and s.livekit_api_key and s.livekit_api_secret
        return s.livekit_url, s.livekit_api_key, s.livekit_api_secret.get_secret_value()

    @property
    def client_url(self) -> str:
        """The server URL for client SDKs (``ws(s)://``)."""
        url = self._credentials()[0]
        return "ws" + url[4:] if url.startswith("http") else url

    async def _call(self, call: Callable[[api.LiveKitAPI], Awaitable[T]]) -> T:
        url, key, secret = self._credentials()
        timeout = self._settings.provider_timeout_seconds

        async def attempt() -> T:
            lk = api.LiveKitAPI(url, key, secret, timeout=aiohttp.ClientTimeout(total=timeout), failover=False)
            try:
                return await call(lk)
            finally:
                await lk.aclose()

        return await resilient(
            NAME, attempt, translate=translate, attempts=self._settings.provider_retry_attempts, timeout=timeout
        )

    # --- StreamProvider -------------------------------------------------------------------------------
    async def create_stream(self, spec: StreamSpec) -> ProvisionedStream:
        """Create a room; it outlives an empty period of ``max_continuous_duration`` and keeps a departed
        publisher's place for ``reconnect_window`` seconds."""
        room = f"livecast-{uuid.uuid4().hex}"
        request = api.CreateRoomRequest(
            name=room, empty_timeout=max(spec.max_continuous_duration, 3600), departure_timeout=spec.reconnect_window
        )
        created = await self._call(lambda lk: lk.room.create_room(request))
        key = secrets.token_urlsafe(24)
        return ProvisionedStream(provider_stream_id=created.name, stream_key=key, playback_id=created.name)

    async def update_stream(self, ref: StreamRef, spec: StreamSpec) -> str | None:
        """Nothing LiveKit stores changes; checks that the room exists (``ProviderNotFound`` otherwise)."""
        await self.get_stream(ref)
        return None

    async def complete_stream(self, ref: StreamRef) -> None:
        """Remove every participant (publishers are disconnected); the room itself is deleted later."""
        room = _room(ref)
        for participant in await self.list_participants(room):
            try:
                request = api.RoomParticipantIdentity(room=room, identity=participant.identity)
                await self._call(lambda lk, r=request: lk.room.remove_participant(r))
            except ProviderNotFound:  # left meanwhile
                continue

    async def delete_stream(self, ref: StreamRef) -> None:
        await self.delete_room(_room(ref))

    async def reset_stream_key(self, ref: StreamRef) -> str:
        raise ProviderNotSupported(NAME, "LiveKit rooms have no stream key; mint a new publish token instead")

    async def get_stream(self, ref: StreamRef) -> ProviderStreamState:
        """``ACTIVE`` while the room has publishers, else ``IDLE``; ``ProviderNotFound`` when there is no room."""
        room = _room(ref)
        listed = await self._call(lambda lk: lk.room.list_rooms(api.ListRoomsRequest(names=[room])))
        match = [r for r in listed.rooms if r.name == room]
        if not match:
            raise ProviderNotFound(NAME, f"room {room} does not exist")
        return ProviderStreamState(
            provider_stream_id=room, status="ACTIVE" if match[0].num_publishers > 0 else "IDLE",
            stream_key=ref.stream_key, playback_id=ref.playback_id,
        )  # fmt: skip

    async def set_enabled(self, ref: StreamRef, enabled: bool) -> None:
        raise ProviderNotSupported(NAME, "LiveKit has no ingest switch; revoke publish tokens instead")

    def ingest_endpoints(self, ref: StreamRef) -> IngestEndpoints:
        """``rtmp_url`` is the LiveKit server URL (publishers join over WebRTC with ``createBroadcastToken``)."""
        return IngestEndpoints(rtmp_url=self.client_url, srt_url=None, stream_key=ref.stream_key)

    def playback(self, ref: StreamRef, token: str | None = None) -> PlaybackInfo:
        """LiveKit itself serves no HLS: ``hls_url`` is empty and ``fallback`` the WebRTC hint (the domain
        serves HLS viewers from the paired stream)."""
        return PlaybackInfo(hls_url="", policy=ref.playback_policy, fallback=self.webrtc_fallback(_room(ref)))

    def sign_playback(self, ref: StreamRef, *, ttl_seconds: int) -> PlaybackToken:
        raise ProviderNotSupported(NAME, "LiveKit playback is by subscribe token (createViewerToken)")

    async def add_simulcast_target(self, ref: StreamRef, *, url: str, stream_key: str) -> SimulcastTarget:
        raise ProviderNotSupported(NAME, "LiveKit streams restream through egress, not simulcast targets")

    async def remove_simulcast_target(self, ref: StreamRef, target_id: str) -> None:
        raise ProviderNotSupported(NAME, "LiveKit streams restream through egress, not simulcast targets")

    # --- RoomProvider -----------------------------------------------------------------------------------
    def _token(self, room: str, identity: str, name: str | None, *, publish: bool) -> RoomToken:
        if not room or not identity:
            raise ProviderRejected(NAME, "a token needs a room and an identity")
        _, key, secret = self._credentials()
        ttl = self._settings.livekit_token_ttl_seconds
        grants = api.VideoGrants(
            room_join=True, room=room, can_publish=publish, can_subscribe=True, can_publish_data=publish
        )
        token = (
            api.AccessToken(key, secret).with_identity(identity).with_ttl(timedelta(seconds=ttl)).with_grants(grants)
        )
        if name:
            token = token.with_name(name)
        expires = datetime.now(UTC) + timedelta(seconds=ttl)
        return RoomToken(token.to_jwt(), self.client_url, room, identity, publish, expires.replace(microsecond=0))

    def publish_token(self, room: str, identity: str, *, name: str | None = None) -> RoomToken:
        return self._token(room, identity, name, publish=True)

    def subscribe_token(self, room: str, identity: str, *, name: str | None = None) -> RoomToken:
        return self._token(room, identity, name, publish=False)

    def webrtc_fallback(self, room: str) -> str:
        return f"{self.client_url}?room={room}"

    async def start_egress(self, room: str, rtmp_urls: Sequence[str]) -> EgressState:
        s = self._settings
        if not rtmp_urls:
            raise ProviderRejected(NAME, "egress needs at least one RTMP URL")
        options = api.EncodingOptions(
            width=s.livekit_egress_width,
            height=s.livekit_egress_height,
            framerate=30,
            video_codec=api.VideoCodec.Value(s.livekit_egress_codec),
            video_bitrate=s.livekit_egress_video_bitrate // 1000,
            audio_codec=api.AudioCodec.AAC,
            audio_bitrate=s.livekit_egress_audio_bitrate // 1000,
        )  # fmt: skip  - LiveKit bitrates are kbps
        request = api.RoomCompositeEgressRequest(
            room_name=room, layout=s.livekit_egress_layout, advanced=options,
            stream_outputs=[api.StreamOutput(protocol=api.StreamProtocol.RTMP, urls=list(rtmp_urls))],
        )  # fmt: skip
        return _egress(await self._call(lambda lk: lk.egress.start_room_composite_egress(request)))

    async def stop_egress(self, egress_id: str) -> EgressState:
        request = api.StopEgressRequest(egress_id=egress_id)
        return _egress(await self._call(lambda lk: lk.egress.stop_egress(request)))

    async def egress_status(self, egress_id: str) -> EgressState:
        request = api.ListEgressRequest(egress_id=egress_id)
        listed = await self._call(lambda lk: lk.egress.list_egress(request))
        for item in listed.items:
            if item.egress_id == egress_id:
                return _egress(item)
        raise ProviderNotFound(NAME, f"egress {egress_id} does not exist")

    async def list_egress(self, room: str, *, active_only: bool = False) -> list[EgressState]:
        request = api.ListEgressRequest(room_name=room, active=active_only)
        return [_egress(item) for item in (await self._call(lambda lk: lk.egress.list_egress(request))).items]

    async def list_participants(self, room: str) -> list[RoomParticipant]:
        request = api.ListParticipantsRequest(room=room)
        listed = await self._call(lambda lk: lk.room.list_participants(request))
        return [
            RoomParticipant(identity=p.identity, sid=p.sid, publishing=bool(p.is_publisher or len(p.tracks)))
            for p in listed.participants
        ]

    async def delete_room(self, room: str) -> None:
        try:
            await self._call(lambda lk: lk.room.delete_room(api.DeleteRoomRequest(room=room)))
        except ProviderNotFound:
            return  # already gone (closed by LiveKit or deleted before): the goal is reached

    # --- WebhookSource ----------------------------------------------------------------------------------
    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """Verify a LiveKit webhook (``livecast.providers.livekit.webhook``); raises ``WebhookRejected``."""
        from livecast.providers.livekit.webhook import verify_livekit_webhook

        try:
            _, key, secret = self._credentials()
        except ProviderRejected as e:
            raise WebhookRejected(e.message) from e
        return verify_livekit_webhook(body, headers, api_key=key, api_secret=secret)


def _room(ref: StreamRef) -> str:
    if not ref.provider_stream_id:
        raise ProviderRejected(NAME, "this stream has no LiveKit room")
    return ref.provider_stream_id


def _egress(info: api.EgressInfo) -> EgressState:
    urls = tuple(r.url for r in info.stream_results) or tuple(
        url for output in info.room_composite.stream_outputs for url in output.urls
    )
    return EgressState(
        egress_id=info.egress_id, room=info.room_name, status=api.EgressStatus.Name(info.status).removeprefix("EGRESS_"),
        urls=urls, error=info.error or None,
    )  # fmt: skip
