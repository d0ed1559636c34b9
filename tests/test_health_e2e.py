"""Health end to end with a real ffmpeg encoder over RTMP: measured bitrate, frame rate, size, codec and
keyframe interval; a frozen encoder drives drift up (POOR) and raises one drift alert, delivered over real
websockets (``streamAlerts``, ``myStreamAlerts``) and listed by ``Query.streamAlerts``, then cleared after
recovery; a low-bitrate encoder raises the bitrate alert once (hysteresis) until the stream ends.

Samples every 0.5 s (``health_sample_seconds``) with a 6 s drift window keep the test short; every wait is an
``eventually`` with a generous deadline, and what is asserted about time are sample counts, not durations.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from gql import GraphQLRequest

from livecast.domain.events import ALERTS, owner_channel, stream_channel
from livecast.domain.health_models import StreamQualityMetric
from livecast.settings import Settings
from tests.conftest import Server, run_server
from tests.helpers.client import create_stream, gql_http, ws_session
from tests.helpers.encoder import Encoder
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e

ALERT_FIELDS = "id streamId kind severity message active raisedAt clearedAt"
STREAM_ALERTS = f"subscription($id: ID!) {{ streamAlerts(streamId: $id) {{ {ALERT_FIELDS} }} }}"
MY_ALERTS = f"subscription {{ myStreamAlerts {{ {ALERT_FIELDS} }} }}"
LISTED = f"query($id: ID!, $active: Boolean) {{ streamAlerts(streamId: $id, active: $active) {{ {ALERT_FIELDS} }} }}"
HEALTH = "query($id: ID!) { stream(id: $id) { health { status videoBitrate frameRate width height codec encoder keyframeInterval } } }"
END = "mutation($id: ID!) { endStream(id: $id) { __typename } }"


class Feed:
    """One websocket subscription collecting its results in the background."""

    def __init__(self, server: Server, query: str, variables: dict[str, Any] | None, token: str) -> None:
        self.results: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._run(server, query, variables, token))

    async def _run(self, server: Server, query: str, variables: dict[str, Any] | None, token: str) -> None:
        async with ws_session(server.graphql_ws, token=token) as session:
            async for result in session.subscribe(GraphQLRequest(query, variable_values=variables)):
                self.results.append(next(iter(result.values())))

    def of(self, kind: str, active: bool | None = None) -> list[dict[str, Any]]:
        return [a for a in self.results if a["kind"] == kind and (active is None or a["active"] is active)]

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def fast_health(settings: Settings) -> Settings:
    return settings.model_copy(update={"health_sample_seconds": 0.5, "health_drift_window_seconds": 6.0})


async def samples(stream_id: str) -> list[StreamQualityMetric]:
    return await StreamQualityMetric.filter(stream_id=stream_id).order_by("sampled_at", "id")


async def publishing(
    server: Server, token: str, encoders: list[Encoder], **encoder: Any
) -> tuple[dict, Encoder, Feed, Feed]:
    """A stream, its alert feeds (per stream and per owner) subscribed, and an encoder publishing to it."""
    stream = await create_stream(server.graphql_http, token, title="health")
    sid, bus = stream["id"], server.runtime.deps.bus
    feeds = Feed(server, STREAM_ALERTS, {"id": sid}, token), Feed(server, MY_ALERTS, None, token)
    channels = (stream_channel(sid, ALERTS), owner_channel(stream["owner"]["id"], ALERTS))
    await eventually(lambda: all(bus.subscriber_count(c) for c in channels), what="alert subscriptions")
    ingest = stream["ingest"]
    publisher = Encoder(f"{ingest['rtmpUrl']}/{ingest['streamKey']}", **encoder)
    encoders.append(await publisher.start())
    return stream, publisher, *feeds


async def test_real_encoder_health_and_one_drift_alert(settings: Settings, encoders: list[Encoder]) -> None:
    async with run_server(fast_health(settings)) as server:
        token = await server.token("alice")
        stream, publisher, alerts, mine = await publishing(
            server, token, encoders, seconds=120, bitrate="1000k", cbr=True
        )
        sid = stream["id"]
        try:
            first = (await eventually(lambda: samples(sid), timeout=30, what="a first sample"))[0]
            steady_from = first.sampled_at + timedelta(seconds=6)  # the 5 s window holds only steady media
            steady = await eventually(
                lambda: _after(samples(sid), steady_from, 4), timeout=60, what="4 samples of steady media"
            )
            for s in steady:
                assert s.video_bitrate == pytest.approx(1_000_000, rel=0.10), s.video_bitrate
                assert s.frame_rate == pytest.approx(30, rel=0.10), s.frame_rate
                assert (s.width, s.height) == (640, 360)
                assert s.codec is not None and s.codec.startswith("h264 "), s.codec
                assert s.encoder is not None and s.encoder.startswith("Lavf"), s.encoder
                assert s.keyframe_interval == pytest.approx(1.0, rel=0.10)
                assert s.audio_bitrate == pytest.approx(96_000, rel=0.25)
            health = (await gql_http(server.graphql_http, HEALTH, {"id": sid}, token))["stream"]["health"]
            assert health["width"] == 640 and health["codec"].startswith("h264 ")

            await eventually(lambda: _calm(sid, alerts), timeout=60, what="steady health before the freeze")
            paused_at = (await samples(sid))[-1].sampled_at
            before = len(alerts.of("STREAM_DRIFT", active=True))
            publisher.pause()
            await asyncio.sleep(3)
            publisher.resume()
            raised = (
                await eventually(
                    lambda: alerts.of("STREAM_DRIFT", active=True)[before:], timeout=60, what="drift alert"
                )
            )[0]
            assert raised["severity"] in ("WARNING", "CRITICAL")
            assert "stream drift" in raised["message"]
            cleared = await eventually(
                lambda: [a for a in alerts.of("STREAM_DRIFT", active=False) if a["id"] == raised["id"]],
                timeout=90, what="drift alert cleared after recovery",
            )  # fmt: skip
            assert len(alerts.of("STREAM_DRIFT", active=True)[before:]) == 1, "raised once, no flapping"
            assert cleared[0]["clearedAt"] is not None
            await eventually(
                lambda: [a for a in mine.of("STREAM_DRIFT", active=False) if a["id"] == raised["id"]],
                what="myStreamAlerts",
            )
            assert [a["id"] for a in mine.of("STREAM_DRIFT", active=True)][before:] == [raised["id"]]

            during = [s for s in await samples(sid) if s.sampled_at > paused_at]
            until_raise = [s for s in during if s.sampled_at <= datetime.fromisoformat(raised["raisedAt"])]
            assert [s.status.value for s in until_raise[-2:]] == ["POOR", "POOR"], "raised after 2 POOR samples"
            assert max(s.drift_ms or 0 for s in during) > 2000

            listed = (await gql_http(server.graphql_http, LISTED, {"id": sid, "active": False}, token))["streamAlerts"]
            assert raised["id"] in {a["id"] for a in listed}
            active = (await gql_http(server.graphql_http, LISTED, {"id": sid, "active": True}, token))["streamAlerts"]
            assert raised["id"] not in {a["id"] for a in active}
        finally:
            await alerts.close()
            await mine.close()
            await publisher.stop()


async def test_low_bitrate_raises_one_alert_until_the_stream_ends(settings: Settings, encoders: list[Encoder]) -> None:
    async with run_server(fast_health(settings)) as server:
        token = await server.token("alice")
        stream, publisher, alerts, mine = await publishing(
            server, token, encoders, seconds=120, bitrate="250k", cbr=True
        )
        sid = stream["id"]
        try:
            raised = (
                await eventually(lambda: alerts.of("LOW_VIDEO_BITRATE", active=True), timeout=60, what="bitrate alert")
            )[0]
            assert raised["severity"] == "WARNING"
            assert re.fullmatch(
                r"video bitrate \d{3} kbps is below 500 kbps: check your upload speed", raised["message"]
            ), raised
            raised_at = datetime.fromisoformat(raised["raisedAt"])
            upto = [s for s in await samples(sid) if s.sampled_at <= raised_at]
            assert len(upto) >= 2 and all(s.video_bitrate < 500_000 for s in upto[-2:]), "2 low samples before raising"

            count = len(await samples(sid))
            await eventually(lambda: _more(sid, count + 10), timeout=60, what="10 more samples")
            assert len(alerts.of("LOW_VIDEO_BITRATE")) == 1, "raised once and never cleared while it stays low"
            later = [s.video_bitrate for s in await samples(sid) if s.sampled_at > raised_at]
            assert len(later) >= 10 and all(b < 500_000 for b in later), later

            assert (await gql_http(server.graphql_http, END, {"id": sid}, token))["endStream"]["__typename"] == "Stream"
            await eventually(
                lambda: alerts.of("LOW_VIDEO_BITRATE", active=False), timeout=30, what="cleared at the end"
            )
            listed = (await gql_http(server.graphql_http, LISTED, {"id": sid, "active": True}, token))["streamAlerts"]
            assert listed == []
        finally:
            await alerts.close()
            await mine.close()
            await publisher.stop()


async def _after(rows: Any, start: Any, count: int) -> list[StreamQualityMetric]:
    fresh = [s for s in await rows if s.sampled_at >= start]
    return fresh[:count] if len(fresh) >= count else []


async def _more(stream_id: str, count: int) -> bool:
    return len(await samples(stream_id)) >= count


async def _calm(stream_id: str, alerts: Feed) -> bool:
    """The last 3 samples are EXCELLENT or GOOD and no drift alert is active."""
    last = (await samples(stream_id))[-3:]
    drift_open = {a["id"] for a in alerts.of("STREAM_DRIFT", active=True)} - {
        a["id"] for a in alerts.of("STREAM_DRIFT", active=False)
    }
    return len(last) == 3 and all(s.status.value in ("EXCELLENT", "GOOD") for s in last) and not drift_open
