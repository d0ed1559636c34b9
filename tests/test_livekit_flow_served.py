"""LiveKit broadcasts on a served app (emulated LiveKit and Mux, real SDKs): the GraphQL room token mutations,
the egress-failure fallback in ``playback``, playback of many ``livekit`` streams in one list (one broadcast
query), and everything over HTTP: LiveKit's signed webhooks, player beacons and the periodic jobs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from pydantic import SecretStr

from livecast.domain import broadcast, broadcast_egress, broadcast_jobs
from livecast.domain.health_models import StreamAlert
from livecast.domain.provider_models import Broadcast, EgressStatus, WebhookEvent, WebhookStatus
from livecast.settings import Settings
from tests.conftest import Server, run_server
from tests.emulators.livekit import LiveKitEmulator
from tests.emulators.mux import MuxEmulator
from tests.helpers.client import gql_http
from tests.helpers.livekit import beacon, event, paired_with_mux, publisher
from tests.helpers.waiting import eventually
from tests.test_playback_beacons import Beacons

CREATE = """mutation($p: String!) { createStream(input: {title: "lk", provider: $p}) {
  __typename ... on Stream { id ingest { rtmpUrl } playback { hlsUrl fallback } } ... on Error { code message } } }"""
BROADCAST_TOKEN = """mutation($s: ID!) { createBroadcastToken(streamId: $s) { __typename
  ... on RoomToken { token url room identity canPublish expiresAt } ... on Error { code } } }"""
VIEWER_TOKEN = BROADCAST_TOKEN.replace("createBroadcastToken", "createViewerToken")
PLAYBACK = "query($s: ID!) { stream(id: $s) { status playback { hlsUrl fallback } } }"


STATUS = "query($s: ID!) { stream(id: $s) { status viewerCount playback { hlsUrl fallback } } }"
END = "mutation($s: ID!) { endStream(id: $s) { __typename ... on Stream { status } } }"


@pytest.fixture
def settings(settings: Settings, livekit_emulator: LiveKitEmulator, mux_emulator: MuxEmulator) -> Settings:
    return paired_with_mux(settings, livekit_emulator, mux_emulator)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Server]:
    async with run_server(settings, workers=False) as server:
        yield server


async def test_graphql_tokens_and_egress_failure_fallback(
    app: Server, livekit_emulator: LiveKitEmulator, mux_emulator: MuxEmulator
) -> None:
    lk = livekit_emulator
    url, owner, other = app.graphql_http, await app.token("owner"), await app.token("someone")
    created = (await gql_http(url, CREATE, {"p": "livekit"}, owner))["createStream"]
    sid = created["id"]
    b = await Broadcast.get(stream_id=sid)
    assert created["playback"] == {"hlsUrl": f"https://stream.mux.com/{b.paired_playback_id}.m3u8", "fallback": None}
    host = (await gql_http(url, BROADCAST_TOKEN, {"s": sid}, owner))["createBroadcastToken"]
    assert host["__typename"] == "RoomToken" and host["canPublish"] and host["room"] == b.room_name
    assert host["url"] == lk.url.replace("http", "ws", 1)
    claims = jwt.decode(host["token"], lk.api_secret, algorithms=["HS256"], issuer=lk.api_key)
    assert (
        claims["video"]["canPublish"] and claims["video"]["room"] == b.room_name and claims["sub"] == host["identity"]
    )
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
    info = {
        "egressId": egress.egress_id,
        "roomName": b.room_name,
        "status": "EGRESS_FAILED",
        "error": "rtmp: connection refused",
    }
    assert "failed" in await broadcast.apply_livekit_event(deps, event("egress_ended", b.room_name, egressInfo=info))
    data = (await gql_http(url, PLAYBACK, {"s": sid}))["stream"]
    assert data["playback"]["fallback"] == f"{lk.url.replace('http', 'ws', 1)}?room={b.room_name}"
    [alert] = await StreamAlert.filter(stream_id=sid)
    assert (alert.kind, alert.severity.value) == ("EGRESS_FAILED", "CRITICAL") and "connection refused" in alert.message
    await broadcast.apply_livekit_event(deps, event("egress_ended", b.room_name, egressInfo=info))  # redelivered
    assert await StreamAlert.filter(stream_id=sid).count() == 1
    assert await broadcast_jobs.check(deps=deps) == []  # a failed egress is not restarted on its own


async def test_served_end_to_end_with_webhooks_and_beacons(
    settings: Settings, livekit_emulator: LiveKitEmulator, mux_emulator: MuxEmulator
) -> None:
    """Everything over HTTP: GraphQL, LiveKit's signed webhooks into /webhooks/livekit (inbox, apply job),
    player beacons into /v1/playback/beacon (viewer count job) and the periodic LiveKit check."""
    lk, mux = livekit_emulator, mux_emulator
    backups = ["rtmp://standby.example.com/live/{stream_key}", "rtmps://recorder.example.com:443/app/{room}"]
    quick = settings.model_copy(update={
        "viewer_count_seconds": 0.3, "viewer_flush_seconds": 0.9, "lifecycle_check_seconds": 0.3,
        "livekit_egress_idle_seconds": 1.0, "livekit_room_delete_seconds": 1.0,
        "livekit_egress_extra_urls": [SecretStr(url) for url in backups],
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

        player = Beacons(server, http, sid)  # its session from the livekit stream's playback.session

        async def beacon_http(state: str) -> None:
            response = await player.send("v1", "tab", state)
            assert response.status_code == 204, response.text

        await beacon_http("playing")
        await eventually(lambda: lk.active_egresses(b.room_name), timeout=10, what="egress started by the first viewer")
        [egress] = lk.active_egresses(b.room_name)
        key = mux.live_streams[b.paired_stream_id]["stream_key"]
        outputs = [f"rtmps://global-live.mux.com:443/app/{key}", f"rtmp://standby.example.com/live/{key}",
                   f"rtmps://recorder.example.com:443/app/{b.room_name}"]  # fmt: skip
        assert egress.urls == outputs  # one egress, the paired Mux ingest first, then the redundant outputs
        reported = await broadcast_egress.rooms(server.runtime.deps).egress_status(egress.egress_id)
        assert reported.urls == tuple(outputs)  # LiveKit's per-output stream results, read back with the SDK
        await eventually(
            lambda: _egress_is(sid, EgressStatus.ACTIVE), timeout=10, what="egress_updated webhook applied"
        )

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
        assert ("track_published", WebhookStatus.APPLIED) in outcomes and (
            "egress_started",
            WebhookStatus.APPLIED,
        ) in outcomes
        assert not [o for o in outcomes if o[1] is WebhookStatus.FAILED], outcomes


async def _none_pending() -> bool:
    return await WebhookEvent.filter(status=WebhookStatus.PENDING).count() == 0


async def _is(read: Any, key: str, value: Any) -> bool:
    return (await read())[key] == value


async def _egress_is(stream_id: str, status: EgressStatus) -> bool:
    return (await Broadcast.get(stream_id=stream_id)).egress_status is status


LIST = "{ streams(first: 20) { edges { node { id provider playback { hlsUrl fallback } } } } }"


async def test_listing_livekit_streams_loads_their_broadcasts_in_one_query(
    app: Server, livekit_emulator: LiveKitEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    url, owner = app.graphql_http, await app.token("lister")
    ids = [(await gql_http(url, CREATE, {"p": "livekit"}, owner))["createStream"]["id"] for _ in range(5)]
    local = (await gql_http(url, CREATE, {"p": "local"}, owner))["createStream"]["id"]
    rows = {sid: await Broadcast.get(stream_id=sid) for sid in ids}
    broken = rows[ids[2]]
    await broadcast_egress.failed(deps=app.runtime.deps, broadcast=broken, error="rtmp: connection refused")

    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    edges = (await gql_http(url, LIST))["streams"]["edges"]
    queries = [r.getMessage() for r in caplog.records if r.name == "tortoise.db_client"]
    assert len([q for q in queries if 'FROM "broadcasts"' in q]) == 1, queries

    playback = {e["node"]["id"]: e["node"]["playback"] for e in edges}
    assert set(playback) == {*ids, local}
    fallback = f"{livekit_emulator.url.replace('http', 'ws', 1)}?room={broken.room_name}"
    for sid, b in rows.items():
        expected = {
            "hlsUrl": f"https://stream.mux.com/{b.paired_playback_id}.m3u8",
            "fallback": fallback if b is broken else None,
        }
        assert playback[sid] == expected, sid
    assert playback[local]["hlsUrl"].endswith("/index.m3u8") and playback[local]["fallback"] is None
