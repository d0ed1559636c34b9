"""The LiveKit adapter against the LiveKit emulator, through the real livekit-api SDK (protobuf over HTTP)."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest

from livecast.providers.base import (
    ProviderNotFound,
    ProviderNotSupported,
    ProviderRejected,
    ProviderUnavailable,
    StreamRef,
    StreamSpec,
    WebhookRejected,
)
from livecast.providers.livekit import LiveKitProvider
from livecast.providers.livekit.ports import RoomProvider
from livecast.providers.registry import ProviderRegistry
from livecast.settings import Settings
from tests.emulators.livekit import LiveKitEmulator, livekit_settings

SPEC = StreamSpec(
    title="t", latency_mode="STANDARD", playback_policy="PUBLIC", reconnect_window=60,
    max_continuous_duration=7200, recording_enabled=False,
)  # fmt: skip


@pytest.fixture
def provider(settings: Settings, livekit_emulator: LiveKitEmulator) -> LiveKitProvider:
    adapter = ProviderRegistry(livekit_settings(settings, livekit_emulator, provider_retry_attempts=2)).get("livekit")
    assert isinstance(adapter, LiveKitProvider)
    return adapter


def ref_of(room: str, key: str = "k") -> StreamRef:
    return StreamRef(provider_stream_id=room, stream_key=key, playback_id=room, playback_policy="PUBLIC")


async def test_room_lifecycle(provider: LiveKitProvider, livekit_emulator: LiveKitEmulator) -> None:
    made = await provider.create_stream(SPEC)
    assert made.provider_stream_id == made.playback_id and made.provider_stream_id in livekit_emulator.rooms
    assert len(made.stream_key) >= 24
    room = livekit_emulator.rooms[made.provider_stream_id]
    assert (room.empty_timeout, livekit_emulator.calls) == (7200, ["RoomService/CreateRoom"])
    ref = ref_of(made.provider_stream_id, made.stream_key)
    assert (await provider.get_stream(ref)).status == "IDLE"
    livekit_emulator.join(room.name, "viewer", publish=False)
    assert (await provider.get_stream(ref)).status == "IDLE"
    livekit_emulator.join(room.name, "host")
    assert (await provider.get_stream(ref)).status == "ACTIVE"
    people = await provider.list_participants(room.name)
    assert {(p.identity, p.publishing) for p in people} == {("viewer", False), ("host", True)}
    await provider.complete_stream(ref)
    assert room.participants == {}
    await provider.delete_stream(ref)
    assert room.name not in livekit_emulator.rooms
    with pytest.raises(ProviderNotFound):
        await provider.get_stream(ref)
    await provider.delete_stream(ref)  # idempotent: the room is already gone
    with pytest.raises(ProviderNotFound):
        await provider.list_participants(room.name)


async def test_unsupported_operations(provider: LiveKitProvider) -> None:
    ref = ref_of("r")
    for call in (provider.reset_stream_key(ref), provider.set_enabled(ref, False),
                 provider.add_simulcast_target(ref, url="rtmp://x/app", stream_key="k"),
                 provider.remove_simulcast_target(ref, "t")):  # fmt: skip
        with pytest.raises(ProviderNotSupported):
            await call
    with pytest.raises(ProviderNotSupported):
        provider.sign_playback(ref, ttl_seconds=60)
    assert isinstance(provider, RoomProvider)


async def test_tokens_carry_the_right_grants(provider: LiveKitProvider, livekit_emulator: LiveKitEmulator) -> None:
    before = time.time()
    publish = provider.publish_token("room-1", "user-1", name="Alice")
    claims = jwt.decode(
        publish.token, livekit_emulator.api_secret, algorithms=["HS256"], issuer=livekit_emulator.api_key
    )
    assert claims["sub"] == "user-1" and claims["name"] == "Alice"
    assert claims["video"] == {
        "roomJoin": True,
        "room": "room-1",
        "canPublish": True,
        "canSubscribe": True,
        "canPublishData": True,
    }
    assert abs(claims["exp"] - (before + provider._settings.livekit_token_ttl_seconds)) < 5
    assert publish.url.startswith("ws://127.0.0.1:") and publish.can_publish
    view = provider.subscribe_token("room-1", "anon-1")
    claims = jwt.decode(view.token, livekit_emulator.api_secret, algorithms=["HS256"], issuer=livekit_emulator.api_key)
    assert claims["video"]["canPublish"] is False and claims["video"]["canPublishData"] is False
    assert claims["video"]["canSubscribe"] is True and claims["video"]["room"] == "room-1"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(view.token, "another-secret-of-at-least-32-bytes!!", algorithms=["HS256"])
    with pytest.raises(ProviderRejected):
        provider.publish_token("", "user-1")


async def test_egress_to_several_rtmp_urls(provider: LiveKitProvider, livekit_emulator: LiveKitEmulator) -> None:
    room = (await provider.create_stream(SPEC)).provider_stream_id
    assert room
    urls = ["rtmps://global-live.mux.com:443/app/key-1", "rtmp://127.0.0.1:1935/live/key-2"]
    started = await provider.start_egress(room, urls)
    assert (started.status, started.urls, started.room) == ("STARTING", tuple(urls), room)
    egress = livekit_emulator.egresses[started.egress_id]
    assert egress.urls == urls and egress.layout == "speaker"
    assert egress.options == {
        "width": 1280, "height": 720, "framerate": 30, "videoCodec": "H264_MAIN", "videoBitrate": 3000,
        "audioCodec": "AAC", "audioBitrate": 128,
    }  # fmt: skip
    assert (await provider.egress_status(started.egress_id)).status == "ACTIVE"
    assert [e.egress_id for e in await provider.list_egress(room, active_only=True)] == [started.egress_id]
    stopped = await provider.stop_egress(started.egress_id)
    assert stopped.status == "ENDING" and (await provider.egress_status(started.egress_id)).status == "COMPLETE"
    with pytest.raises(ProviderRejected, match="failed_precondition"):
        await provider.stop_egress(started.egress_id)
    with pytest.raises(ProviderNotFound):
        await provider.egress_status("EG_nope")
    failing = await provider.start_egress(room, urls[:1])
    livekit_emulator.fail_egress(failing.egress_id, "rtmp: connection refused")
    state = await provider.egress_status(failing.egress_id)
    assert (state.status, state.failed, state.error) == ("FAILED", True, "rtmp: connection refused")
    with pytest.raises(ProviderRejected, match="invalid_argument"):
        await provider.start_egress(room, ["http://not-rtmp/"])
    with pytest.raises(ProviderNotFound):
        await provider.start_egress("no-such-room", urls)
    livekit_emulator.egress_start_error = ("resource_exhausted", "no egress workers available")
    with pytest.raises(ProviderUnavailable):
        await provider.start_egress(room, urls)


async def test_egress_layout_and_extra_outputs_come_from_validated_settings(
    settings: Settings, livekit_emulator: LiveKitEmulator
) -> None:
    extra = ["rtmp://standby.example.com/live/{stream_key}"]
    fields = {**livekit_settings(settings, livekit_emulator).model_dump(), "livekit_egress_layout": "grid-light"}
    configured = Settings.model_validate({**fields, "livekit_egress_extra_urls": extra})  # validated, as from the env
    adapter = ProviderRegistry(configured).get("livekit")
    assert isinstance(adapter, LiveKitProvider)
    assert adapter.policy.egress_extra_urls == tuple(extra) and "standby" not in repr(adapter.policy)  # a secret
    room = (await adapter.create_stream(SPEC)).provider_stream_id
    assert room
    started = await adapter.start_egress(room, ["rtmp://127.0.0.1:1935/live/k"])
    assert livekit_emulator.egresses[started.egress_id].layout == "grid-light"
    # LiveKit's default template: speaker, grid, single-speaker, with -light (white) or -dark (the default)
    for layout in ("speaker", "grid", "single-speaker", "speaker-light", "single-speaker-dark"):
        assert Settings(livekit_egress_layout=layout).livekit_egress_layout == layout
    for wrong in ("gallery", "Speaker", "grid-blue", "speaker-light-dark", ""):
        with pytest.raises(ValueError, match="livekit_egress_layout"):
            Settings(livekit_egress_layout=wrong)
    for wrong, why in (
        ("http://x/{stream_key}", "rtmp"),
        ("rtmp://x/{key}", "placeholders"),
        ("rtmp://x/{", "placeholders"),
    ):
        with pytest.raises(ValueError, match=why):
            Settings(livekit_egress_extra_urls=[wrong])


async def test_outage_and_missing_configuration(
    settings: Settings, provider: LiveKitProvider, livekit_emulator: LiveKitEmulator
) -> None:
    livekit_emulator.available = False
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="unavailable"):
        await provider.create_stream(SPEC)
    assert time.monotonic() - started < 8
    assert [r[1] for r in livekit_emulator.rejected] == ["unavailable", "unavailable"]  # 2 attempts, then given up
    bare = LiveKitProvider(settings)
    with pytest.raises(ProviderRejected, match="not configured: set LIVECAST_LIVEKIT_URL"):
        await bare.create_stream(SPEC)
    with pytest.raises(ProviderRejected, match="not configured"):
        bare.publish_token("r", "u")
    with pytest.raises(WebhookRejected):
        bare.verify_webhook(b"{}", {})
    unreachable = LiveKitProvider(
        livekit_settings(settings, livekit_emulator, livekit_url="http://127.0.0.1:9", provider_retry_attempts=1)
    )
    with pytest.raises(ProviderUnavailable, match="unreachable"):
        await unreachable.create_stream(SPEC)


async def test_wrong_secret_is_rejected(settings: Settings, livekit_emulator: LiveKitEmulator) -> None:
    wrong = livekit_settings(settings, livekit_emulator, provider_retry_attempts=3)
    wrong = wrong.model_copy(update={"livekit_api_secret": type(wrong.livekit_api_secret)("x" * 40)})
    with pytest.raises(ProviderRejected, match="unauthenticated"):
        await LiveKitProvider(wrong).create_stream(SPEC)
    assert len(livekit_emulator.rejected) == 1  # a 4xx is not retried
    assert livekit_emulator.rooms == {}


def _token(
    livekit_emulator: LiveKitEmulator, video: dict[str, object], *, secret: str | None = None, **claims: object
) -> str:
    body = {"iss": livekit_emulator.api_key, "sub": "", "exp": int(time.time()) + 60, "video": video, **claims}
    return jwt.encode(body, secret or livekit_emulator.api_secret, algorithm="HS256")


async def test_emulator_checks_tokens_grants_and_bodies(livekit_emulator: LiveKitEmulator) -> None:
    base = f"{livekit_emulator.url}/twirp/livekit.RoomService"
    create = {"roomCreate": True}
    async with httpx.AsyncClient() as http:

        async def post(
            method: str, body: object, token: str | None, content_type: str = "application/json"
        ) -> httpx.Response:
            headers = {"content-type": content_type, **({"authorization": f"Bearer {token}"} if token else {})}
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            return await http.post(f"{base}/{method}", content=data, headers=headers)

        ok = await post("CreateRoom", {"name": "r1"}, _token(livekit_emulator, create))
        assert ok.status_code == 200 and ok.json()["name"] == "r1"
        cases = [
            (await post("CreateRoom", {"name": "r2"}, None), 401, "unauthenticated"),
            (
                await post("CreateRoom", {"name": "r2"}, _token(livekit_emulator, {"roomList": True})),
                401,
                "unauthenticated",
            ),
            (
                await post("CreateRoom", {"name": "r2"}, _token(livekit_emulator, create, secret="y" * 40)),
                401,
                "unauthenticated",
            ),
            (
                await post("CreateRoom", {"name": "r2"}, _token(livekit_emulator, create, exp=int(time.time()) - 120)),
                401,
                "unauthenticated",
            ),
            (
                await post("CreateRoom", {"name": "r2"}, _token(livekit_emulator, create, iss="other-key")),
                401,
                "unauthenticated",
            ),
            (await post("CreateRoom", {"name": ""}, _token(livekit_emulator, create)), 400, "invalid_argument"),
            (await post("CreateRoom", {"nmae": "r2"}, _token(livekit_emulator, create)), 400, "malformed"),
            (
                await post("CreateRoom", b"\xff\xff\xff", _token(livekit_emulator, create), "application/protobuf"),
                400,
                "malformed",
            ),
            (
                await post("CreateRoom", {"name": "r2"}, _token(livekit_emulator, create), "text/plain"),
                404,
                "bad_route",
            ),
            (await post("NoSuchMethod", {}, _token(livekit_emulator, create)), 404, "bad_route"),
            (
                await post(
                    "ListParticipants", {"room": "r1"}, _token(livekit_emulator, {"roomAdmin": True, "room": "other"})
                ),
                401,
                "unauthenticated",
            ),
            (await post("DeleteRoom", {"room": "nope"}, _token(livekit_emulator, create)), 404, "not_found"),
        ]
        for response, status, code in cases:
            assert (response.status_code, response.json()["code"]) == (status, code), response.text
        listed = await post(
            "ListParticipants", {"room": "r1"}, _token(livekit_emulator, {"roomAdmin": True, "room": "r1"})
        )
        assert listed.status_code == 200 and listed.json() == {}
    assert list(livekit_emulator.rooms) == ["r1"]
    assert livekit_emulator.calls == ["RoomService/CreateRoom", "RoomService/ListParticipants"]
