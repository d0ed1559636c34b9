"""Mux webhook events and what they do, over real HTTP on the Mux emulator: a broadcast's events drive the
lifecycle in order, late events are skipped as stale, ``asset.ready`` makes the recording available and
simulcast target events update the target. Signatures and the inbox itself: ``tests/test_webhooks_mux.py``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from livecast.domain import streams
from livecast.domain.events import RecordingReady, stream_channel
from livecast.settings import Settings
from tests.helpers.client import gql_http
from tests.helpers.mux_webhooks import EXPECTED, SEQUENCE, MuxSetup, has_status, mux_setup, sequence, settled, status_of
from tests.helpers.waiting import eventually
from tests.helpers.webhooks import T0, inbox, mux_event


@pytest.fixture
async def mux(settings: Settings) -> AsyncIterator[MuxSetup]:
    async with mux_setup(settings) as setup:
        yield setup


async def test_a_broadcast_drives_the_lifecycle_in_order(mux: MuxSetup) -> None:
    stream_id, mux_id = await mux.stream()
    statuses = []
    for payload, expected in zip(sequence(mux_id), EXPECTED, strict=True):
        response = await mux.deliver(payload)
        assert response.status_code == 200, response.text
        assert response.json()["duplicate"] is False and response.json()["status"] == "PENDING"
        await eventually(lambda e=expected: has_status(stream_id, e), timeout=10, what=expected)
        statuses.append(await status_of(stream_id))
    assert statuses == EXPECTED
    rows = await settled(stream_id, len(SEQUENCE))
    assert [r.status.value for r in rows] == ["APPLIED", "SKIPPED", "APPLIED", "APPLIED", "APPLIED", "APPLIED"]
    assert "cannot move to PREPARING" in rows[1].outcome  # recording while PREPARING: nothing to do
    assert rows[-1].outcome == "LIVE → ENDED"
    ended = await streams.existing_stream(stream_id)
    assert ended.started_at is not None and ended.ended_at is not None
    # ENDED goes through streams.finish, which signals "complete" to Mux, then disables the live stream: ENDED is
    # final, so its stream key must refuse a new broadcast
    calls = [(m, p) for m, p, _ in mux.emulator.requests]
    complete, disable = (
        ("PUT", f"/video/v1/live-streams/{mux_id}/complete"),
        ("PUT", f"/video/v1/live-streams/{mux_id}/disable"),
    )
    assert complete in calls and disable in calls and calls.index(complete) < calls.index(disable)
    assert mux.emulator.live_streams[mux_id]["status"] == "disabled"


async def test_late_events_are_skipped_as_stale(mux: MuxSetup) -> None:
    stream_id, mux_id = await mux.stream()
    by_kind = dict(
        zip(["connected", "recording", "active1", "disconnected", "active2", "idle"], sequence(mux_id), strict=True)
    )
    order = ["active2", "connected", "disconnected", "idle", "active1", "recording"]
    for name in order:  # each is applied before the next arrives
        assert (await mux.deliver(by_kind[name])).status_code == 200
        await settled(stream_id, order.index(name) + 1)
    rows = {r.event_id: r for r in await inbox(stream_id=stream_id)}
    outcome = {name: rows[by_kind[name]["id"]] for name in order}
    assert {n: r.status.value for n, r in outcome.items()} == {
        "active2": "APPLIED", "connected": "SKIPPED", "disconnected": "SKIPPED", "idle": "APPLIED",
        "active1": "SKIPPED", "recording": "SKIPPED",
    }  # fmt: skip
    assert all(outcome[n].outcome.startswith("stale:") for n in ("connected", "disconnected", "active1", "recording"))
    assert await status_of(stream_id) == "ENDED"


async def test_idle_on_a_scheduled_stream_is_only_recorded(mux: MuxSetup) -> None:
    stream_id, mux_id = await mux.stream()
    assert (await mux.deliver(mux_event("video.live_stream.idle", mux_id, at=T0))).status_code == 200
    [row] = await settled(stream_id, 1)
    assert row.status.value == "SKIPPED" and "SCHEDULED" in row.outcome
    assert await status_of(stream_id) == "SCHEDULED"


async def test_asset_ready_makes_the_recording_available(mux: MuxSetup) -> None:
    stream_id, mux_id = await mux.stream(recordingEnabled=True)
    asset = {
        "id": "asset-1", "status": "ready", "live_stream_id": mux_id, "duration": 12.5,
        "playback_ids": [{"id": "signedPB", "policy": "signed"}, {"id": "publicPB", "policy": "public"}],
    }  # fmt: skip
    async with mux.server.runtime.deps.bus.subscribe(stream_channel(stream_id, "recording")) as events:
        response = await mux.deliver(mux_event("video.asset.ready", mux_id, at=T0, data=asset))
        assert response.status_code == 200 and response.json()["status"] == "PENDING", response.text
        ready = await asyncio.wait_for(anext(aiter(events)), 10)
    assert isinstance(ready, RecordingReady) and ready.asset_id == "asset-1" and ready.playback_id == "publicPB"
    stream = await streams.existing_stream(stream_id)
    assert stream.provider_asset_id == "asset-1" and stream.recording_playback_id == "publicPB"


ADD_TARGET = """mutation($id: ID!, $url: String!, $key: String!) {
  addSimulcastTarget(streamId: $id, url: $url, streamKey: $key) { __typename ... on SimulcastTarget { id status } }
}"""
TARGETS = "query($id: ID!) { stream(id: $id) { simulcastTargets { id status error } } }"


async def test_simulcast_target_events_update_the_target(mux: MuxSetup) -> None:
    stream_id, mux_id = await mux.stream()
    added = await gql_http(
        mux.server.graphql_http,
        ADD_TARGET,
        {"id": stream_id, "url": "rtmp://live.example.com/app", "key": "yt-key"},
        mux.token,
    )
    assert added["addSimulcastTarget"]["__typename"] == "SimulcastTarget", added
    [mux_target] = mux.emulator.live_streams[mux_id]["simulcast_targets"]
    for i, (status, error) in enumerate([("starting", None), ("broadcasting", None), ("errored", "fatal")]):
        data = {
            **mux_target,
            "status": status,
            "live_stream_id": mux_id,
            **({"error_severity": error} if error else {}),
        }
        payload = mux_event(
            f"video.live_stream.simulcast_target.{status}", mux_id, at=T0 + timedelta(seconds=i), data=data
        )
        payload["object"] = {"type": "simulcast_target", "id": mux_target["id"]}
        assert (await mux.deliver(payload)).status_code == 200
        await settled(stream_id, i + 1)
        [target] = (await gql_http(mux.server.graphql_http, TARGETS, {"id": stream_id}, mux.token))["stream"][
            "simulcastTargets"
        ]
        assert target["status"] == status.upper() and target["error"] == error
    # a late "starting" (older than the applied "errored") changes nothing
    late = mux_event(
        "video.live_stream.simulcast_target.starting", mux_id, at=T0, data={**mux_target, "live_stream_id": mux_id}
    )
    late["object"] = {"type": "simulcast_target", "id": mux_target["id"]}
    assert (await mux.deliver(late)).status_code == 200
    rows = await settled(stream_id, 4)
    assert next(r for r in rows if r.event_id == late["id"]).status.value == "SKIPPED"
    [target] = (await gql_http(mux.server.graphql_http, TARGETS, {"id": stream_id}, mux.token))["stream"][
        "simulcastTargets"
    ]
    assert target["status"] == "ERRORED"


def test_the_live_stream_is_found_in_every_documented_event_shape() -> None:
    """Mux "Webhook reference": ``object`` names the resource, ``data`` is the resource (a live stream, an asset,
    a simulcast target); the live stream id is taken from wherever that shape carries it."""
    from livecast.providers.mux.webhook import parse_mux_event

    def live_stream_of(kind: str, obj: dict | None, data: dict) -> str | None:
        body = {
            "type": kind,
            "id": "ev-1",
            "created_at": "2026-01-01T12:00:00.000Z",
            "data": data,
            "environment": {"id": "e"},
        }
        if obj is not None:
            body["object"] = obj
        return parse_mux_event(json.dumps(body).encode()).object_id

    stream = {"id": "ls-1", "status": "active", "stream_key": "sk", "playback_ids": [{"id": "pb", "policy": "public"}]}
    assert live_stream_of("video.live_stream.active", {"type": "live_stream", "id": "ls-1"}, stream) == "ls-1"
    assert live_stream_of("video.live_stream.active", None, stream) == "ls-1"  # no object: data is the stream
    assert live_stream_of("video.live_stream.idle", {"id": "ls-1"}, stream) == "ls-1"  # object without type
    asset = {"id": "asset-1", "status": "ready", "live_stream_id": "ls-1", "playback_ids": []}
    for kind in ("video.asset.created", "video.asset.ready", "video.asset.live_stream_completed"):
        assert live_stream_of(kind, {"type": "asset", "id": "asset-1"}, asset) == "ls-1"  # never the asset id
    assert (
        live_stream_of("video.asset.ready", {"type": "asset", "id": "a2"}, {"id": "a2", "status": "ready"}) is None
    )  # uploaded
    target = {"id": "st-1", "status": "broadcasting", "url": "rtmp://x/app", "live_stream_id": "ls-1"}
    assert (
        live_stream_of(
            "video.live_stream.simulcast_target.broadcasting", {"type": "simulcast_target", "id": "st-1"}, target
        )
        == "ls-1"
    )
    assert (
        live_stream_of(
            "video.live_stream.simulcast_target.broadcasting",
            {"type": "simulcast_target", "id": "st-1"},
            {"id": "st-1"},
        )
        is None
    )


async def test_a_live_stream_event_without_its_object_still_drives_the_stream(mux: MuxSetup) -> None:
    stream_id, mux_id = await mux.stream()
    payload = mux_event("video.live_stream.active", mux_id, at=T0)
    del payload["object"]
    response = await mux.deliver(payload)
    assert response.status_code == 200 and response.json()["status"] == "PENDING", response.text
    await settled(stream_id, 1)
    assert await status_of(stream_id) == "LIVE"
