"""LiveKit broadcasts end to end on the emulators: a ``livekit`` stream paired with Mux (real livekit-api and
mux-python SDKs against the LiveKit and Mux emulators), driven by LiveKit webhook events, playback beacons and
the periodic check; the GraphQL token mutations and the egress-failure fallback on a served app."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from google.protobuf.json_format import MessageToDict
from livekit import api as lk_api

from livecast.domain import broadcast, broadcast_egress, broadcast_jobs, streams, viewer_counts
from livecast.domain.auth import Principal, ensure_user
from livecast.domain.deps import Deps
from livecast.domain.errors import InvalidState, NotFound, ProviderDown
from livecast.domain.health_models import StreamAlert
from livecast.domain.models import StreamStatus
from livecast.domain.provider_models import Broadcast, EgressStatus, WebhookEvent, WebhookStatus
from livecast.domain.validation import StreamFields
from livecast.domain.viewers import Beacon
from livecast.providers.base import ProviderEvent
from livecast.runtime import domain_deps
from livecast.settings import Settings
from tests.conftest import Server, run_server
from tests.emulators.livekit import LiveKitEmulator, livekit_settings, running_livekit_emulator
from tests.emulators.mux import MuxEmulator, mux_settings, running_mux_emulator
from tests.helpers.client import gql_http
from tests.helpers.waiting import eventually

S = StreamStatus


@pytest.fixture
async def emulators() -> AsyncIterator[tuple[LiveKitEmulator, MuxEmulator]]:
    async with running_livekit_emulator() as lk, running_mux_emulator() as mux:
        yield lk, mux


@pytest.fixture
def settings(settings: Settings, emulators: tuple[LiveKitEmulator, MuxEmulator]) -> Settings:
    lk, mux = emulators
    return livekit_settings(
        mux_settings(settings, mux), lk, livekit_viewer_provider="mux", livekit_egress_idle_seconds=30,
        livekit_room_delete_seconds=20, provider_retry_attempts=2,
    )  # fmt: skip


def event(kind: str, room: str, **data: Any) -> ProviderEvent:
    """A ProviderEvent shaped like a verified LiveKit webhook, ``data`` in camelCase JSON."""
    event_id = f"EV_{uuid.uuid4().hex[:12]}"
    body = {"event": kind, "id": event_id, "room": {"name": room}, "createdAt": str(int(datetime.now(UTC).timestamp())), **data}
    return ProviderEvent(provider="livekit", event_id=event_id, type=kind, object_id=room, occurred_at=datetime.now(UTC), data=body)


def publisher(identity: str, tracks: int = 1) -> dict[str, Any]:
    return {"sid": f"PA_{identity}", "identity": identity, "state": "ACTIVE", "tracks": [{"sid": f"TR_{i}", "type": "VIDEO"} for i in range(tracks)]}


def webhook(kind: str, room: str, *, participant: Any = None, egress: Any = None) -> ProviderEvent:
    """A ProviderEvent as the webhook verifier makes it: a ``livekit.WebhookEvent`` protobuf (participant and
    egress infos taken from the emulator's state) as a dict with proto field names."""
    message = lk_api.WebhookEvent(event=kind, id=f"EV_{uuid.uuid4().hex[:12]}", created_at=int(datetime.now(UTC).timestamp()))
    message.room.name = room
    if participant is not None:
        message.participant.CopyFrom(participant.info())
    if egress is not None:
        message.egress_info.CopyFrom(egress.info())
    return ProviderEvent(
        provider="livekit", event_id=message.id, type=kind, object_id=room, occurred_at=datetime.now(UTC),
        data=MessageToDict(message, preserving_proto_field_name=True),
    )  # fmt: skip


async def beacon(deps: Deps, stream_id: str, state: str) -> int:
    """One player's beacon, then the periodic viewer count; returns the stream's viewer count."""
    await deps.viewers.record(Beacon(stream_id=uuid.UUID(stream_id), viewer_id="v-1", session_id="s-1", state=state))  # type: ignore[arg-type]
    return (await viewer_counts.refresh(deps=deps)).counts[stream_id]


async def test_broadcast_paired_with_mux_end_to_end(deps: Deps, emulators: tuple[LiveKitEmulator, MuxEmulator]) -> None:
    lk, mux = emulators
    owner = await ensure_user(name="host", roles=[])
    actor = Principal(user_id=str(owner.id), name="host", roles=frozenset())
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="webrtc show"), provider="livekit")
    sid, room = str(stream.id), stream.provider_stream_id
    assert room in lk.rooms and stream.playback_id == room
    b = await Broadcast.get(stream_id=sid)
    paired = mux.live_streams[b.paired_stream_id]
    assert (b.room_name, b.paired_provider, b.paired_stream_key) == (room, "mux", paired["stream_key"])
    assert b.paired_playback_id == paired["playback_ids"][0]["id"]
    info = await broadcast.playback(deps=deps, stream=stream)
    assert info.hls_url == f"https://stream.mux.com/{b.paired_playback_id}.m3u8" and info.fallback is None

    # the host connects (no tracks yet), then publishes: LIVE
    host = lk.join(room, f"host-{owner.id}", publish=False)
    assert "without publishing" in await broadcast.apply_livekit_event(deps, webhook("participant_joined", room, participant=host))
    assert (await streams.existing_stream(sid)).status is S.SCHEDULED
    host = lk.join(room, f"host-{owner.id}")
    outcome = await broadcast.apply_livekit_event(deps, webhook("track_published", room, participant=host))
    assert outcome.startswith("1 publisher(s): LIVE")
    assert (await streams.existing_stream(sid)).status is S.LIVE and lk.egresses == {}  # FIRST_VIEWER: no egress yet
    assert await broadcast_jobs.check(deps=deps) == []

    # the first HLS viewer starts egress to the paired Mux stream's ingest
    assert await beacon(deps, sid, "playing") == 1
    [started] = await broadcast_jobs.check(deps=deps)
    assert "started (first viewer)" in started
    [egress] = lk.active_egresses(room)
    assert egress.urls == [f"rtmps://global-live.mux.com:443/app/{paired['stream_key']}"]
    assert (egress.options["width"], egress.options["videoBitrate"], egress.layout) == (1280, 3000, "speaker")
    b = await Broadcast.get(stream_id=sid)
    assert (b.egress_id, b.egress_status) == (egress.egress_id, EgressStatus.STARTING)
    assert "ACTIVE" in await broadcast.apply_livekit_event(deps, webhook("egress_updated", room, egress=egress))
    assert (await Broadcast.get(stream_id=sid)).egress_status is EgressStatus.ACTIVE

    # viewers leave: egress keeps running through the grace period, then stops
    assert await beacon(deps, sid, "ended") == 0
    now = datetime.now(UTC)
    assert await broadcast_jobs.check(deps=deps, now=now) == [f"{sid}: no viewers: egress idle"]
    assert await broadcast_jobs.check(deps=deps, now=now + timedelta(seconds=29)) == []
    assert egress.active
    [stopped] = await broadcast_jobs.check(deps=deps, now=now + timedelta(seconds=31))
    assert "stopped (no viewers)" in stopped and not egress.active
    assert (await Broadcast.get(stream_id=sid)).egress_status is EgressStatus.IDLE

    # a viewer again: a new egress; the publisher drops: RECONNECTING, then back: LIVE
    await beacon(deps, sid, "playing")
    await broadcast_jobs.check(deps=deps)
    [second] = lk.active_egresses(room)
    lk.leave(room, f"host-{owner.id}")
    assert "RECONNECTING" in await broadcast.apply_livekit_event(deps, webhook("participant_left", room, participant=host))
    lk.join(room, f"host-{owner.id}")
    assert "LIVE" in await broadcast.reconcile(deps, sid)  # a dropped track_published, found by reconciliation
    assert (await streams.existing_stream(sid)).status is S.LIVE

    # the owner ends the stream: egress stops at once, the room goes after the delay
    ended = await streams.end_stream(deps=deps, actor=actor, stream_id=sid)
    assert ended.status is S.ENDED and not second.active and lk.rooms[room].participants == {}
    b = await Broadcast.get(stream_id=sid)
    assert b.egress_status is EgressStatus.IDLE and b.room_delete_at is not None
    with pytest.raises(InvalidState):  # a late event about the finished stream
        await broadcast.apply_livekit_event(deps, event("participant_left", room, participant=publisher("h")))
    assert await broadcast_jobs.check(deps=deps) == [] and room in lk.rooms
    [deleted] = await broadcast_jobs.check(deps=deps, now=b.room_delete_at + timedelta(seconds=1))
    assert f"room {room} deleted" in deleted and room not in lk.rooms
    assert (await Broadcast.get(stream_id=sid)).room_deleted_at is not None
    assert await broadcast_jobs.check(deps=deps, now=b.room_delete_at + timedelta(seconds=60)) == []
    with pytest.raises(NotFound):
        await broadcast.apply_livekit_event(deps, event("participant_joined", "no-such-room"))

    # deleting the stream deletes the paired Mux stream too
    await streams.delete_stream(deps=deps, actor=actor, stream_id=sid)
    assert b.paired_stream_id not in mux.live_streams and await Broadcast.filter(stream_id=sid).count() == 0


async def test_go_live_egress_and_reconnect_window(
    deps: Deps, settings: Settings, emulators: tuple[LiveKitEmulator, MuxEmulator]
) -> None:
    lk, _ = emulators
    deps = domain_deps(settings.model_copy(update={"livekit_egress_start": "GO_LIVE"}), deps.bus)
    owner = await ensure_user(name="host2", roles=[])
    actor = Principal(user_id=str(owner.id), name="host2", roles=frozenset())
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="t", reconnect_window=10), provider="livekit")
    sid, room = str(stream.id), stream.provider_stream_id
    lk.join(room, "h")
    outcome = await broadcast.apply_livekit_event(deps, event("track_published", room, participant=publisher("h")))
    assert "LIVE; egress" in outcome and len(lk.active_egresses(room)) == 1  # at go-live, no viewer needed
    lk.leave(room, "h")
    await broadcast.apply_livekit_event(deps, event("participant_left", room, participant=publisher("h")))
    changed = (await streams.existing_stream(sid)).status_changed_at
    assert await broadcast_jobs.check(deps=deps, now=changed + timedelta(seconds=5)) in ([], [f"{sid}: no viewers: egress idle"])
    [ended] = await broadcast_jobs.check(deps=deps, now=changed + timedelta(seconds=11))
    assert "reconnect window passed: ENDED" in ended
    assert (await streams.existing_stream(sid)).status is S.ENDED and lk.active_egresses(room) == []


CREATE = """mutation($p: String!) { createStream(input: {title: "lk", provider: $p}) {
  __typename ... on Stream { id ingest { rtmpUrl } playback { hlsUrl fallback } } ... on Error { code message } } }"""
BROADCAST_TOKEN = """mutation($s: ID!) { createBroadcastToken(streamId: $s) { __typename
  ... on RoomToken { token url room identity canPublish expiresAt } ... on Error { code } } }"""
VIEWER_TOKEN = BROADCAST_TOKEN.replace("createBroadcastToken", "createViewerToken")
PLAYBACK = "query($s: ID!) { stream(id: $s) { status playback { hlsUrl fallback } } }"


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Server]:
    async with run_server(settings, workers=False) as server:
        yield server


async def test_graphql_tokens_and_egress_failure_fallback(app: Server, emulators: tuple[LiveKitEmulator, MuxEmulator]) -> None:
    lk, _ = emulators
    url, owner, other = app.graphql_http, await app.token("owner"), await app.token("someone")
    created = (await gql_http(url, CREATE, {"p": "livekit"}, owner))["createStream"]
    sid = created["id"]
    b = await Broadcast.get(stream_id=sid)
    assert created["playback"] == {"hlsUrl": f"https://stream.mux.com/{b.paired_playback_id}.m3u8", "fallback": None}
    host = (await gql_http(url, BROADCAST_TOKEN, {"s": sid}, owner))["createBroadcastToken"]
    assert host["__typename"] == "RoomToken" and host["canPublish"] and host["room"] == b.room_name
    assert host["url"] == lk.url.replace("http", "ws", 1)
    claims = jwt.decode(host["token"], lk.api_secret, algorithms=["HS256"], issuer=lk.api_key)
    assert claims["video"]["canPublish"] and claims["video"]["room"] == b.room_name and claims["sub"] == host["identity"]
    assert (await gql_http(url, BROADCAST_TOKEN, {"s": sid}, other))["createBroadcastToken"]["code"] == "FORBIDDEN"
    assert (await gql_http(url, BROADCAST_TOKEN, {"s": sid}))["createBroadcastToken"]["code"] == "UNAUTHENTICATED"
    viewer = (await gql_http(url, VIEWER_TOKEN, {"s": sid}, other))["createViewerToken"]
    claims = jwt.decode(viewer["token"], lk.api_secret, algorithms=["HS256"], issuer=lk.api_key)
    assert viewer["canPublish"] is False and claims["video"]["canPublish"] is False and claims["video"]["canSubscribe"]
    assert (await gql_http(url, VIEWER_TOKEN, {"s": sid}))["createViewerToken"]["code"] == "UNAUTHENTICATED"
    local = (await gql_http(url, CREATE, {"p": "local"}, owner))["createStream"]["id"]
    assert (await gql_http(url, VIEWER_TOKEN, {"s": local}, other))["createViewerToken"]["code"] == "VALIDATION"

    # live with a viewer; the egress fails: playback offers the WebRTC fallback and an alert is raised
    deps = app.runtime.deps
    lk.join(b.room_name, "h")
    await broadcast.apply_livekit_event(deps, event("track_published", b.room_name, participant=publisher("h")))
    await beacon(deps, sid, "playing")
    await broadcast_jobs.check(deps=deps)
    [egress] = lk.active_egresses(b.room_name)
    lk.fail_egress(egress.egress_id, "rtmp: connection refused")
    info = {"egressId": egress.egress_id, "roomName": b.room_name, "status": "EGRESS_FAILED", "error": "rtmp: connection refused"}
    assert "failed" in await broadcast.apply_livekit_event(deps, event("egress_ended", b.room_name, egressInfo=info))
    data = (await gql_http(url, PLAYBACK, {"s": sid}))["stream"]
    assert data["playback"]["fallback"] == f"{lk.url.replace('http', 'ws', 1)}?room={b.room_name}"
    [alert] = await StreamAlert.filter(stream_id=sid)
    assert (alert.kind, alert.severity.value) == ("EGRESS_FAILED", "CRITICAL") and "connection refused" in alert.message
    await broadcast.apply_livekit_event(deps, event("egress_ended", b.room_name, egressInfo=info))  # redelivered
    assert await StreamAlert.filter(stream_id=sid).count() == 1
    assert await broadcast_jobs.check(deps=deps) == []  # a failed egress is not restarted on its own


async def test_pairing_failure_leaves_nothing(deps: Deps, emulators: tuple[LiveKitEmulator, MuxEmulator]) -> None:
    lk, mux = emulators
    owner = await ensure_user(name="host3", roles=[])
    actor = Principal(user_id=str(owner.id), name="host3", roles=frozenset())
    mux.fail_next(5, status=503)
    with pytest.raises(Exception) as caught:
        await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="t"), provider="livekit")
    assert getattr(caught.value, "code", None).value == "PROVIDER_UNAVAILABLE"
    assert lk.rooms == {} and await Broadcast.all().count() == 0
    assert (await streams.list_streams(status=None, first=10, after=None)).items == []


async def test_reconcile_repairs_missed_events(deps: Deps, emulators: tuple[LiveKitEmulator, MuxEmulator]) -> None:
    lk, _ = emulators
    owner = await ensure_user(name="host4", roles=[])
    actor = Principal(user_id=str(owner.id), name="host4", roles=frozenset())
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="t"), provider="livekit")
    sid, room = str(stream.id), stream.provider_stream_id
    assert await broadcast.reconcile(deps, sid) == "no publisher yet"
    lk.join(room, "h")
    assert "LIVE" in await broadcast.reconcile(deps, sid)  # no webhook arrived at all
    assert (await Broadcast.get(stream_id=sid)).publishers == 1

    # an egress LiveKit runs but livecast never recorded is adopted
    rooms = broadcast_egress.rooms(deps)
    orphan = await rooms.start_egress(room, ["rtmp://127.0.0.1/live/k"])
    assert f"egress {orphan.egress_id} ACTIVE" in await broadcast.reconcile(deps, sid)
    b = await Broadcast.get(stream_id=sid)
    assert (b.egress_id, b.egress_status) == (orphan.egress_id, EgressStatus.ACTIVE)
    await broadcast_egress.stop(deps=deps, broadcast=b, reason="test")
    stale = lk_api.EgressInfo(egress_id=orphan.egress_id, room_name=room, status=lk_api.EgressStatus.EGRESS_ACTIVE)
    late = webhook("egress_updated", room)
    late = dataclasses.replace(late, data={**late.data, "egress_info": MessageToDict(stale, preserving_proto_field_name=True)})
    with pytest.raises(InvalidState, match="stale"):
        await broadcast.apply_livekit_event(deps, late)

    # an egress that failed while its egress_ended webhook was dropped
    await beacon(deps, sid, "playing")
    await broadcast_jobs.check(deps=deps)
    [running] = lk.active_egresses(room)
    lk.fail_egress(running.egress_id)
    assert "failed" in await broadcast.reconcile(deps, sid)
    assert (await broadcast.playback(deps=deps, stream=stream)).fallback == f"{rooms.webrtc_fallback(room)}"
    assert [a.kind for a in await StreamAlert.filter(stream_id=sid)] == ["EGRESS_FAILED"]
    assert await broadcast_jobs.check(deps=deps) == []

    # the publisher drops and comes back: a new session may egress again
    lk.leave(room, "h")
    assert "RECONNECTING" in await broadcast.reconcile(deps, sid)
    lk.join(room, "h")
    assert "LIVE" in await broadcast.reconcile(deps, sid)
    assert (await broadcast.playback(deps=deps, stream=stream)).fallback is None
    [restarted] = await broadcast_jobs.check(deps=deps)
    assert "started (first viewer)" in restarted and len(lk.active_egresses(room)) == 1

    # LiveKit down: reconcile says so, nothing changes
    lk.available = False
    with pytest.raises(ProviderDown):
        await broadcast.reconcile(deps, sid)
    assert (await streams.existing_stream(sid)).status is S.LIVE
    with pytest.raises(NotFound):
        await broadcast.reconcile(deps, str(uuid.uuid4()))


async def test_paired_with_the_local_pipeline(deps: Deps, settings: Settings, emulators: tuple[LiveKitEmulator, MuxEmulator]) -> None:
    lk, mux = emulators
    deps = domain_deps(settings.model_copy(update={"livekit_viewer_provider": "local"}), deps.bus)
    owner = await ensure_user(name="host5", roles=[])
    actor = Principal(user_id=str(owner.id), name="host5", roles=frozenset())
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="t"), provider="livekit")
    b = await Broadcast.get(stream_id=str(stream.id))
    assert b.paired_provider == "local" and mux.live_streams == {}
    assert b.paired_stream_key != stream.stream_key and b.paired_playback_id != stream.playback_id
    info = await broadcast.playback(deps=deps, stream=stream)
    assert info.hls_url == f"{settings.http_base_url}/hls/{b.paired_playback_id}/index.m3u8"
    assert broadcast_egress.egress_urls(deps, b) == [f"rtmp://{settings.host}:{settings.rtmp_port}/live/{b.paired_stream_key}"]
    lk.join(stream.provider_stream_id, "h")
    await broadcast.reconcile(deps, str(stream.id))
    await beacon(deps, str(stream.id), "playing")
    await broadcast_jobs.check(deps=deps)
    [egress] = lk.active_egresses()
    assert egress.urls == broadcast_egress.egress_urls(deps, b)


async def test_events_decide_when_livekit_lags_or_is_down(deps: Deps, emulators: tuple[LiveKitEmulator, MuxEmulator]) -> None:
    lk, _ = emulators
    owner = await ensure_user(name="host6", roles=[])
    actor = Principal(user_id=str(owner.id), name="host6", roles=frozenset())
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="t"), provider="livekit")
    sid, room = str(stream.id), stream.provider_stream_id
    # LiveKit's participant list does not show the publisher yet: the event counts for its own participant
    assert (await broadcast.apply_livekit_event(deps, event("track_published", room, participant=publisher("a")))).startswith("1 publisher(s): LIVE")
    lk.join(room, "a")
    lk.join(room, "b")
    assert "2 publisher(s)" in await broadcast.apply_livekit_event(deps, event("participant_joined", room, participant=publisher("b")))
    # the list still shows "b" although it left: the event wins for "b"
    assert await broadcast.apply_livekit_event(deps, event("participant_left", room, participant=publisher("b"))) == "1 publisher(s): stream stays LIVE"
    lk.leave(room, "a")
    lk.leave(room, "b")
    assert "RECONNECTING" in await broadcast.apply_livekit_event(deps, event("participant_left", room, participant=publisher("a")))
    assert (await Broadcast.get(stream_id=sid)).publishers == 0
    lk.available = False  # LiveKit unreachable: the events alone decide
    assert "LIVE" in await broadcast.apply_livekit_event(deps, event("participant_joined", room, participant=publisher("c")))
    assert (await Broadcast.get(stream_id=sid)).publishers == 1
    assert "RECONNECTING" in await broadcast.apply_livekit_event(deps, event("participant_left", room, participant=publisher("c")))
    assert "nothing to do" in await broadcast.apply_livekit_event(deps, event("room_started", room))
    assert (await streams.existing_stream(sid)).status is S.RECONNECTING


STATUS = "query($s: ID!) { stream(id: $s) { status viewerCount playback { hlsUrl fallback } } }"
END = "mutation($s: ID!) { endStream(id: $s) { __typename ... on Stream { status } } }"


async def test_served_end_to_end_with_webhooks_and_beacons(settings: Settings, emulators: tuple[LiveKitEmulator, MuxEmulator]) -> None:
    """Everything over HTTP: GraphQL, LiveKit's signed webhooks into /webhooks/livekit (inbox, apply job),
    player beacons into /v1/playback/beacon (viewer count job) and the periodic LiveKit check."""
    lk, mux = emulators
    quick = settings.model_copy(update={
        "viewer_count_seconds": 0.3, "viewer_flush_seconds": 0.9, "lifecycle_check_seconds": 0.3,
        "livekit_egress_idle_seconds": 1.0, "livekit_room_delete_seconds": 1.0,
    })  # fmt: skip
    async with run_server(quick) as server, httpx.AsyncClient() as http:
        lk.webhook_urls = [f"{server.http}/webhooks/livekit"]
        url, owner = server.graphql_http, await server.token("owner")
        sid = (await gql_http(url, CREATE, {"p": "livekit"}, owner))["createStream"]["id"]
        b = await Broadcast.get(stream_id=sid)

        async def status() -> dict[str, Any]:
            return (await gql_http(url, STATUS, {"s": sid}))["stream"]

        lk.join(b.room_name, "host")  # participant_joined + track_published webhooks
        await eventually(lambda: _is(status, "status", "LIVE"), timeout=10, what="LIVE from LiveKit webhooks")
        assert ("track_published", 200) in lk.webhooks_sent and lk.egresses == {}

        async def beacon_http(state: str) -> None:
            body = {"streamId": sid, "viewerId": "v1", "sessionId": "s1", "state": state}
            response = await http.post(f"{server.http}/v1/playback/beacon", content=json.dumps(body), headers={"Content-Type": "text/plain"})
            assert response.status_code == 204

        await beacon_http("playing")
        await eventually(lambda: lk.active_egresses(b.room_name), timeout=10, what="egress started by the first viewer")
        [egress] = lk.active_egresses(b.room_name)
        assert egress.urls == [f"rtmps://global-live.mux.com:443/app/{mux.live_streams[b.paired_stream_id]['stream_key']}"]
        await eventually(lambda: _egress_is(sid, EgressStatus.ACTIVE), timeout=10, what="egress_updated webhook applied")

        await beacon_http("ended")
        await eventually(lambda: not egress.active, timeout=10, what="egress stopped after the idle period")
        assert (await status())["viewerCount"] == 0

        assert (await gql_http(url, END, {"s": sid}, owner))["endStream"] == {"__typename": "Stream", "status": "ENDED"}
        await eventually(lambda: b.room_name not in lk.rooms, timeout=10, what="room deleted after the delay")
        await lk.webhooks_idle()
        assert ("room_finished", 200) in lk.webhooks_sent
        assert all(status == 200 for _, status in lk.webhooks_sent)
        await eventually(lambda: _none_pending(), timeout=10, what="every webhook applied or skipped")
        outcomes = {(e.type, e.status) for e in await WebhookEvent.all()}
        assert ("track_published", WebhookStatus.APPLIED) in outcomes and ("egress_started", WebhookStatus.APPLIED) in outcomes
        assert not [o for o in outcomes if o[1] is WebhookStatus.FAILED], outcomes


async def _none_pending() -> bool:
    return await WebhookEvent.filter(status=WebhookStatus.PENDING).count() == 0


async def _is(read: Any, key: str, value: Any) -> bool:
    return (await read())[key] == value


async def _egress_is(stream_id: str, status: EgressStatus) -> bool:
    return (await Broadcast.get(stream_id=stream_id)).egress_status is status
