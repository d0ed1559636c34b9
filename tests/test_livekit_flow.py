"""LiveKit broadcasts driven through the domain on the emulators: a ``livekit`` stream paired with Mux (real
livekit-api and mux-python SDKs against the LiveKit and Mux emulators), driven by LiveKit webhook events, playback
beacons and the periodic check; reconciliation, pairing failures, the local pipeline as the paired provider and the
``EGRESS_FAILED`` alert's life. Over a served app (GraphQL, HTTP webhooks): ``tests/test_livekit_flow_served.py``."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.json_format import MessageToDict
from livekit import api as lk_api

from livecast.domain import broadcast, broadcast_egress, broadcast_jobs, streams
from livecast.domain.bus import Delivery
from livecast.domain.deps import Deps
from livecast.domain.errors import InvalidState, NotFound, ProviderDown
from livecast.domain.events import ALERTS, AlertCleared, AlertRaised, Event, stream_channel
from livecast.domain.health_models import StreamAlert
from livecast.domain.models import StreamStatus
from livecast.domain.provider_models import Broadcast, EgressStatus
from livecast.domain.validation import StreamFields
from livecast.runtime import domain_deps
from livecast.settings import Settings
from tests.emulators.livekit import LiveKitEmulator
from tests.emulators.mux import MuxEmulator
from tests.helpers.livekit import beacon, event, paired_with_mux, principal, publisher, webhook
from tests.helpers.waiting import eventually

S = StreamStatus


@pytest.fixture
def settings(settings: Settings, livekit_emulator: LiveKitEmulator, mux_emulator: MuxEmulator) -> Settings:
    return paired_with_mux(settings, livekit_emulator, mux_emulator)


async def test_broadcast_paired_with_mux_end_to_end(
    deps: Deps, livekit_emulator: LiveKitEmulator, mux_emulator: MuxEmulator
) -> None:
    lk, mux = livekit_emulator, mux_emulator
    actor = await principal("host")
    stream = await streams.create_stream(
        deps=deps, actor=actor, fields=StreamFields(title="webrtc show"), provider="livekit"
    )
    sid, room = str(stream.id), stream.provider_stream_id
    assert room in lk.rooms and stream.playback_id == room
    b = await Broadcast.get(stream_id=sid)
    paired = mux.live_streams[b.paired_stream_id]
    assert (b.room_name, b.paired_provider, b.paired_stream_key) == (room, "mux", paired["stream_key"])
    assert b.paired_playback_id == paired["playback_ids"][0]["id"]
    info = await broadcast.playback(deps=deps, stream=stream)
    assert info.hls_url == f"https://stream.mux.com/{b.paired_playback_id}.m3u8" and info.fallback is None

    # the host connects (no tracks yet), then publishes: LIVE
    host = lk.join(room, f"host-{actor.user_id}", publish=False)
    assert "without publishing" in await broadcast.apply_livekit_event(
        deps, webhook("participant_joined", room, participant=host)
    )
    assert (await streams.existing_stream(sid)).status is S.SCHEDULED
    host = lk.join(room, f"host-{actor.user_id}")
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
    lk.leave(room, f"host-{actor.user_id}")
    assert "RECONNECTING" in await broadcast.apply_livekit_event(
        deps, webhook("participant_left", room, participant=host)
    )
    lk.join(room, f"host-{actor.user_id}")
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
    deps: Deps, settings: Settings, livekit_emulator: LiveKitEmulator, mux_emulator: MuxEmulator
) -> None:
    lk = livekit_emulator
    deps = domain_deps(settings.model_copy(update={"livekit_egress_start": "GO_LIVE"}), deps.bus)
    actor = await principal("host2")
    stream = await streams.create_stream(
        deps=deps, actor=actor, fields=StreamFields(title="t", reconnect_window=10), provider="livekit"
    )
    sid, room = str(stream.id), stream.provider_stream_id
    lk.join(room, "h")
    outcome = await broadcast.apply_livekit_event(deps, event("track_published", room, participant=publisher("h")))
    assert "LIVE; egress" in outcome and len(lk.active_egresses(room)) == 1  # at go-live, no viewer needed
    lk.leave(room, "h")
    await broadcast.apply_livekit_event(deps, event("participant_left", room, participant=publisher("h")))
    changed = (await streams.existing_stream(sid)).status_changed_at
    inside = changed + timedelta(seconds=5)  # GO_LIVE keeps egress only while LIVE: the idle timer starts
    assert await broadcast_jobs.check(deps=deps, now=inside) == [f"{sid}: no viewers: egress idle"]
    b = await Broadcast.get(stream_id=sid)
    assert (
        b.zero_viewers_since == inside
        and b.egress_status in broadcast_egress.RUNNING
        and len(lk.active_egresses(room)) == 1
    )
    [ended] = await broadcast_jobs.check(deps=deps, now=changed + timedelta(seconds=11))
    assert "reconnect window passed: ENDED" in ended
    assert (await streams.existing_stream(sid)).status is S.ENDED and lk.active_egresses(room) == []


async def test_pairing_failure_leaves_nothing(
    deps: Deps, livekit_emulator: LiveKitEmulator, mux_emulator: MuxEmulator
) -> None:
    lk, mux = livekit_emulator, mux_emulator
    actor = await principal("host3")
    mux.fail_next(5, status=503)
    with pytest.raises(Exception) as caught:
        await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="t"), provider="livekit")
    assert getattr(caught.value, "code", None).value == "PROVIDER_UNAVAILABLE"
    assert lk.rooms == {} and await Broadcast.all().count() == 0
    assert (await streams.list_streams(status=None, first=10, after=None)).items == []


async def test_reconcile_repairs_missed_events(
    deps: Deps, livekit_emulator: LiveKitEmulator, mux_emulator: MuxEmulator
) -> None:
    lk = livekit_emulator
    actor = await principal("host4")
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
    late = dataclasses.replace(
        late, data={**late.data, "egress_info": MessageToDict(stale, preserving_proto_field_name=True)}
    )
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


async def test_paired_with_the_local_pipeline(
    deps: Deps, settings: Settings, livekit_emulator: LiveKitEmulator, mux_emulator: MuxEmulator
) -> None:
    lk, mux = livekit_emulator, mux_emulator
    deps = domain_deps(settings.model_copy(update={"livekit_viewer_provider": "local"}), deps.bus)
    actor = await principal("host5")
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="t"), provider="livekit")
    b = await Broadcast.get(stream_id=str(stream.id))
    assert b.paired_provider == "local" and mux.live_streams == {}
    assert b.paired_stream_key != stream.stream_key and b.paired_playback_id != stream.playback_id
    info = await broadcast.playback(deps=deps, stream=stream)
    assert info.hls_url == f"{settings.http_base_url}/hls/{b.paired_playback_id}/index.m3u8"
    assert broadcast_egress.egress_urls(deps, b) == [
        f"rtmp://{settings.host}:{settings.rtmp_port}/live/{b.paired_stream_key}"
    ]
    lk.join(stream.provider_stream_id, "h")
    await broadcast.reconcile(deps, str(stream.id))
    await beacon(deps, str(stream.id), "playing")
    await broadcast_jobs.check(deps=deps)
    [egress] = lk.active_egresses()
    assert egress.urls == broadcast_egress.egress_urls(deps, b)


async def test_events_decide_when_livekit_lags_or_is_down(
    deps: Deps, livekit_emulator: LiveKitEmulator, mux_emulator: MuxEmulator
) -> None:
    lk = livekit_emulator
    actor = await principal("host6")
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="t"), provider="livekit")
    sid, room = str(stream.id), stream.provider_stream_id
    # LiveKit's participant list does not show the publisher yet: the event counts for its own participant
    assert (
        await broadcast.apply_livekit_event(deps, event("track_published", room, participant=publisher("a")))
    ).startswith("1 publisher(s): LIVE")
    lk.join(room, "a")
    lk.join(room, "b")
    assert "2 publisher(s)" in await broadcast.apply_livekit_event(
        deps, event("participant_joined", room, participant=publisher("b"))
    )
    # the list still shows "b" although it left: the event wins for "b"
    assert (
        await broadcast.apply_livekit_event(deps, event("participant_left", room, participant=publisher("b")))
        == "1 publisher(s): stream stays LIVE"
    )
    lk.leave(room, "a")
    lk.leave(room, "b")
    assert "RECONNECTING" in await broadcast.apply_livekit_event(
        deps, event("participant_left", room, participant=publisher("a"))
    )
    assert (await Broadcast.get(stream_id=sid)).publishers == 0
    lk.available = False  # LiveKit unreachable: the events alone decide
    assert "LIVE" in await broadcast.apply_livekit_event(
        deps, event("participant_joined", room, participant=publisher("c"))
    )
    assert (await Broadcast.get(stream_id=sid)).publishers == 1
    assert "RECONNECTING" in await broadcast.apply_livekit_event(
        deps, event("participant_left", room, participant=publisher("c"))
    )
    assert "nothing to do" in await broadcast.apply_livekit_event(deps, event("room_started", room))
    assert (await streams.existing_stream(sid)).status is S.RECONNECTING


async def test_egress_failed_alert_clears_when_a_later_egress_runs(
    deps: Deps, livekit_emulator: LiveKitEmulator
) -> None:
    lk = livekit_emulator
    actor = await principal("host7")
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="t"), provider="livekit")
    sid, room = str(stream.id), stream.provider_stream_id
    seen: list[Event] = []

    async def listen() -> None:
        async with deps.bus.subscribe(stream_channel(sid, ALERTS), delivery=Delivery.LOSSLESS) as events:
            async for item in events:
                seen.append(item)

    listener = asyncio.create_task(listen())
    await eventually(lambda: deps.bus.subscriber_count(stream_channel(sid, ALERTS)) > 0, what="subscribed")
    try:
        lk.join(room, "h")
        await broadcast.reconcile(deps, sid)
        await beacon(deps, sid, "playing")
        await broadcast_jobs.check(deps=deps)
        [first] = lk.active_egresses(room)
        lk.fail_egress(first.egress_id)
        assert "failed" in await broadcast.apply_livekit_event(deps, webhook("egress_ended", room, egress=first))
        [alert] = await StreamAlert.filter(stream_id=sid, kind="EGRESS_FAILED")
        assert alert.cleared_at is None
        await eventually(lambda: [type(e) for e in seen] == [AlertRaised], what="AlertRaised published")

        # a new publisher session egresses again; STARTING is not enough, the alert clears once it is ACTIVE
        lk.leave(room, "h")
        await broadcast.reconcile(deps, sid)
        lk.join(room, "h")
        await broadcast.reconcile(deps, sid)
        [started] = await broadcast_jobs.check(deps=deps)
        assert "started (first viewer)" in started
        assert (await Broadcast.get(stream_id=sid)).egress_status is EgressStatus.STARTING
        assert (await StreamAlert.get(id=alert.id)).cleared_at is None
        [second] = lk.active_egresses(room)
        assert second.egress_id != first.egress_id
        late = webhook("egress_ended", room, egress=first)  # the old egress's news changes nothing
        assert "not this broadcast's current one" in await broadcast.apply_livekit_event(deps, late)
        assert (await StreamAlert.get(id=alert.id)).cleared_at is None
        assert "ACTIVE" in await broadcast.apply_livekit_event(deps, webhook("egress_updated", room, egress=second))
        cleared = await StreamAlert.get(id=alert.id)
        assert cleared.cleared_at is not None and cleared.cleared_at >= alert.raised_at
        await eventually(lambda: [type(e) for e in seen] == [AlertRaised, AlertCleared], what="AlertCleared published")
        assert (seen[1].alert_id, seen[1].kind, seen[1].owner_id) == (str(alert.id), "EGRESS_FAILED", actor.user_id)
        assert "ACTIVE" in await broadcast.reconcile(deps, sid)  # seen ACTIVE again: nothing more to clear
        assert len(seen) == 2

        # the new egress fails too: a new alert (a new episode), cleared when the stream ends
        lk.fail_egress(second.egress_id)
        await broadcast.apply_livekit_event(deps, webhook("egress_ended", room, egress=second))
        active = await StreamAlert.filter(stream_id=sid, cleared_at__isnull=True)
        assert [a.kind for a in active] == ["EGRESS_FAILED"] and active[0].id != alert.id
        await eventually(lambda: len(seen) == 3 and isinstance(seen[2], AlertRaised), what="second AlertRaised")
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
