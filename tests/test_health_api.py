"""Health over GraphQL: ``Stream.health`` and ``Stream.alertThresholds`` (owner or admin), ``Query.streamAlerts``
and ``setAlertThresholds``, with samples recorded through the domain monitor the ingest uses."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from livecast.domain.health import HealthSample
from livecast.domain.models import HealthStatus
from livecast.domain.monitoring import HealthMonitor
from tests.conftest import Server
from tests.helpers.client import create_stream, gql_http, gql_http_errors

T0 = datetime.now(UTC).replace(microsecond=0)
SAMPLE = HealthSample(
    status=HealthStatus.GOOD, sampled_at=T0, drift_ms=620.0, drift_deviation_ms=-700.0, video_bitrate=320_000,
    audio_bitrate=128_000, frame_rate=29.97, width=1280, height=720, keyframe_interval=2.0, codec="h264 High 3.1",
    encoder="obs-output module", media_gap=0.02, dropped_frames=0.0, packager_speed=1.01,
)  # fmt: skip
HEALTH = """query($id: ID!) { stream(id: $id) {
  health { status drift driftDeviation videoBitrate audioBitrate frameRate width height keyframeInterval codec encoder
           sampledAt mediaGap droppedFrames packetLoss roundTripTime packagerSpeed }
  alertThresholds { minVideoBitrate minFrameRate maxRoundTripTime raiseAfter clearAfter driftAlert } } }"""
ALERTS = """query($id: ID!, $active: Boolean) { streamAlerts(streamId: $id, active: $active) {
  id kind severity message active raisedAt clearedAt } }"""
SET = """mutation($id: ID!, $input: AlertThresholdsInput!) { setAlertThresholds(streamId: $id, input: $input) {
  __typename ... on AlertThresholds { minVideoBitrate raiseAfter maxRoundTripTime } ... on Error { code message }
  ... on ValidationError { field } } }"""


async def test_health_alerts_and_thresholds_over_graphql(server: Server) -> None:
    url = server.graphql_http
    alice, mallory, root = (
        await server.token("alice"),
        await server.token("mallory"),
        await server.token("root", ["admin"]),
    )
    sid = (await create_stream(url, alice))["id"]
    before = (await gql_http(url, HEALTH, {"id": sid}, alice))["stream"]
    assert before["health"] is None, "no sample yet"
    assert before["alertThresholds"] == {
        "minVideoBitrate": 500_000, "minFrameRate": 20.0, "maxRoundTripTime": 300.0, "raiseAfter": 2, "clearAfter": 2,
        "driftAlert": True,
    }  # fmt: skip

    monitor = HealthMonitor(server.runtime.deps.bus)
    for n in range(3):
        await monitor.record(
            stream_id=sid, sample=dataclasses.replace(SAMPLE, sampled_at=T0 + timedelta(seconds=5 * n))
        )

    health = (await gql_http(url, HEALTH, {"id": sid}, alice))["stream"]["health"]
    assert health == {
        "status": "GOOD", "drift": 620.0, "driftDeviation": -700.0, "videoBitrate": 320_000, "audioBitrate": 128_000,
        "frameRate": 29.97, "width": 1280, "height": 720, "keyframeInterval": 2.0, "codec": "h264 High 3.1",
        "encoder": "obs-output module", "sampledAt": (T0 + timedelta(seconds=10)).isoformat(), "mediaGap": 0.02,
        "droppedFrames": 0.0, "packetLoss": None, "roundTripTime": None, "packagerSpeed": 1.01,
    }  # fmt: skip
    assert (await gql_http(url, HEALTH, {"id": sid}, root))["stream"]["health"]["videoBitrate"] == 320_000
    assert (await gql_http(url, HEALTH, {"id": sid}, mallory))["stream"] == {"health": None, "alertThresholds": None}
    assert (await gql_http(url, HEALTH, {"id": sid}))["stream"] == {"health": None, "alertThresholds": None}

    [alert] = (await gql_http(url, ALERTS, {"id": sid, "active": True}, alice))["streamAlerts"]
    assert alert["kind"] == "LOW_VIDEO_BITRATE" and alert["severity"] == "WARNING" and alert["active"] is True
    assert alert["message"] == "video bitrate 320 kbps is below 500 kbps: check your upload speed"
    assert alert["raisedAt"] == (T0 + timedelta(seconds=5)).isoformat() and alert["clearedAt"] is None
    assert (await gql_http(url, ALERTS, {"id": sid, "active": False}, alice))["streamAlerts"] == []
    assert len((await gql_http(url, ALERTS, {"id": sid}, root))["streamAlerts"]) == 1
    assert [e["extensions"]["code"] for e in await gql_http_errors(url, ALERTS, {"id": sid}, mallory)] == ["FORBIDDEN"]
    assert [e["extensions"]["code"] for e in await gql_http_errors(url, ALERTS, {"id": sid})] == ["UNAUTHENTICATED"]

    refused = (await gql_http(url, SET, {"id": sid, "input": {"minVideoBitrate": 1}}, mallory))["setAlertThresholds"]
    assert refused["__typename"] == "ForbiddenError"
    invalid = (await gql_http(url, SET, {"id": sid, "input": {"raiseAfter": 0}}, alice))["setAlertThresholds"]
    assert (invalid["__typename"], invalid["field"]) == ("ValidationError", "raiseAfter")
    changed = await gql_http(
        url, SET, {"id": sid, "input": {"minVideoBitrate": 250_000, "maxRoundTripTime": 500}}, alice
    )
    assert changed["setAlertThresholds"] == {
        "__typename": "AlertThresholds",
        "minVideoBitrate": 250_000,
        "raiseAfter": 2,
        "maxRoundTripTime": 500.0,
    }
    reset = await gql_http(url, SET, {"id": sid, "input": {"minVideoBitrate": None}}, alice)
    assert reset["setAlertThresholds"]["minVideoBitrate"] == 500_000
    assert reset["setAlertThresholds"]["maxRoundTripTime"] == 500.0, "omitted fields stay"
